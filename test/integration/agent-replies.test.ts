/**
 * The master's client for agents reads their replies with a cap and parses each with the schema
 * of what it answers: a real mTLS server on loopback plays an agent (its certificate issued by
 * the master's CA and pinned, exactly as for a real agent) that answers too much, too little or
 * something else. The real agent's replies are checked against the same schemas in
 * swarm-agent.test.ts.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { AgentCallError, AgentClient } from '../../src/swarm/agent-client';
import { SWARM_REPLY_MAX_BYTES } from '../../src/domain/swarm-schemas';
import { loadOrCreatePki, type SwarmPki } from '../../src/swarm/pki';

interface Reply {
  status: number;
  body: string | Buffer;
  /** Send without Content-Length (chunked), so only counting while reading finds the size. */
  chunked?: boolean;
}

let dir: string;
let pki: SwarmPki;
let server: https.Server;
let client: AgentClient;
const replies = new Map<string, Reply>();
/** How many bytes of each reply the server managed to write before the client hung up. */
const written = new Map<string, number>();

const job = (extra: Record<string, unknown> = {}) => ({
  job_id: 'j1',
  kind: 'deploy',
  status: 'succeeded',
  results: [{ decky: 'web1', ok: true }],
  notes: [],
  created_at: '2026-11-29T10:00:00.000Z',
  updated_at: '2026-11-29T10:00:05.000Z',
  result_acknowledged: true,
  ...extra,
});

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-agent-replies-'));
  pki = await loadOrCreatePki(path.join(dir, 'pki'));
  const agentCert = await pki.ca.issueCertificate({ commonName: 'fake-agent', sans: ['fake-agent'], usage: ['serverAuth', 'clientAuth'] });
  server = https.createServer(
    { key: agentCert.keyPem, cert: agentCert.certPem, ca: [pki.ca.certPem], requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const reply = replies.get(`${req.method} ${req.url}`) ?? { status: 404, body: '{"error":{"code":"not_found","message":"no job"}}' };
      const body = Buffer.from(reply.body);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.chunked ? {} : { 'content-length': body.length }) });
      // Written in 64 KiB pieces, counting what the socket took, so a client that stops reading shows.
      let offset = 0;
      const key = `${req.method} ${req.url}`;
      const pump = () => {
        while (offset < body.length) {
          const piece = body.subarray(offset, offset + 65536);
          offset += piece.length;
          written.set(key, offset);
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new AgentClient(
    pki,
    {
      uuid: '00000000-0000-4000-8000-000000000001',
      name: 'fake',
      address: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      fingerprint: agentCert.fingerprint,
    },
    10_000,
  );
});

afterAll(async () => {
  await client?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** The AgentCallError a call ends with (fails the test when it resolves). */
async function refusal(call: Promise<unknown>): Promise<AgentCallError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  if (!('err' in outcome)) throw new Error(`expected a refusal, got ${JSON.stringify(outcome.value).slice(0, 200)}`);
  expect(outcome.err).toBeInstanceOf(AgentCallError);
  return outcome.err as AgentCallError;
}

test('a reply of the schema is parsed (unknown keys dropped); 404 of a job is undefined', async () => {
  replies.set('GET /jobs/j1', { status: 200, body: JSON.stringify(job({ surprise: 'x' })) });
  expect(await client.job('j1')).toEqual(job());
  expect(await client.job('unknown')).toBeUndefined();
  replies.set('POST /deploy', { status: 202, body: JSON.stringify({ job_id: 'j1', kind: 'deploy', status: 'pending' }) });
  expect(await client.submitJob('deploy', { job_id: 'j1' })).toEqual({ job_id: 'j1', kind: 'deploy', status: 'pending' });
});

test('a reply that is not of its schema is refused, permanently, naming the field', async () => {
  replies.set('GET /jobs/j2', { status: 200, body: JSON.stringify(job({ job_id: 'j2', status: 'exploded' })) });
  const badStatus = await refusal(client.job('j2'));
  expect(badStatus.permanent).toBe(true);
  expect(badStatus.message).toMatch(
    /^agent "fake" at https:\/\/127\.0\.0\.1:\d+ answered GET \/jobs\/j2 with a reply that is not what the agent API promises \(status: /,
  );

  replies.set('GET /jobs/j3', { status: 200, body: JSON.stringify({ job_id: 'j3', results: 'all good' }) });
  expect((await refusal(client.job('j3'))).message).toMatch(/results: /);

  replies.set('POST /mutate', { status: 202, body: JSON.stringify({ accepted: true }) });
  expect((await refusal(client.submitJob('mutate', { job_id: 'j4' }))).message).toMatch(
    /answered POST \/mutate with a reply that is not what the agent API promises \(job_id: /,
  );

  replies.set('POST /teardown', { status: 202, body: '<html>hello</html>' });
  expect((await refusal(client.submitJob('teardown', { job_id: 'j5' }))).message).toMatch(
    /answered POST \/teardown with a reply that is not JSON: <html>hello<\/html>$/,
  );

  replies.set('POST /decommission', { status: 200, body: JSON.stringify({ host_uuid: 'not-a-uuid' }) });
  expect((await refusal(client.decommission({ host_uuid: '00000000-0000-4000-8000-000000000001' }))).permanent).toBe(true);
});

test(`a reply over ${SWARM_REPLY_MAX_BYTES} bytes is refused without being read, announced or not`, async () => {
  // Valid JSON of the schema, only too long: a job with a 16 MiB note (more than loopback socket buffers hold).
  const huge = JSON.stringify(job({ job_id: 'big', notes: ['x'.repeat(16 * SWARM_REPLY_MAX_BYTES)] }));
  for (const chunked of [false, true]) {
    const id = chunked ? 'big-chunked' : 'big';
    replies.set(`GET /jobs/${id}`, { status: 200, body: huge, chunked });
    const err = await refusal(client.job(id));
    expect([chunked, err.permanent]).toEqual([chunked, true]);
    expect(err.message).toMatch(new RegExp(`answered GET /jobs/${id} with a reply over the ${SWARM_REPLY_MAX_BYTES}-byte limit`));
    // The client hung up instead of taking the rest.
    expect(written.get(`GET /jobs/${id}`)!).toBeLessThan(huge.length);
  }
  // Just under the cap is fine.
  const fits = job({ job_id: 'fits', notes: [] });
  const room = SWARM_REPLY_MAX_BYTES - Buffer.byteLength(JSON.stringify(fits)) - 10;
  replies.set('GET /jobs/fits', { status: 200, body: JSON.stringify({ ...fits, notes: ['y'.repeat(room)] }) });
  expect((await client.job('fits'))!.notes[0]).toHaveLength(room);
});

test('an error status quotes at most 500 characters of a capped body and stays retryable for 5xx', async () => {
  replies.set('POST /deploy', { status: 500, body: 'z'.repeat(3 * SWARM_REPLY_MAX_BYTES), chunked: true });
  const err = await refusal(client.submitJob('deploy', { job_id: 'j6' }));
  expect(err.permanent).toBe(false);
  expect(err.message).toMatch(/answered 500 to POST \/deploy: /);
  expect(err.message.length).toBeLessThan(700);
});
