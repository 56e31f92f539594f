/** A small JSON client for the API under test (undici's fetch). */
import { fetch } from 'undici';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export function apiClient(base: string, token?: string) {
  const call = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, headers: res.headers as unknown as Headers, body: parsed as T };
  };
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', path, body, headers),
    put: <T = any>(path: string, body?: unknown) => call<T>('PUT', path, body),
    patch: <T = any>(path: string, body?: unknown) => call<T>('PATCH', path, body),
    delete: <T = any>(path: string) => call<T>('DELETE', path),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Poll the lifecycle rows until every one is terminal. */
export async function waitForTerminal(api: ApiClient, ids: string[], timeoutMs = 240_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.get(`/deckies/lifecycle?ids=${ids.join(',')}`);
    if (res.status !== 200) throw new Error(`lifecycle poll answered ${res.status}: ${JSON.stringify(res.body)}`);
    const rows = res.body.rows as any[];
    if (rows.length === ids.length && rows.every((r) => r.status === 'succeeded' || r.status === 'failed')) {
      return ids.map((id) => rows.find((r) => r.id === id));
    }
    if (Date.now() > deadline) throw new Error(`rows not terminal after ${timeoutMs} ms: ${JSON.stringify(rows.map((r) => [r.decky_name, r.status]))}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Polls `probe` every 100 ms until it yields a value (a throw counts as not yet); throws naming `what` after the timeout. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
