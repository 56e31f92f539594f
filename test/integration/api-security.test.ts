/**
 * The API's security bounds against a running master (issue 12 §3): bodies nested too deep and
 * deploys over the deployment limit refused before any work; API tokens listed without secrets,
 * revoked, their use recorded (throttled), DECNET_ADMIN_TOKEN long enough and replaced when it
 * changes; event streams capped per token and slow clients dropped; /docs keeping no token.
 * The master runs without a worker: nothing here needs Docker work.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { fetch } from 'undici';
import { chromium } from 'playwright-core';
import { ApiToken, DeckyLifecycle } from '../../src/entities';
import { startMaster } from '../../src/master';
import { openOrm } from '../../src/db/orm';
import { createDatabase } from '../../src/infra/embedded-postgres';
import { createLogger } from '../../src/logger';
import { createApiToken, LAST_USED_RESOLUTION_MS } from '../../src/operations/tokens';
import { SLOW_CLIENT_GRACE_MS } from '../../src/api/routes/events';
import { MAX_JSON_DEPTH } from '../../src/api/input-guards';
import { createTestStack, requireEnv, type TestStack } from '../support/master';
import { apiClient, type ApiClient } from '../support/http';
import { cliEnvFor, runDecnet } from '../support/process';

const MAX_STREAMS = 2;
const MAX_BUFFERED = 256 * 1024;

let stack: TestStack;
let api: ApiClient;
let origin: string;
let home: string;

beforeAll(async () => {
  stack = await createTestStack('apisec', 63, {
    DECNET_SSE_MAX_STREAMS_PER_TOKEN: String(MAX_STREAMS),
    DECNET_SSE_MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
  });
  await stack.startMaster({ runWorker: false });
  api = apiClient(stack.api, stack.adminToken);
  origin = new URL(stack.api).origin;
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-apisec-home-'));
});

afterAll(async () => {
  await stack?.cleanup();
  if (home) await fs.rm(home, { recursive: true, force: true });
});

const em = () => stack.master!.orm.em.fork();
const network = () => ({ subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent });

describe('input bounds before work', () => {
  test('a body of 100,000 nested arrays is 400 before authentication, and the API stays responsive', async () => {
    const body = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const headers of [{}, { authorization: 'Bearer not-a-token' }, { authorization: `Bearer ${stack.adminToken}` }]) {
      const res = await fetch(`${stack.api}/deckies/deploy`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
      const answer = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, answer.error.code]).toEqual([400, 'json_too_deep']);
      expect(answer.error.message).toBe(`the JSON body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
    }
    // Objects count too; a body at the bound is parsed and reaches the route's own validation.
    const objects = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
    expect((await api.post('/deckies/deploy', objects)).body.error.code).toBe('json_too_deep');
    const atBound = await api.put('/system/limits', '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH));
    expect([atBound.status, atBound.body.error.code]).toEqual([400, 'invalid_input']);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });

  test('a deploy asking alone for more deckies than the limit is 409 naming it (architecture.md §5), before anything is expanded or written', async () => {
    expect((await api.put('/system/limits', { deployment_limit: 10 })).status).toBe(200);
    const before = await em().count(DeckyLifecycle, {});
    const names = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `lim-${i}`, services: ['ssh'] }));
    const cases: [string, unknown, string][] = [
      ['11 deckies', { network: network(), deckies: names(11) }, 'the request asks for 11 deckies, over the deployment limit of 10'],
      [
        'amounts summing to 12',
        {
          network: network(),
          deckies: [
            { name: 'a', amount: 6 },
            { name: 'b', amount: 6 },
          ],
        },
        'the request asks for 12 deckies, over the deployment limit of 10',
      ],
      [
        'an INI of 11 decky sections',
        {
          ini_content: names(11)
            .map((d) => `[${d.name}]\n`)
            .join(''),
        },
        'the INI defines 11 deckies, over the deployment limit of 10',
      ],
      ['an INI whose amounts sum to 11', { ini_content: '[a]\namount=10\n[b]\n' }, 'the request asks for 11 deckies, over the deployment limit of 10'],
    ];
    for (const [label, body, message] of cases) {
      for (const query of ['', '?dry_run=true']) {
        const res = await api.post(`/deckies/deploy${query}`, body);
        expect([label, query, res.status, res.body.error?.code]).toEqual([label, query, 409, 'deployment_limit']);
        expect(res.body.error.message).toBe(`${message} (GET/PUT /api/v1/system/limits)`);
      }
    }
    // Longer than any limit can be: refused by the schema, naming the bound.
    const huge = await api.post('/deckies/deploy', { deckies: names(501) });
    expect([huge.status, huge.body.error.message]).toEqual([400, 'deckies: at most 500 deckies (the highest deployment limit)']);
    expect(await em().count(DeckyLifecycle, {})).toBe(before);
  });
});

describe('API tokens', () => {
  test('GET /tokens lists every token without its secret (admin only); `decnet token list` prints them', async () => {
    const viewerSecret = await createApiToken(em(), 'dashboard', 'viewer');
    const viewer = apiClient(stack.api, viewerSecret);
    expect((await viewer.get('/tokens')).status).toBe(403);
    expect((await apiClient(stack.api).get('/tokens')).status).toBe(401);

    const res = await api.get('/tokens');
    expect(res.status).toBe(200);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(viewerSecret);
    expect(text).not.toContain(stack.adminToken);
    const byName = new Map(res.body.tokens.map((t: { name: string }) => [t.name, t]));
    expect(byName.get('admin (DECNET_ADMIN_TOKEN)')).toEqual({
      id: expect.any(String),
      name: 'admin (DECNET_ADMIN_TOKEN)',
      role: 'admin',
      source: 'env',
      created_at: expect.any(String),
      last_used_at: expect.any(String),
      revoked_at: null,
    });
    expect(byName.get('dashboard')).toMatchObject({ role: 'viewer', source: 'cli', last_used_at: expect.any(String), revoked_at: null });

    const run = await runDecnet(['token', 'list'], cliEnvFor(stack, home));
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(run.stdout.split('\n')[0]).toMatch(/^ID\s+ROLE\s+NAME\s+SOURCE\s+CREATED\s+LAST USED\s+REVOKED$/);
    expect(run.stdout).toMatch(/admin\s+admin \(DECNET_ADMIN_TOKEN\)\s+env/);
    expect(run.stdout).toMatch(/viewer\s+dashboard\s+cli/);
    expect(run.stdout).not.toContain(viewerSecret);
    expect(run.stdout).not.toContain(stack.adminToken);
  });

  test('last_used_at is written on use, at most once a minute per token', async () => {
    const secret = await createApiToken(em(), 'throttled', 'viewer');
    const row = () => em().findOneOrFail(ApiToken, { name: 'throttled' });
    expect((await row()).lastUsedAt).toBeNull();
    const viewer = apiClient(stack.api, secret);
    expect((await viewer.get('/system/limits')).status).toBe(200);
    const first = (await row()).lastUsedAt;
    expect(first).toBeInstanceOf(Date);
    for (let i = 0; i < 5; i++) expect((await viewer.get('/system/limits')).status).toBe(200);
    expect((await row()).lastUsedAt).toEqual(first);
    // Older than the resolution: the next request writes it again.
    const old = new Date(Date.now() - LAST_USED_RESOLUTION_MS - 1_000);
    await em().nativeUpdate(ApiToken, { name: 'throttled' }, { lastUsedAt: old });
    expect((await viewer.get('/system/limits')).status).toBe(200);
    expect((await row()).lastUsedAt!.getTime()).toBeGreaterThan(Date.now() - 10_000);
  });

  test('DELETE /tokens/{id} revokes (401 from then on, still listed); `decnet token revoke`; the last admin token stays', async () => {
    const secret = await createApiToken(em(), 'to-revoke', 'viewer');
    const victim = apiClient(stack.api, secret);
    expect((await victim.get('/deckies')).status).toBe(200);
    const { id } = await em().findOneOrFail(ApiToken, { name: 'to-revoke' });

    const revoked = await api.delete(`/tokens/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id, name: 'to-revoke', revoked_at: expect.any(String) });
    const refused = await victim.get('/deckies');
    expect([refused.status, refused.body.error.message]).toEqual([401, 'invalid API token']);
    expect((await api.delete(`/tokens/${id}`)).body).toEqual(revoked.body);
    expect((await api.get('/tokens')).body.tokens.find((t: { id: string }) => t.id === id).revoked_at).toBe(revoked.body.revoked_at);

    for (const bad of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect((await api.delete(`/tokens/${bad}`)).status).toBe(404);
    }
    expect((await apiClient(stack.api, await createApiToken(em(), 'v2', 'viewer')).delete(`/tokens/${id}`)).status).toBe(403);

    // The CLI, by id.
    await createApiToken(em(), 'cli-victim', 'viewer');
    const cliVictim = await em().findOneOrFail(ApiToken, { name: 'cli-victim' });
    const run = await runDecnet(['token', 'revoke', cliVictim.id], cliEnvFor(stack, home));
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toMatch(new RegExp(`^revoked viewer token ${cliVictim.id} \\(cli-victim\\) at \\d{4}-`));
    expect((await em().findOneOrFail(ApiToken, { id: cliVictim.id })).revokedAt).toBeInstanceOf(Date);

    // The environment's admin token is the only admin one: revoking it would lock everyone out.
    const envToken = await em().findOneOrFail(ApiToken, { source: 'env' });
    const last = await api.delete(`/tokens/${envToken.id}`);
    expect([last.status, last.body.error.code]).toEqual([409, 'last_admin_token']);
    expect(last.body.error.message).toContain('last valid admin token');
    const cliLast = await runDecnet(['token', 'revoke', envToken.id], cliEnvFor(stack, home));
    expect([cliLast.code, cliLast.stderr]).toEqual([1, expect.stringContaining('last valid admin token')]);
    expect((await api.get('/tokens')).status).toBe(200);
  });

  test('a changed DECNET_ADMIN_TOKEN revokes the previous one at start; a revoked value refuses to start', async () => {
    const oldToken = stack.adminToken;
    const oldRow = await em().findOneOrFail(ApiToken, { source: 'env', revokedAt: null });
    const newToken = `decnet-test-admin-apisec-rotated-${Date.now()}`;
    await stack.stopMaster();
    const start = (adminToken: string) =>
      startMaster({
        config: { ...stack.config, adminToken },
        databaseUrl: stack.databaseUrl,
        temporalAddress: requireEnv('TEMPORAL_ADDRESS'),
        logger: createLogger('silent'),
        runWorker: false,
      });
    stack.master = await start(newToken);
    expect((await apiClient(stack.api, oldToken).get('/deckies')).status).toBe(401);
    const rotated = apiClient(stack.api, newToken);
    const tokens = (await rotated.get('/tokens')).body.tokens as { id: string; source: string; revoked_at: string | null }[];
    expect(tokens.filter((t) => t.source === 'env').map((t) => [t.id === oldRow.id, t.revoked_at === null])).toEqual([
      [true, false],
      [false, true],
    ]);
    // The same value again changes nothing.
    await stack.stopMaster();
    stack.master = await start(newToken);
    expect((await rotated.get('/deckies')).status).toBe(200);
    await stack.stopMaster();
    await expect(start(oldToken)).rejects.toThrow(new RegExp(`^DECNET_ADMIN_TOKEN was revoked on \\d{4}-[^ ]+ \\(token ${oldRow.id}\\); set a new value$`));
    stack.master = await start(newToken);
    stack.adminToken = newToken;
    api = rotated;
  });

  test('the migration gives the tokens of an existing database their source from the names the seeding gave them', async () => {
    const url = await createDatabase(requireEnv('TEST_DATABASE_ADMIN_URL'), `t_apisec_migration_${Date.now()}`);
    const orm = await openOrm(url);
    try {
      await orm.getMigrator().up({ to: 'Migration20261129010000CustomServices' });
      const insert = `insert into api_token (id, name, role, token_hash, created_at) values (gen_random_uuid(), ?, 'admin', md5(?), now())`;
      for (const name of ['admin (DECNET_ADMIN_TOKEN)', 'admin (first start)', 'ci']) await orm.em.getConnection().execute(insert, [name, name]);
      await orm.getMigrator().up();
      const rows = await orm.em.fork().find(ApiToken, {}, { orderBy: { name: 'asc' } });
      expect(rows.map((t) => [t.name, t.source, t.revokedAt])).toEqual([
        ['admin (DECNET_ADMIN_TOKEN)', 'env', null],
        ['admin (first start)', 'first_start', null],
        ['ci', 'cli', null],
      ]);
    } finally {
      await orm.close(true);
    }
  });

  test('a DECNET_ADMIN_TOKEN shorter than 24 characters: `decnet up` refuses to start, saying why', async () => {
    const run = await runDecnet(['up'], { ...stack.env, DECNET_ADMIN_TOKEN: 'short-token' }, 60_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('DECNET_ADMIN_TOKEN must be at least 24 characters (it has 11)');
  });
});

describe('event streams', () => {
  const openStream = (token: string, topic: string) => {
    const controller = new AbortController();
    return fetch(`${stack.api}/events?topic=${topic}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal }).then((res) => ({
      res,
      close: () => controller.abort(),
    }));
  };

  test(`at most ${MAX_STREAMS} streams per token: one more is 429; other tokens are counted apart; a closed one frees its place`, async () => {
    const streams = [await openStream(stack.adminToken, 'none.'), await openStream(stack.adminToken, 'none.')];
    expect(streams.map((s) => s.res.status)).toEqual([200, 200]);
    const over = await openStream(stack.adminToken, 'none.');
    const body = (await over.res.json()) as { error: { code: string; message: string } };
    expect([over.res.status, body.error.code]).toEqual([429, 'too_many_streams']);
    expect(body.error.message).toBe(
      `this API token has ${MAX_STREAMS} event streams open, the most it may (DECNET_SSE_MAX_STREAMS_PER_TOKEN); close one first`,
    );
    const other = await openStream(await createApiToken(em(), 'sse-other', 'viewer'), 'none.');
    expect(other.res.status).toBe(200);
    other.close();
    streams[0].close();
    await waitUntil(async () => {
      const again = await openStream(stack.adminToken, 'none.');
      if (again.res.status === 200) streams[0] = again;
      else await again.res.body?.cancel();
      return again.res.status === 200;
    }, 5_000);
    streams.forEach((s) => s.close());
  });

  test('a client that stops reading is dropped once its backlog stays over the bound', async () => {
    const token = await createApiToken(em(), 'sse-slow', 'viewer');
    // A raw connection that sends its request and then reads nothing.
    const socket = net.connect(stack.config.apiPort, '127.0.0.1');
    socket.on('error', () => undefined); // the server's reset of a dropped stream
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = 0;
    socket.on('data', (chunk) => (received += chunk.length));
    socket.write(`GET /api/v1/events?topic=slow. HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await waitUntil(async () => received > 0, 5_000);
    socket.pause();
    const blob = 'x'.repeat(64 * 1024);
    let published = 0;
    // Its place is taken until the server drops it: a second stream fits (cap 2), a third does not.
    const second = await openStream(token, 'none.');
    expect(second.res.status).toBe(200);
    await waitUntil(async () => {
      for (let i = 0; i < 16; i++, published++) stack.master!.bus.publish('slow.blob', { blob, i: published });
      const third = await openStream(token, 'none.');
      await third.res.body?.cancel();
      if (third.res.status === 200) third.close();
      return third.res.status === 200;
    }, SLOW_CLIENT_GRACE_MS + 20_000);
    const publishedBytes = published * blob.length;
    second.close();
    // Reading again, the client finds the end of a stream that carried only part of what was published.
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.resume();
    await ended;
    expect(received).toBeLessThan(publishedBytes);
  });
});

test('/docs keeps a pasted token only in the page: nothing in localStorage, gone after a reload', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/docs`);
    // What an earlier version of the page left behind is removed on load.
    await page.evaluate(`localStorage.setItem('authorized', '{"bearerAuth":{"value":"left-behind"}}')`);
    await page.reload();
    await page.locator('button.authorize').first().click();
    await page.locator('.modal-ux input[type=text], .modal-ux input[type=password]').first().fill(stack.adminToken);
    await page.locator('.modal-ux button.authorize').click();
    await page.locator('.modal-ux button.btn-done').click();
    // Authorized in the page: the lock shows it.
    await page.locator('button.authorize.locked').first().waitFor();
    const storage = await page.evaluate('JSON.stringify({ ...localStorage })');
    expect(storage).not.toContain(stack.adminToken);
    expect(storage).toBe('{}');
    await page.reload();
    await page.locator('button.authorize').first().waitFor();
    expect(await page.locator('button.authorize.locked').count()).toBe(0);
    expect(await page.evaluate('localStorage.length')).toBe(0);
  } finally {
    await browser.close();
  }
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
