/**
 * The API against unreachable dependencies: PostgreSQL and Temporal down mean 503 with
 * Retry-After, never a 500. Real clients aimed at loopback ports where nothing listens.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { MikroORM } from '@mikro-orm/postgresql';
import { createApp, temporalProbe } from '../../src/api/app';
import { Bus } from '../../src/bus/bus';
import { loadCatalogue } from '../../src/domain/catalog';
import { ormOptions } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { freePort } from '../support/master';
import { apiClient, type ApiClient } from '../support/http';

let server: http.Server;
let orm: MikroORM;
let connection: Connection;
let api: ApiClient;
let base: string;

beforeAll(async () => {
  const [pgPort, temporalPort] = [await freePort(), await freePort()];
  orm = await MikroORM.init({
    ...ormOptions(`postgres://postgres:password@127.0.0.1:${pgPort}/decnet`),
    connect: false,
    pool: { min: 0, max: 2, acquireTimeoutMillis: 3000 },
  });
  connection = Connection.lazy({ address: `127.0.0.1:${temporalPort}` });
  const logger = createLogger('silent');
  const app = createApp({
    operations: { orm, client: new Client({ connection }), taskQueue: 'none', catalogue: loadCatalogue({ registry: 'r', tag: 't' }), logger },
    bus: new Bus(),
    logger,
    role: 'master',
    ensureTemporalReachable: temporalProbe(connection),
  });
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  api = apiClient(base, 'some-token');
});

afterAll(async () => {
  server?.close();
  await orm?.close(true);
  await connection?.close().catch(() => undefined);
});

test('with PostgreSQL down, authenticated requests answer 503 with Retry-After', async () => {
  const res = await api.get('/deckies');
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('5');
  expect(res.body.error.code).toBe('unavailable');
});

test('readiness names both unreachable dependencies; liveness still answers', async () => {
  const ready = await api.get('/readyz');
  expect(ready.status).toBe(503);
  expect(ready.body.error.message).toContain('PostgreSQL and Temporal');
  expect((await api.get('/healthz')).status).toBe(200);
});

test('a request without a token is 401 whatever the dependencies do', async () => {
  const anonymous = apiClient(base);
  expect((await anonymous.get('/deckies')).status).toBe(401);
  expect((await anonymous.post('/deckies/deploy', { deckies: [] })).status).toBe(401);
});
