/** The API client: bearer token, JSON in and out, every refusal as an ApiError with the API's own code and message. */
import type { ErrorDetails } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    private readonly token: string,
    /** Called on any 401: the token was revoked or the master lost it. */
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network', 'The API did not answer: is the master running?');
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = text;
    }
    if (res.ok) return data as T;
    const error = (data as { error?: { code?: string; message?: string; details?: ErrorDetails } } | undefined)?.error;
    if (res.status === 401) this.onUnauthorized();
    let message = error?.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 503) message += ` (retry in ${res.headers.get('retry-after') ?? 'a few'} s)`;
    throw new ApiError(res.status, error?.code ?? `http_${res.status}`, message, error?.details);
  }
}

/** The message to show for any error a view catches. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** 404 with the API's generic "no route" answer: the master does not have this endpoint (yet). */
export function isMissingRoute(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404 && /^no route for /.test(err.message);
}
