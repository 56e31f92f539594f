/**
 * Swarm groundwork against an in-process master on real PostgreSQL: enrollment bundles (.sh until
 * expiry, .tgz exactly once, over HTTPS on the enrollment port; the printed command run by real
 * curl with the master's key pinned, and refused by it against an impostor), the hosts routes,
 * the master's mTLS swarm port with the heartbeat (real TLS handshakes on loopback with the
 * certificates from the unpacked bundle), the sweep that marks silent hosts unreachable, and the
 * `decnet enroll` / `decnet hosts` commands. No agent process runs here: the test plays the agent
 * with node's https client.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { parse as parseIni } from 'ini';
import { extract } from 'tar';
import { fetch } from 'undici';
import { Decky, EnrollmentToken, SwarmHost } from '../../src/entities';
import { CertificateAuthority, publicKeyPinOf } from '../../src/swarm/pki';
import { parseAgentIni } from '../../src/swarm/bundle';
import { hashEnrollmentToken } from '../../src/swarm/enrollment';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, type ApiClient } from '../support/http';
import { cliEnvFor, runDecnet, type DecnetRun } from '../support/process';
import { curlPinned, parseEnrollCommand } from '../support/agents';
import { DECNET_VERSION } from '../../src/domain/version';

const execFileAsync = promisify(execFile);
const HEARTBEAT_MS = 1000;

let stack: TestStack;
let api: ApiClient;
let dir: string;
let swarmUrl: URL;

beforeAll(async () => {
  stack = await createTestStack('swarm', 31, { DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) });
  // No Docker work happens here: an API-only master (the swarm port comes with the API).
  await stack.startMaster({ runWorker: false });
  api = apiClient(stack.api, stack.adminToken);
  swarmUrl = new URL(stack.master!.swarmUrl!);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-swarm-test-'));
});

afterAll(async () => {
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const em = () => stack.master!.orm.em.fork();

interface Bundle {
  dir: string;
  files: string[];
  ini: string;
  ca: string;
  cert: string;
  key: string;
  unit: string;
  modes: Record<string, number>;
}

async function enroll(name: string, extra: Record<string, unknown> = {}) {
  const res = await api.post('/swarm/enroll-bundle', { agent_name: name, master_host: '127.0.0.1', ...extra });
  expect([res.status, res.body]).toEqual([201, expect.anything()]);
  return res.body as { token: string; command: string; expires_at: string; host_uuid: string };
}

/** The download URLs of an enrollment on the enrollment port (HTTPS), no bearer token. */
const bundleUrl = (token: string, ext: 'sh' | 'tgz') => `${stack.master!.enrollUrl}/api/v1/swarm/enroll-bundle/${token}.${ext}`;

interface Download {
  status: number;
  type: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request over HTTPS, the master's certificate verified against its CA (the test's shortcut for curl's pin). */
function httpsRequest(url: string, method = 'GET'): Promise<Download> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: [stack.master!.pki.ca.certPem], agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const download = (token: string, ext: 'sh' | 'tgz') => httpsRequest(bundleUrl(token, ext));

/** The master's key as curl pins it. */
const masterPin = () => publicKeyPinOf(stack.master!.pki.master.certPem);

async function unpack(tgz: Buffer, name: string): Promise<Bundle> {
  const out = path.join(dir, name);
  await fs.mkdir(out, { recursive: true });
  await fs.writeFile(path.join(dir, `${name}.tgz`), tgz);
  await extract({ file: path.join(dir, `${name}.tgz`), cwd: out });
  const files = (await fs.readdir(out)).sort();
  const read = (f: string) => fs.readFile(path.join(out, f), 'utf8');
  const modes: Record<string, number> = {};
  for (const f of files) modes[f] = (await fs.stat(path.join(out, f))).mode & 0o777;
  return {
    dir: out,
    files,
    modes,
    ini: await read('decnet.ini'),
    ca: await read('ca.pem'),
    cert: await read('agent.pem'),
    key: await read('agent-key.pem'),
    unit: await read('decnet-agent.service'),
  };
}

/** Enroll and fetch the bundle: an agent's credentials. */
async function enrolledAgent(name: string, extra: Record<string, unknown> = {}) {
  const enrollment = await enroll(name, extra);
  const tgz = await download(enrollment.token, 'tgz');
  expect(tgz.status).toBe(200);
  return { enrollment, bundle: await unpack(tgz.body, name) };
}

interface TlsCredentials {
  key?: string;
  cert?: string;
  ca: string;
}

interface SwarmAnswer {
  status: number;
  body: any;
  /** SHA-256 of the DER of the certificate the master presented. */
  serverFingerprint: string;
}

/** One HTTPS request to the master's swarm port with the given client certificate (or none). */
function swarmRequest(creds: TlsCredentials, method: string, requestPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<SwarmAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: swarmUrl.hostname,
        port: Number(swarmUrl.port),
        method,
        path: requestPath,
        key: creds.key,
        cert: creds.cert,
        ca: [creds.ca],
        agent: false,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          const socket = res.socket as tls.TLSSocket;
          const raw = socket.getPeerCertificate?.()?.raw;
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* keep text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, serverFingerprint: raw ? createHash('sha256').update(raw).digest('hex') : '' });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

const heartbeat = (bundle: Bundle, hostUuid: string, extra: Record<string, unknown> = {}) =>
  swarmRequest({ key: bundle.key, cert: bundle.cert, ca: bundle.ca }, 'POST', '/api/v1/swarm/heartbeat', { host_uuid: hostUuid, ...extra });

async function hostView(uuid: string) {
  const res = await api.get('/swarm/hosts');
  expect(res.status).toBe(200);
  return (res.body.hosts as any[]).find((h) => h.uuid === uuid);
}

describe('enrollment', () => {
  let enrollment: { token: string; command: string; expires_at: string; host_uuid: string };

  test('POST enroll-bundle answers 201 and creates the host `enrolled` with its certificate fingerprint', async () => {
    const before = Date.now();
    enrollment = await enroll('agent-a', { use_ipvlan: true, agent_port: 9100 });
    expect(enrollment.host_uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(enrollment.token.length).toBeGreaterThanOrEqual(32);
    const expires = Date.parse(enrollment.expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 5 * 60_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 5 * 60_000 + 1000);
    // The command fetches the install script from the master host given, over HTTPS on the
    // enrollment port, with the master's public key pinned (curl checks the pin despite --insecure).
    expect(enrollment.command).toBe(
      `curl -fsS --insecure --pinnedpubkey '${masterPin()}' 'https://127.0.0.1:${stack.config.enrollPort}/api/v1/swarm/enroll-bundle/${enrollment.token}.sh' | sudo sh`,
    );

    const host = await hostView(enrollment.host_uuid);
    expect(host).toMatchObject({ name: 'agent-a', status: 'enrolled', address: null, agent_port: 9100, use_ipvlan: true, last_heartbeat: null, notes: null });
    expect(host.client_cert_fingerprint).toMatch(/^[0-9a-f]{64}$/);
    // Only a hash of the token is stored.
    const rows = await em().find(EnrollmentToken, { hostUuid: enrollment.host_uuid });
    expect(rows).toHaveLength(1);
    expect(rows[0].tokenHash).toBe(hashEnrollmentToken(enrollment.token));
    expect(rows[0].tokenHash).not.toContain(enrollment.token);
  });

  test('the .sh is served without a bearer token, as often as asked before expiry; it fetches the .tgz with the same pin', async () => {
    const { scriptUrl, pin } = parseEnrollCommand(enrollment.command);
    for (let i = 0; i < 2; i++) {
      const res = await download(enrollment.token, 'sh');
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/x-shellscript/);
      // Real curl, as the printed command runs it.
      const fetched = path.join(dir, `script-${i}.sh`);
      await curlPinned(scriptUrl, pin, fetched);
      const script = await fs.readFile(fetched, 'utf8');
      expect(script).toMatch(/^#!\/bin\/sh\n/);
      expect(script).toContain(`BUNDLE_URL='https://127.0.0.1:${stack.config.enrollPort}/api/v1/swarm/enroll-bundle/${enrollment.token}.tgz'`);
      expect(script).toContain(`MASTER_KEY_PIN='${masterPin()}'`);
      expect(script).toContain('curl -fsS --insecure --pinnedpubkey "$MASTER_KEY_PIN" -o "$tmp/bundle.tgz" "$BUNDLE_URL"');
      expect(script).toContain('/etc/decnet');
      expect(script).toContain('restart decnet-agent.service');
      const file = path.join(dir, 'install.sh');
      await fs.writeFile(file, script);
      await execFileAsync('sh', ['-n', file]);
    }
    const [row] = await em().find(EnrollmentToken, { hostUuid: enrollment.host_uuid });
    expect(row.scriptFetchCount).toBe(4);
    expect(row.bundleFetchedAt).toBeNull();
  });

  test('the .tgz holds decnet.ini, ca.pem, agent.pem, agent-key.pem and the systemd unit; the agent certificate chains to ca.pem', async () => {
    const res = await download(enrollment.token, 'tgz');
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/gzip');
    const bundle = await unpack(res.body, 'agent-a');
    expect(bundle.files).toEqual(['agent-key.pem', 'agent.pem', 'ca.pem', 'decnet-agent.service', 'decnet.ini']);
    expect(bundle.modes['agent-key.pem']).toBe(0o600);

    const ini = parseIni(bundle.ini);
    expect(ini.decnet).toEqual({ mode: 'agent', ipvlan: true });
    expect(ini.agent).toEqual({
      name: 'agent-a',
      'master-host': '127.0.0.1',
      'master-port': String(stack.config.swarmPort),
      'agent-port': '9100',
      'host-uuid': enrollment.host_uuid,
      'master-fingerprint': stack.master!.pki!.master.fingerprint,
      'ca-cert': 'ca.pem',
      cert: 'agent.pem',
      key: 'agent-key.pem',
    });
    expect(parseAgentIni(bundle.ini).agent['master-port']).toBe(stack.config.swarmPort);
    // The ini's file paths are relative to it and exist.
    for (const f of [ini.agent['ca-cert'], ini.agent.cert, ini.agent.key]) await fs.access(path.join(bundle.dir, f));

    const ca = new X509Certificate(bundle.ca);
    const cert = new X509Certificate(bundle.cert);
    expect(bundle.ca).toBe(stack.master!.pki!.ca.certPem);
    expect(ca.ca).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(bundle.key))).toBe(true);
    expect(cert.toLegacyObject().ext_key_usage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    for (const purpose of ['sslclient', 'sslserver']) {
      const { stdout } = await execFileAsync('openssl', [
        'verify',
        '-purpose',
        purpose,
        '-CAfile',
        path.join(bundle.dir, 'ca.pem'),
        path.join(bundle.dir, 'agent.pem'),
      ]);
      expect(stdout).toContain(': OK');
    }
    expect(bundle.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(bundle.unit).toContain('ExecStart=/usr/bin/node /usr/local/lib/decnet-agent/decnet-agent.cjs agent --config /etc/decnet/decnet.ini');
    expect(bundle.unit).toContain('WantedBy=multi-user.target');

    // The host now has the fetcher's address (loopback, the IPv4-mapped prefix stripped) and the
    // fingerprint of exactly this certificate; the stored key is gone.
    const host = await hostView(enrollment.host_uuid);
    expect(host.address).toBe('127.0.0.1');
    expect(host.client_cert_fingerprint).toBe(createHash('sha256').update(cert.raw).digest('hex'));
    const [row] = await em().find(EnrollmentToken, { hostUuid: enrollment.host_uuid });
    expect(row).toMatchObject({ fetchedByAddress: '127.0.0.1', keyPem: null });
    expect(row.bundleFetchedAt).toBeInstanceOf(Date);
  });

  test('a second .tgz fetch is 410 Gone; the .sh still answers until expiry', async () => {
    const again = await download(enrollment.token, 'tgz');
    expect(again.status).toBe(410);
    expect(JSON.parse(again.body.toString())).toMatchObject({ error: { code: 'gone', message: expect.stringMatching(/already downloaded/) } });
    expect((await download(enrollment.token, 'sh')).status).toBe(200);
  });

  test('an expired token: .sh and .tgz are 410; an unknown token is 404', async () => {
    const e = await enroll('agent-expired');
    await em().nativeUpdate(EnrollmentToken, { hostUuid: e.host_uuid }, { expiresAt: new Date(Date.now() - 1000) });
    for (const ext of ['sh', 'tgz'] as const) {
      const res = await download(e.token, ext);
      expect([ext, res.status, JSON.parse(res.body.toString()).error.code]).toEqual([ext, 410, 'gone']);
    }
    expect((await hostView(e.host_uuid)).address).toBeNull();
    for (const file of ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.sh', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.tgz', 'short.sh', `${e.token}.zip`]) {
      const res = await httpsRequest(`${stack.master!.enrollUrl}/api/v1/swarm/enroll-bundle/${file}`);
      expect([file, res.status]).toEqual([file, 404]);
      expect(JSON.parse(res.body.toString()).error.code).toBe('not_found');
    }
  });

  test("the install script runs end to end on a host without systemd: it downloads the agent and the bundle once, installs them and prints the command for the host's supervisor", async () => {
    if (process.getuid?.() !== 0) return; // it insists on root, as it will on an agent host
    const e = await enroll('agent-script');
    const script = (await download(e.token, 'sh')).body.toString();
    const target = path.join(dir, 'etc-decnet');
    const installDir = path.join(dir, 'lib-decnet-agent');
    const binLink = path.join(dir, 'bin', 'decnet-agent');
    const scriptFile = path.join(dir, 'install-run.sh');
    await fs.writeFile(scriptFile, script);
    // No DECNET_SYSTEMCTL, and systemd does not run these machines.
    const env = { PATH: process.env.PATH, DECNET_AGENT_DIR: target, DECNET_AGENT_INSTALL_DIR: installDir, DECNET_AGENT_BIN_LINK: binLink };
    const { stdout } = await execFileAsync('sh', [scriptFile], { env });
    expect(stdout).toContain(`decnet: agent "agent-script" ${DECNET_VERSION} installed`);
    expect(stdout).toContain('decnet: no systemd on this host (and DECNET_SYSTEMCTL is not set): the agent is not started.');
    // node by its absolute path (the supervisor's PATH may differ), the installed artefact, the ini.
    expect(stdout.split('\n')).toContain(
      `  ${(await execFileAsync('sh', ['-c', 'command -v node'], { env })).stdout.trim()} ${installDir}/decnet-agent.cjs agent --config ${target}/decnet.ini`,
    );
    expect((await fs.readdir(target)).sort()).toEqual(['agent-key.pem', 'agent.pem', 'ca.pem', 'decnet-agent.service', 'decnet.ini']);
    expect((await fs.stat(path.join(target, 'agent-key.pem'))).mode & 0o777).toBe(0o600);
    expect(parseIni(await fs.readFile(path.join(target, 'decnet.ini'), 'utf8')).agent['host-uuid']).toBe(e.host_uuid);
    expect(await fs.realpath(binLink)).toBe(path.join(installDir, 'decnet-agent.cjs'));
    const { stdout: checked } = await execFileAsync('sha256sum', ['-c', 'decnet-agent.cjs.sha256'], { cwd: installDir });
    expect(checked.trim()).toBe('decnet-agent.cjs: OK');
    // Running it again fails on the one-shot download, saying so.
    const second = await execFileAsync('sh', [scriptFile], { env }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('could not download the bundle');
  });

  test('refusals: 409 for a live name, 400 for bad input, 401 without a token; a decommissioned name enrolls again', async () => {
    const dup = await api.post('/swarm/enroll-bundle', { agent_name: 'agent-a', master_host: '127.0.0.1' });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'host_name_taken', message: expect.stringContaining('agent-a') });
    expect(dup.body.error.message).toContain('reinstall');
    // A reinstall is for a host that is enrolled: none by that name is 404.
    const noSuch = await api.post('/swarm/enroll-bundle', { agent_name: 'agent-none', master_host: '127.0.0.1', reinstall: true });
    expect([noSuch.status, noSuch.body.error?.message]).toEqual([404, expect.stringContaining('no enrolled host named "agent-none" to reinstall')]);

    for (const body of [
      { agent_name: 'Bad Name', master_host: '127.0.0.1' },
      { agent_name: 'ok', master_host: "x'; rm -rf / #" },
      { agent_name: 'ok', master_host: '127.0.0.1', agent_port: 70000 },
      { agent_name: 'ok', master_host: '127.0.0.1', surprise: true },
      { agent_name: 'ok' },
    ]) {
      const res = await api.post('/swarm/enroll-bundle', body);
      expect([body, res.status, res.body.error?.code]).toEqual([body, 400, 'invalid_input']);
    }
    const malformed = await api.post('/swarm/enroll-bundle', '{"agent_name":', {});
    expect(malformed.status).toBe(400);

    const anonymous = apiClient(stack.api);
    for (const [method, p] of [
      ['post', '/swarm/enroll-bundle'],
      ['get', '/swarm/hosts'],
    ] as const) {
      const res = method === 'post' ? await anonymous.post(p, { agent_name: 'x', master_host: 'm' }) : await anonymous.get(p);
      expect([p, res.status]).toEqual([p, 401]);
    }

    const old = await enroll('agent-reuse');
    expect((await api.delete(`/swarm/hosts/${old.host_uuid}`)).status).toBe(200);
    const again = await enroll('agent-reuse');
    expect(again.host_uuid).not.toBe(old.host_uuid);
    // A pending bundle of a decommissioned host is void.
    expect((await download(old.token, 'tgz')).status).toBe(410);
  });

  test('an enrollment whose bundle was never fetched before its token expired is replaced by a new one', async () => {
    const stale = await enroll('agent-stale');
    await em().nativeUpdate(EnrollmentToken, { hostUuid: stale.host_uuid }, { expiresAt: new Date(Date.now() - 1000) });
    const fresh = await enroll('agent-stale');
    expect(fresh.host_uuid).not.toBe(stale.host_uuid);
    expect(await hostView(stale.host_uuid)).toMatchObject({ status: 'decommissioned', notes: expect.stringMatching(/never fetched/) });
    expect((await hostView(fresh.host_uuid)).status).toBe('enrolled');
  });
});

describe('enrollment over HTTPS, the master key pinned', () => {
  /** The printed command without its `| sudo sh`: what fetches the script. */
  const fetchPart = (command: string) => command.replace(/ \| sudo sh$/, '');
  const sh = (script: string) =>
    execFileAsync('sh', ['-c', script]).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  test('the printed command, run by real curl, gets the script; an impostor with another key at that address gets nothing: the pin, not --insecure, refuses it', async () => {
    const e = await enroll('pin-a');
    const genuine = await sh(fetchPart(e.command));
    expect([genuine.code, genuine.stderr]).toEqual([0, '']);
    expect(genuine.stdout).toMatch(/^#!\/bin\/sh\n# decnet agent enrollment for host "pin-a"/);

    // A TLS server with a certificate for the same names from another CA, serving its own script.
    const impostorCa = await CertificateAuthority.loadOrCreate(path.join(dir, 'impostor-ca'));
    const forged = await impostorCa.issueCertificate({ commonName: 'decnet-master', sans: ['127.0.0.1', 'localhost'], usage: ['serverAuth'] });
    const impostor = https.createServer({ key: forged.keyPem, cert: forged.certPem }, (_req, res) => res.end('#!/bin/sh\necho owned\n'));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const port = (impostor.address() as { port: number }).port;
      const redirected = fetchPart(e.command).replace(`:${stack.config.enrollPort}/`, `:${port}/`);
      expect(redirected).not.toBe(fetchPart(e.command));
      const refused = await sh(redirected);
      // 90: CURLE_SSL_PINNEDPUBKEYNOTMATCH; nothing reaches the pipe.
      expect([refused.code, refused.stdout]).toEqual([90, '']);
      expect(refused.stderr).toMatch(/pinned public key/i);
      // The same command without the pin would have run the impostor's script.
      const unpinned = await sh(redirected.replace(/ --pinnedpubkey '[^']+'/, ''));
      expect([unpinned.code, unpinned.stdout]).toEqual([0, '#!/bin/sh\necho owned\n']);
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
    // The token was not spent by any of this: the bundle still downloads, with the pin.
    const { bundleUrl: tgzUrl, pin } = parseEnrollCommand(e.command);
    await curlPinned(tgzUrl, pin, path.join(dir, 'pin-a.tgz'));
    expect((await fs.readFile(path.join(dir, 'pin-a.tgz'))).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  });

  test('the API port serves no download over plain HTTP (an explicit opt-in); the token stays usable over HTTPS', async () => {
    const e = await enroll('plain-off');
    for (const ext of ['sh', 'tgz'] as const) {
      // Without a bearer it is an operators' route like any other (401); with one, there is none.
      const anonymous = await fetch(`${stack.api}/swarm/enroll-bundle/${e.token}.${ext}`);
      expect([ext, anonymous.status]).toEqual([ext, 401]);
      const res = await api.get(`/swarm/enroll-bundle/${e.token}.${ext}`);
      expect([ext, res.status, res.body.error?.code]).toEqual([ext, 404, 'not_found']);
    }
    expect((await download(e.token, 'tgz')).status).toBe(200);
  });

  test('HEAD is 405 with Allow: GET and does not spend the one-shot bundle; other methods are 405 too', async () => {
    const e = await enroll('head-a');
    for (const ext of ['tgz', 'sh'] as const) {
      const head = await httpsRequest(bundleUrl(e.token, ext), 'HEAD');
      expect([ext, head.status, head.headers.allow]).toEqual([ext, 405, 'GET']);
    }
    const post = await httpsRequest(bundleUrl(e.token, 'tgz'), 'POST');
    expect([post.status, post.headers.allow, JSON.parse(post.body.toString()).error.code]).toEqual([405, 'GET', 'method_not_allowed']);
    const [row] = await em().find(EnrollmentToken, { hostUuid: e.host_uuid });
    expect([row.bundleFetchedAt, row.keyPem === null]).toEqual([null, false]);
    const tgz = await download(e.token, 'tgz');
    expect([tgz.status, tgz.type]).toEqual([200, 'application/gzip']);
    expect((await unpack(tgz.body, 'head-a')).files).toContain('agent-key.pem');
  });

  test('a downloaded bundle does not make a host live: it stays `enrolled` (unihost) until its first heartbeat over mTLS', async () => {
    const { enrollment, bundle } = await enrolledAgent('live-a');
    expect(await hostView(enrollment.host_uuid)).toMatchObject({ status: 'enrolled', address: '127.0.0.1', last_heartbeat: null });
    expect((await api.get('/system/deployment-mode')).body).toMatchObject({ mode: 'unihost', swarm_host_count: 0 });

    expect((await heartbeat(bundle, enrollment.host_uuid)).status).toBe(200);
    expect((await hostView(enrollment.host_uuid)).status).toBe('active');
    expect((await api.get('/system/deployment-mode')).body).toMatchObject({ mode: 'swarm', swarm_host_count: 1 });
    // Decommissioned again, so the later tests count their own hosts.
    expect((await api.delete(`/swarm/hosts/${enrollment.host_uuid}`)).status).toBe(200);
  });
});

describe('hosts', () => {
  test('GET lists the hosts; PATCH use_ipvlan and notes are persisted; 404 for unknown hosts, 400 for bad bodies', async () => {
    const e = await enroll('agent-patch');
    const patched = await api.patch(`/swarm/hosts/${e.host_uuid}`, { use_ipvlan: true, notes: 'rack 3' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ uuid: e.host_uuid, use_ipvlan: true, notes: 'rack 3' });
    expect(await hostView(e.host_uuid)).toMatchObject({ use_ipvlan: true, notes: 'rack 3', status: 'enrolled' });
    const row = await em().findOneOrFail(SwarmHost, { uuid: e.host_uuid });
    expect([row.useIpvlan, row.notes]).toEqual([true, 'rack 3']);

    expect((await api.patch(`/swarm/hosts/${e.host_uuid}`, { use_ipvlan: false })).body).toMatchObject({ use_ipvlan: false, notes: 'rack 3' });
    expect((await api.patch(`/swarm/hosts/${e.host_uuid}`, { notes: null })).body).toMatchObject({ use_ipvlan: false, notes: null });
    expect(await hostView(e.host_uuid)).toMatchObject({ use_ipvlan: false, notes: null });

    for (const body of [{}, { use_ipvlan: 'yes' }, { name: 'renamed' }]) {
      const res = await api.patch(`/swarm/hosts/${e.host_uuid}`, body);
      expect([body, res.status]).toEqual([body, 400]);
    }
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect((await api.patch(`/swarm/hosts/${unknown}`, { notes: 'x' })).status).toBe(404);
    expect((await api.patch('/swarm/hosts/not-a-uuid', { notes: 'x' })).status).toBe(404);
    expect((await api.delete(`/swarm/hosts/${unknown}`)).status).toBe(404);
    expect((await api.delete('/swarm/hosts/not-a-uuid')).body.error.code).toBe('not_found');

    const all = (await api.get('/swarm/hosts')).body.hosts as any[];
    expect(all.map((h) => h.name)).toEqual(expect.arrayContaining(['agent-a', 'agent-patch']));
    expect(Object.keys(all[0]).sort()).toEqual([
      'address',
      'agent_outdated',
      'agent_port',
      'agent_version',
      'client_cert_fingerprint',
      'enrolled_at',
      'last_heartbeat',
      'name',
      'network_drivers',
      'notes',
      'status',
      'use_ipvlan',
      'uuid',
    ]);
    // Never heartbeated: no version, nothing to flag yet.
    expect(all.find((h) => h.name === 'agent-patch')).toMatchObject({ agent_version: null, agent_outdated: null });
  });

  test('DELETE decommissions: its deckies keep their host uuid (orphans) and the host no longer counts for the deployment mode', async () => {
    const e = await enroll('agent-gone');
    const decky = em();
    decky.create(Decky, {
      name: 'orphan-1',
      ip: stack.lan.ip(77),
      services: ['ssh'],
      distro: 'debian',
      baseImage: 'decnet/base:latest',
      hostname: 'orphan-1',
      nmapOs: 'linux',
      serviceConfig: {},
      hostUuid: e.host_uuid,
      state: 'running',
      mutateEnabled: true,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    await decky.flush();

    const res = await api.delete(`/swarm/hosts/${e.host_uuid}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ uuid: e.host_uuid, status: 'decommissioned' });
    expect((await api.delete(`/swarm/hosts/${e.host_uuid}`)).body.status).toBe('decommissioned');
    expect((await hostView(e.host_uuid)).status).toBe('decommissioned');
    expect((await em().findOneOrFail(Decky, { name: 'orphan-1' })).hostUuid).toBe(e.host_uuid);
    await em().nativeDelete(Decky, { name: 'orphan-1' });

    // Only live hosts (active since a heartbeat, with an address) count; a decommissioned one never does.
    const live = ((await api.get('/swarm/hosts')).body.hosts as any[]).filter((h) => h.status === 'active' && h.address);
    expect(live.map((h) => h.uuid)).not.toContain(e.host_uuid);
    const mode = await api.get('/system/deployment-mode');
    expect(mode.body).toMatchObject({ mode: live.length ? 'swarm' : 'unihost', swarm_host_count: live.length });
  });
});

describe('the swarm port', () => {
  let a: { enrollment: { host_uuid: string }; bundle: Bundle };
  let b: { enrollment: { host_uuid: string }; bundle: Bundle };

  beforeAll(async () => {
    a = await enrolledAgent('port-a');
    b = await enrolledAgent('port-b');
  });

  test('listens on the configured loopback address, TLS only', async () => {
    expect(swarmUrl.protocol).toBe('https:');
    expect(swarmUrl.hostname).toBe('127.0.0.1');
    expect(Number(swarmUrl.port)).toBe(stack.config.swarmPort);
    await expect(fetch(`http://127.0.0.1:${stack.config.swarmPort}/api/v1/swarm/heartbeat`, { method: 'POST' })).rejects.toThrow();
  });

  test("a heartbeat with the host's certificate answers 200 {ack: true} and makes the host active; the master's certificate is the pinned one", async () => {
    const before = Date.now();
    const res = await heartbeat(a.bundle, a.enrollment.host_uuid, {
      status: { deckies: [{ name: 'x', running: true }], version: '0.1.0' },
      results: [{ job_id: 'job-1', lifecycle_id: '00000000-0000-4000-8000-000000000001', ok: false, error: 'MissingImage: decnet/ssh:latest' }],
    });
    expect([res.status, res.body]).toEqual([200, { ack: true }]);
    expect(res.serverFingerprint).toBe(parseIni(a.bundle.ini).agent['master-fingerprint']);
    const host = await hostView(a.enrollment.host_uuid);
    expect(host.status).toBe('active');
    expect(Date.parse(host.last_heartbeat)).toBeGreaterThanOrEqual(before - 1000);
    expect(host.address).toBe('127.0.0.1');
    // A live host puts the master in swarm mode.
    expect((await api.get('/system/deployment-mode')).body).toMatchObject({ mode: 'swarm', message: expect.stringMatching(/^will shard across \d+ hosts?$/) });
  });

  test("the heartbeat's agent_version is recorded on the host; an agent older than the master is flagged; a version that is not semver is 400", async () => {
    const seen: Array<[string | undefined, unknown, unknown]> = [];
    for (const version of [undefined, '0.0.1', DECNET_VERSION, '99.0.0']) {
      const res = await heartbeat(a.bundle, a.enrollment.host_uuid, version === undefined ? {} : { agent_version: version });
      expect(res.status).toBe(200);
      const host = await hostView(a.enrollment.host_uuid);
      seen.push([version, host.agent_version, host.agent_outdated]);
    }
    expect(seen).toEqual([
      // Heartbeats without a version come from agents that predate version reporting.
      [undefined, null, true],
      ['0.0.1', '0.0.1', true],
      [DECNET_VERSION, DECNET_VERSION, false],
      ['99.0.0', '99.0.0', false],
    ]);
    const bad = await heartbeat(a.bundle, a.enrollment.host_uuid, { agent_version: 'latest' });
    expect([bad.status, bad.body.error?.message]).toEqual([400, expect.stringMatching(/agent_version: must be a semantic version/)]);
    expect((await api.get('/swarm/hosts')).body.master_version).toBe(DECNET_VERSION);
  });

  test('a body that is not a heartbeat is 400; an unknown host is 404', async () => {
    const bad = await swarmRequest({ key: a.bundle.key, cert: a.bundle.cert, ca: a.bundle.ca }, 'POST', '/api/v1/swarm/heartbeat', { host_uuid: 'nope' });
    expect([bad.status, bad.body.error?.code]).toEqual([400, 'invalid_input']);
    const badResult = await heartbeat(a.bundle, a.enrollment.host_uuid, { results: [{ job_id: 'j', lifecycle_id: 'not-a-uuid', ok: true }] });
    expect(badResult.status).toBe(400);
    const unknown = await heartbeat(a.bundle, '00000000-0000-4000-8000-00000000beef');
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'not_found']);
  });

  test("the agent's network_drivers land on the host row and stay until it reports others; an unknown driver is 400", async () => {
    const reported = await heartbeat(a.bundle, a.enrollment.host_uuid, { status: { deckies: [], network_drivers: ['macvlan'] } });
    expect(reported.status).toBe(200);
    expect(await hostView(a.enrollment.host_uuid)).toMatchObject({ network_drivers: ['macvlan'] });
    expect((await heartbeat(a.bundle, a.enrollment.host_uuid)).status).toBe(200);
    expect(await hostView(a.enrollment.host_uuid)).toMatchObject({ network_drivers: ['macvlan'] });
    const unknown = await heartbeat(a.bundle, a.enrollment.host_uuid, { status: { network_drivers: ['vxlan'] } });
    expect([unknown.status, unknown.body.error?.code]).toEqual([400, 'invalid_input']);
    expect(await hostView(a.enrollment.host_uuid)).toMatchObject({ network_drivers: ['macvlan'] });
  });

  test("another host's certificate is 403 (fingerprint mismatch) and changes nothing", async () => {
    const before = await hostView(b.enrollment.host_uuid);
    const res = await heartbeat(a.bundle, b.enrollment.host_uuid);
    expect([res.status, res.body.error?.code]).toEqual([403, 'certificate_mismatch']);
    expect(await hostView(b.enrollment.host_uuid)).toEqual(before);
  });

  test('a certificate from another CA, or none, is refused in the TLS handshake', async () => {
    const foreignCa = await CertificateAuthority.loadOrCreate(path.join(dir, 'foreign-ca'));
    const foreign = await foreignCa.issueCertificate({ commonName: 'port-a', usage: ['clientAuth'] });
    // The same subject, the right host uuid: only the signature differs.
    await expect(
      swarmRequest({ key: foreign.keyPem, cert: foreign.certPem, ca: a.bundle.ca }, 'POST', '/api/v1/swarm/heartbeat', { host_uuid: a.enrollment.host_uuid }),
    ).rejects.toThrow();
    await expect(swarmRequest({ ca: a.bundle.ca }, 'POST', '/api/v1/swarm/heartbeat', { host_uuid: a.enrollment.host_uuid })).rejects.toThrow();
  });

  test("only the heartbeat is served on the swarm port; the heartbeat is not served on the operators' port", async () => {
    const creds = { key: a.bundle.key, cert: a.bundle.cert, ca: a.bundle.ca };
    const bearer = { authorization: `Bearer ${stack.adminToken}` };
    for (const [method, p] of [
      ['GET', '/api/v1/deckies'],
      ['GET', '/api/v1/swarm/hosts'],
      ['POST', '/api/v1/swarm/enroll-bundle'],
      ['GET', '/healthz'],
      ['GET', '/openapi.json'],
      ['GET', '/api/v1/swarm/heartbeat'],
    ] as const) {
      const res = await swarmRequest(creds, method, p, method === 'POST' ? { agent_name: 'x', master_host: 'm' } : undefined, bearer);
      expect([method, p, res.status]).toEqual([method, p, 404]);
    }
    const onApi = await api.post('/swarm/heartbeat', { host_uuid: a.enrollment.host_uuid });
    expect(onApi.status).toBe(404);
  });

  test('a host silent for 3 heartbeat intervals becomes unreachable; its next heartbeat makes it active again', async () => {
    expect((await heartbeat(b.bundle, b.enrollment.host_uuid)).status).toBe(200);
    const beat = Date.now();
    expect((await hostView(b.enrollment.host_uuid)).status).toBe('active');
    let status = 'active';
    while (status === 'active' && Date.now() - beat < 15 * HEARTBEAT_MS) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await hostView(b.enrollment.host_uuid)).status;
    }
    const silentFor = Date.now() - beat;
    expect(status).toBe('unreachable');
    expect(silentFor).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS);
    expect((await heartbeat(b.bundle, b.enrollment.host_uuid)).status).toBe(200);
    expect((await hostView(b.enrollment.host_uuid)).status).toBe('active');
  });

  test("a decommissioned host's certificate is 403 and its host stays decommissioned", async () => {
    expect((await api.delete(`/swarm/hosts/${a.enrollment.host_uuid}`)).status).toBe(200);
    const res = await heartbeat(a.bundle, a.enrollment.host_uuid);
    expect([res.status, res.body.error?.code]).toEqual([403, 'host_decommissioned']);
    expect((await hostView(a.enrollment.host_uuid)).status).toBe('decommissioned');
  });
});

describe('CLI', () => {
  let home: string;

  beforeAll(async () => {
    home = path.join(dir, 'home');
    await fs.mkdir(home, { recursive: true });
  });

  const cliEnv = (overrides: NodeJS.ProcessEnv = {}) => cliEnvFor(stack, home, overrides);
  const cli = (args: string[], overrides?: NodeJS.ProcessEnv) => runDecnet(args, cliEnv(overrides));
  const explain = (run: DecnetRun) => `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

  test('decnet enroll prints the command and its expiry; --ipvlan, --agent-port and --master-host reach the API', async () => {
    const run = await cli(['enroll', 'cli-a', '--ipvlan', '--agent-port', '9200', '--master-host', 'master.test']);
    expect({ code: run.code, out: explain(run) }).toEqual({ code: 0, out: expect.any(String) });
    const command =
      /^ {2}(curl -fsS --insecure --pinnedpubkey '([^']+)' '(https:\/\/master\.test:\d+\/api\/v1\/swarm\/enroll-bundle\/([A-Za-z0-9_-]+)\.sh)' \| sudo sh)$/m.exec(
        run.stdout,
      );
    expect(command).not.toBeNull();
    expect(command![2]).toBe(masterPin());
    expect(command![3]).toContain(`:${stack.config.enrollPort}/`);
    expect(run.stdout).toMatch(/enrolled host "cli-a" \([0-9a-f-]{36}\)/);
    expect(run.stdout).toMatch(/before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
    const host = ((await api.get('/swarm/hosts')).body.hosts as any[]).find((h) => h.name === 'cli-a');
    expect(host).toMatchObject({ use_ipvlan: true, agent_port: 9200, status: 'enrolled' });
    // The token in the command is a working one: its script names master.test.
    const script = await download(command![4], 'sh');
    expect(script.status).toBe(200);
    expect(script.body.toString()).toContain(`BUNDLE_URL='https://master.test:${stack.config.enrollPort}/api/v1/swarm/enroll-bundle/${command![4]}.tgz'`);
  });

  test('decnet enroll --json prints the API answer; the master host defaults to the API URL host', async () => {
    const run = await cli(['enroll', 'cli-b', '--json']);
    expect({ code: run.code, out: explain(run) }).toEqual({ code: 0, out: expect.any(String) });
    const answer = JSON.parse(run.stdout);
    expect(Object.keys(answer).sort()).toEqual(['command', 'expires_at', 'host_uuid', 'token']);
    expect(parseEnrollCommand(answer.command).scriptUrl).toBe(`https://127.0.0.1:${stack.config.enrollPort}/api/v1/swarm/enroll-bundle/${answer.token}.sh`);
    expect(run.stderr).toMatch(/--master-host/);
  });

  test('decnet enroll refusals: a taken name exits 1 with the API message, a bad port exits 2', async () => {
    const dup = await cli(['enroll', 'cli-a', '--master-host', 'm']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/a host named "cli-a" is already enrolled/);
    const badPort = await cli(['enroll', 'cli-c', '--agent-port', 'http']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/--agent-port must be a port number/);
    const badName = await cli(['enroll', 'Not_A_Name', '--master-host', 'm']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/agent_name/);
  });

  test('decnet hosts prints a table, --json the hosts', async () => {
    const run = await cli(['hosts']);
    expect({ code: run.code, out: explain(run) }).toEqual({ code: 0, out: expect.any(String) });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+ADDRESS\s+AGENT PORT\s+IPVLAN\s+DRIVERS\s+LAST HEARTBEAT\s+AGENT VERSION\s+UUID$/);
    expect(run.stdout).toMatch(/^cli-a\s+enrolled\s+-\s+9200\s+yes\s+-\s+-\s+-\s+[0-9a-f-]{36}$/m);
    // Its heartbeats (this test's, by hand) name no version: an agent older than version reporting.
    expect(run.stdout).toMatch(/^port-b\s+(active|unreachable)\s+127\.0\.0\.1\s+8765\s+no\s+-\s+\d{4}-\S+Z\s+unknown \(outdated\)\s+[0-9a-f-]{36}$/m);
    expect(run.stdout).toMatch(new RegExp(`^\\d+ agent\\(s\\) older than this master \\(${DECNET_VERSION.replace(/\./g, '\\.')}\\)$`, 'm'));
    expect(run.stdout).toMatch(/^port-a\s+decommissioned\s/m);

    const json = await cli(['hosts', '--json']);
    expect(json.code).toBe(0);
    const { hosts, master_version } = JSON.parse(json.stdout);
    expect(master_version).toBe(DECNET_VERSION);
    expect(hosts.find((h: any) => h.name === 'cli-a')).toMatchObject({ use_ipvlan: true, agent_port: 9200 });
  });
});

describe('DECNET_ENROLL_PLAIN_HTTP=1', () => {
  beforeAll(async () => {
    await stack.stopMaster();
    await stack.startMaster({ runWorker: false, config: { ...stack.config, enrollPlainHttp: true } });
  });

  afterAll(async () => {
    await stack.stopMaster();
    await stack.startMaster({ runWorker: false });
  });

  test('the command and script use plain HTTP on the API port (no pin); HTTPS still serves; HEAD is still 405', async () => {
    const e = await enroll('plain-on');
    expect(e.command).toBe(`curl -fsS 'http://127.0.0.1:${stack.config.apiPort}/api/v1/swarm/enroll-bundle/${e.token}.sh' | sudo sh`);
    const script = await fetch(`${stack.api}/swarm/enroll-bundle/${e.token}.sh`);
    expect(script.status).toBe(200);
    const text = await script.text();
    expect(text).toContain(`BUNDLE_URL='http://127.0.0.1:${stack.config.apiPort}/api/v1/swarm/enroll-bundle/${e.token}.tgz'`);
    expect(text).toContain('curl -fsS -o "$tmp/bundle.tgz" "$BUNDLE_URL"');
    expect(text).not.toContain('--insecure');
    // Fetched over HTTPS, the same script pins the key.
    expect((await download(e.token, 'sh')).body.toString()).toContain(`MASTER_KEY_PIN='${masterPin()}'`);
    const head = await fetch(`${stack.api}/swarm/enroll-bundle/${e.token}.tgz`, { method: 'HEAD' });
    expect([head.status, head.headers.get('allow')]).toEqual([405, 'GET']);
    const tgz = await fetch(`${stack.api}/swarm/enroll-bundle/${e.token}.tgz`);
    expect([tgz.status, tgz.headers.get('content-type')]).toEqual([200, 'application/gzip']);
  });
});
