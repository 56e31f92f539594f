/**
 * The swarm PKI: a CA created once under a data directory, certificates it issues (checked by
 * node's own X.509 code, by openssl and by a real mutual-TLS handshake on loopback), fingerprints,
 * and the enrollment bundle's files.
 */
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { extract } from 'tar';
import { CA_FILES, CertificateAuthority, MASTER_FILES, fingerprintOf, loadOrCreatePki, publicKeyPinOf } from '../../src/swarm/pki';
import { BUNDLE_FILES, installCommand, packBundle, parseAgentIni, renderAgentIni, renderInstallScript, renderSystemdUnit } from '../../src/swarm/bundle';
import { clientAddress } from '../../src/swarm/enrollment';
import { BundleFileSchema, EnrollBundleRequestSchema, HeartbeatRequestSchema, SwarmHostPatchSchema } from '../../src/domain/swarm-schemas';

const execFileAsync = promisify(execFile);
let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-pki-test-'));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const mode = async (file: string) => (await fs.stat(file)).mode & 0o777;

describe('CA', () => {
  test('first start creates the CA and the master certificate, keys as PKCS#8 PEM with 0600', async () => {
    const pkiDir = path.join(dir, 'pki');
    const pki = await loadOrCreatePki(pkiDir);
    expect(await mode(pkiDir)).toBe(0o700);
    for (const key of [CA_FILES.key, MASTER_FILES.key]) {
      const text = await fs.readFile(path.join(pkiDir, key), 'utf8');
      expect(text).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(await mode(path.join(pkiDir, key))).toBe(0o600);
    }
    const ca = new X509Certificate(pki.ca.certPem);
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.publicKey.asymmetricKeyType).toBe('ec');
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    // No temporary files are left behind.
    expect((await fs.readdir(pkiDir)).sort()).toEqual([CA_FILES.cert, CA_FILES.key, MASTER_FILES.cert, MASTER_FILES.key].sort());

    const master = new X509Certificate(pki.master.certPem);
    expect(master.checkIssued(ca)).toBe(true);
    expect(master.verify(ca.publicKey)).toBe(true);
    expect(master.toLegacyObject().ext_key_usage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(master.subjectAltName).toContain('IP Address:127.0.0.1');
  });

  test('loading again is idempotent: same CA, same master certificate, files untouched', async () => {
    const first = await loadOrCreatePki(dir, { masterSans: ['master.example'] });
    const stats = await Promise.all(Object.values({ ...CA_FILES, m: MASTER_FILES.cert, k: MASTER_FILES.key }).map((f) => fs.stat(path.join(dir, f))));
    const second = await loadOrCreatePki(dir);
    expect(second.ca.certPem).toBe(first.ca.certPem);
    expect(second.ca.fingerprint).toBe(first.ca.fingerprint);
    expect(second.master.fingerprint).toBe(first.master.fingerprint);
    expect(second.master.keyPem).toBe(first.master.keyPem);
    const again = await Promise.all(Object.values({ ...CA_FILES, m: MASTER_FILES.cert, k: MASTER_FILES.key }).map((f) => fs.stat(path.join(dir, f))));
    expect(again.map((s) => s.mtimeMs)).toEqual(stats.map((s) => s.mtimeMs));
    // The reloaded CA signs certificates that the first one's certificate verifies.
    const issued = await second.ca.issueCertificate({ commonName: 'agent-x', usage: ['clientAuth'] });
    expect(await first.ca.verifies(issued.certPem)).toBe(true);
  });

  test('concurrent first starts agree on one CA', async () => {
    const all = await Promise.all([1, 2, 3, 4].map(() => CertificateAuthority.loadOrCreate(dir)));
    expect(new Set(all.map((ca) => ca.fingerprint)).size).toBe(1);
    expect(new Set(all.map((ca) => ca.certPem)).size).toBe(1);
  });

  test('a master certificate from another CA is issued again; a key that does not match is refused', async () => {
    const first = await loadOrCreatePki(dir);
    await fs.rm(path.join(dir, CA_FILES.cert));
    await fs.rm(path.join(dir, CA_FILES.key));
    const second = await loadOrCreatePki(dir);
    expect(second.ca.fingerprint).not.toBe(first.ca.fingerprint);
    expect(second.master.fingerprint).not.toBe(first.master.fingerprint);
    expect(new X509Certificate(second.master.certPem).checkIssued(new X509Certificate(second.ca.certPem))).toBe(true);

    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-pki-other-'));
    try {
      await loadOrCreatePki(other);
      await fs.copyFile(path.join(other, CA_FILES.key), path.join(dir, CA_FILES.key));
      await expect(CertificateAuthority.loadOrCreate(dir)).rejects.toThrow(/does not match/);
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
  });
});

describe('issueCertificate', () => {
  test('an agent certificate chains to the CA with serverAuth + clientAuth and the SANs asked for', async () => {
    const pki = await loadOrCreatePki(dir);
    const agent = await pki.ca.issueCertificate({ commonName: 'sensor-a', sans: ['sensor-a', '10.0.0.5', 'fe80::1'], usage: ['serverAuth', 'clientAuth'] });
    const cert = new X509Certificate(agent.certPem);
    const ca = new X509Certificate(pki.ca.certPem);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toContain('CN=sensor-a');
    expect(cert.subjectAltName).toBe('DNS:sensor-a, IP Address:10.0.0.5, IP Address:FE80:0:0:0:0:0:0:1');
    expect(cert.toLegacyObject().ext_key_usage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(await pki.ca.verifies(agent.certPem)).toBe(true);
    expect(agent.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // The key belongs to the certificate.
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(agent.keyPem))).toBe(true);

    // openssl agrees, for both purposes.
    await fs.writeFile(path.join(dir, 'agent.pem'), agent.certPem);
    for (const purpose of ['sslclient', 'sslserver']) {
      const { stdout } = await execFileAsync('openssl', ['verify', '-purpose', purpose, '-CAfile', path.join(dir, CA_FILES.cert), path.join(dir, 'agent.pem')]);
      expect(stdout.trim()).toBe(`${path.join(dir, 'agent.pem')}: OK`);
    }
  });

  test('a certificate from another CA does not verify', async () => {
    const pki = await loadOrCreatePki(dir);
    const otherDir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-pki-other-'));
    try {
      const other = await CertificateAuthority.loadOrCreate(otherDir);
      const foreign = await other.issueCertificate({ commonName: 'intruder', usage: ['clientAuth'] });
      expect(await pki.ca.verifies(foreign.certPem)).toBe(false);
      expect(new X509Certificate(foreign.certPem).verify(new X509Certificate(pki.ca.certPem).publicKey)).toBe(false);
    } finally {
      await fs.rm(otherDir, { recursive: true, force: true });
    }
  });

  test('refuses SANs that are neither DNS names nor IPs, and no usage', async () => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    await expect(ca.issueCertificate({ commonName: 'a', sans: ['bad name;rm'], usage: ['serverAuth'] })).rejects.toThrow(/not a DNS name or IP/);
    await expect(ca.issueCertificate({ commonName: 'a', usage: [] })).rejects.toThrow(/usage/);
  });

  test('certificates it issues complete a mutual-TLS handshake on loopback; a foreign client is refused', async () => {
    const pki = await loadOrCreatePki(dir);
    const agent = await pki.ca.issueCertificate({ commonName: 'sensor-a', usage: ['serverAuth', 'clientAuth'] });
    const served: string[] = [];
    const refused: string[] = [];
    const server = tls.createServer(
      { key: pki.master.keyPem, cert: pki.master.certPem, ca: [pki.ca.certPem], requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const cn = String((socket.getPeerCertificate().subject as { CN?: string }).CN);
        served.push(cn);
        socket.end(`hello ${cn}`);
      },
    );
    server.on('tlsClientError', (err) => refused.push(err.message));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const connect = (key: string, cert: string) =>
      new Promise<{ text: string; peerFingerprint: string }>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, key, cert, ca: [pki.ca.certPem], servername: 'localhost' }, () => undefined);
        let text = '';
        socket.on('data', (d) => (text += d));
        socket.on('end', () => resolve({ text, peerFingerprint: createHash('sha256').update(socket.getPeerCertificate().raw).digest('hex') }));
        socket.on('error', reject);
      });
    // TLS 1.3: the client may see its handshake finish before the server's alert arrives, so a
    // refusal is an error or an empty answer; the server side says which connection it served.
    const refusedConnect = (key: string, cert: string) =>
      connect(key, cert).then(
        (r) => r.text,
        (err: Error) => `error: ${err.message}`,
      );
    try {
      const ok = await connect(agent.keyPem, agent.certPem);
      expect(ok.text).toBe('hello sensor-a');
      // What a client pins is fingerprintOf(the master's PEM).
      expect(ok.peerFingerprint).toBe(pki.master.fingerprint);

      const otherDir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-pki-other-'));
      try {
        const foreign = await (await CertificateAuthority.loadOrCreate(otherDir)).issueCertificate({ commonName: 'intruder', usage: ['clientAuth'] });
        const answer = await refusedConnect(foreign.keyPem, foreign.certPem);
        expect(answer).not.toContain('hello');
        await new Promise((r) => setTimeout(r, 100));
        expect(served).toEqual(['sensor-a']);
        // The server refused that handshake (it reports a TLS client error) and served nobody else.
        expect(refused).toHaveLength(1);
      } finally {
        await fs.rm(otherDir, { recursive: true, force: true });
      }
    } finally {
      server.close();
    }
  });
});

test('fingerprintOf is the SHA-256 of the DER, lower-case hex (node agrees)', async () => {
  const ca = await CertificateAuthority.loadOrCreate(dir);
  const issued = await ca.issueCertificate({ commonName: 'a', usage: ['clientAuth'] });
  const der = new X509Certificate(issued.certPem).raw;
  expect(fingerprintOf(issued.certPem)).toBe(createHash('sha256').update(der).digest('hex'));
  expect(fingerprintOf(issued.certPem)).toMatch(/^[0-9a-f]{64}$/);
  expect(fingerprintOf(issued.certPem)).toBe(new X509Certificate(issued.certPem).fingerprint256.replace(/:/g, '').toLowerCase());
  expect(issued.fingerprint).toBe(fingerprintOf(issued.certPem));
  expect(() => fingerprintOf('not a pem')).toThrow();
});

describe('bundle', () => {
  const values = {
    name: 'sensor-a',
    ipvlan: true,
    masterHost: 'master.lan',
    masterPort: 8770,
    agentPort: 9000,
    hostUuid: '5f0b6c36-3c8b-4f43-9a53-0d6ad0c3c1aa',
    masterFingerprint: 'ab'.repeat(32),
  };

  test('decnet.ini renders and parses back to the same values', () => {
    const ini = parseAgentIni(renderAgentIni(values));
    expect(ini).toEqual({
      decnet: { mode: 'agent', ipvlan: true },
      agent: {
        name: 'sensor-a',
        'master-host': 'master.lan',
        'master-port': 8770,
        'agent-port': 9000,
        'host-uuid': values.hostUuid,
        'master-fingerprint': values.masterFingerprint,
        'ca-cert': 'ca.pem',
        cert: 'agent.pem',
        key: 'agent-key.pem',
      },
    });
    expect(parseAgentIni(renderAgentIni({ ...values, ipvlan: false })).decnet.ipvlan).toBe(false);
    expect(() => parseAgentIni(renderAgentIni(values).replace('mode=agent', 'mode=master'))).toThrow(/mode/);
  });

  test('packBundle makes a flat tgz keeping each file mode', async () => {
    const tgz = await packBundle([
      { name: 'a.txt', content: 'A', mode: 0o644 },
      { name: 'k.pem', content: 'K', mode: 0o600 },
    ]);
    expect(tgz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const out = path.join(dir, 'out');
    await fs.mkdir(out);
    await fs.writeFile(path.join(dir, 'b.tgz'), tgz);
    await extract({ file: path.join(dir, 'b.tgz'), cwd: out });
    expect((await fs.readdir(out)).sort()).toEqual(['a.txt', 'k.pem']);
    expect(await fs.readFile(path.join(out, 'k.pem'), 'utf8')).toBe('K');
    expect(await mode(path.join(out, 'k.pem'))).toBe(0o600);
    await expect(packBundle([{ name: '../x', content: '', mode: 0o644 }])).rejects.toThrow(/flat/);
  });

  test('the install script is valid sh, names the artefact and its sha256; the unit runs the installed agent with node and the ini', async () => {
    const pin = 'sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
    const script = (base: string, p: string | null) =>
      renderInstallScript({
        hostName: 'sensor-a',
        hostUuid: values.hostUuid,
        bundle: { url: `${base}/api/v1/swarm/enroll-bundle/tok.tgz`, pin: p },
        artefact: {
          download: { url: `${base}/api/v1/swarm/enroll-bundle/tok/decnet-agent.cjs`, pin: p },
          sha256: 'f'.repeat(64),
          version: '1.2.3',
          node: '>=20.3',
        },
        swarmAddress: 'm:8770',
        expiresAt: new Date(0),
      });
    const pinned = script('https://m:8771', pin);
    const plain = script('http://m:8080', null);
    for (const script of [pinned, plain]) {
      const file = path.join(dir, 'install.sh');
      await fs.writeFile(file, script);
      await execFileAsync('sh', ['-n', file]);
      expect(script).toContain('/etc/decnet');
    }
    expect(pinned).toContain("BUNDLE_URL='https://m:8771/api/v1/swarm/enroll-bundle/tok.tgz'");
    expect(pinned).toContain(`MASTER_KEY_PIN='${pin}'`);
    expect(pinned).toContain('curl -fsS --insecure --pinnedpubkey "$MASTER_KEY_PIN" -o "$tmp/bundle.tgz" "$BUNDLE_URL"');
    expect(plain).toContain('curl -fsS -o "$tmp/bundle.tgz" "$BUNDLE_URL"');
    expect(plain).not.toContain('--insecure');
    expect(pinned).toContain(`AGENT_SHA256='${'f'.repeat(64)}'`);
    expect(pinned).toContain('curl -fsS --insecure --pinnedpubkey "$MASTER_KEY_PIN" -o "$tmp/decnet-agent.cjs" "$AGENT_URL"');
    // >=20.3 is 20.3.0 at least, as a number the script compares with node's version.
    expect(pinned).toContain('-ge 20003000 ]');
    expect(installCommand({ url: 'https://m:8771/x.sh', pin })).toBe(`curl -fsS --insecure --pinnedpubkey '${pin}' 'https://m:8771/x.sh' | sudo sh`);
    expect(installCommand({ url: 'http://m:8080/x.sh', pin: null })).toBe("curl -fsS 'http://m:8080/x.sh' | sudo sh");
    expect(renderSystemdUnit()).toContain('ExecStart=/usr/bin/node /usr/local/lib/decnet-agent/decnet-agent.cjs agent --config /etc/decnet/decnet.ini');
    expect(Object.values(BUNDLE_FILES)).toEqual(['decnet.ini', 'ca.pem', 'agent.pem', 'agent-key.pem', 'decnet-agent.service']);
  });

  test("the pin is curl's sha256// of the certificate's public key, as openssl computes it", async () => {
    const pki = await loadOrCreatePki(path.join(dir, 'pki'));
    const certFile = path.join(dir, 'master.pem');
    await fs.writeFile(certFile, pki.master.certPem);
    const { stdout } = await execFileAsync('sh', [
      '-c',
      `openssl x509 -in '${certFile}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
    ]);
    expect(publicKeyPinOf(pki.master.certPem)).toBe(`sha256//${stdout.trim()}`);
  });
});

describe('swarm schemas', () => {
  test('enroll-bundle: defaults, and master_host is a host name or IP only (it lands in a shell command)', () => {
    expect(EnrollBundleRequestSchema.parse({ agent_name: 'a', master_host: '10.0.0.2' })).toEqual({
      agent_name: 'a',
      master_host: '10.0.0.2',
      use_ipvlan: false,
      agent_port: 8765,
      reinstall: false,
    });
    expect(EnrollBundleRequestSchema.parse({ agent_name: 'a', master_host: 'fd00::2', agent_port: 9000, use_ipvlan: true }).agent_port).toBe(9000);
    expect(EnrollBundleRequestSchema.parse({ agent_name: 'a', master_host: 'master-1.lan' }).master_host).toBe('master-1.lan');
    for (const bad of ["x'; rm -rf / #", 'a b', '$(id)', '', 'a..b', '-a', '999.1.1.1', 'fe80::zz', ':::']) {
      expect([bad, EnrollBundleRequestSchema.safeParse({ agent_name: 'a', master_host: bad }).success]).toEqual([bad, false]);
    }
    for (const body of [
      { agent_name: 'A', master_host: 'm' },
      { agent_name: 'a', master_host: 'm', agent_port: 0 },
      { agent_name: 'a', master_host: 'm', extra: 1 },
      {},
    ]) {
      expect(EnrollBundleRequestSchema.safeParse(body).success).toBe(false);
    }
  });

  test('bundle file names, patches and heartbeats', () => {
    expect(BundleFileSchema.parse('abcdefghijklmnopqrstuvwxyz_-0123.tgz')).toEqual({ token: 'abcdefghijklmnopqrstuvwxyz_-0123', kind: 'tgz' });
    expect(BundleFileSchema.safeParse('short.sh').success).toBe(false);
    expect(BundleFileSchema.safeParse('abcdefghijklmnopqrstuvwxyz.zip').success).toBe(false);
    expect(SwarmHostPatchSchema.safeParse({}).success).toBe(false);
    expect(SwarmHostPatchSchema.parse({ notes: null })).toEqual({ notes: null });
    const host_uuid = '5f0b6c36-3c8b-4f43-9a53-0d6ad0c3c1aa';
    expect(HeartbeatRequestSchema.safeParse({ host_uuid, results: [{ job_id: 'j', lifecycle_id: host_uuid, ok: false, error: 'boom' }] }).success).toBe(true);
    // lifecycle_id is optional (an agent job the master sent without one), but a uuid when given; ok is required.
    expect(HeartbeatRequestSchema.safeParse({ host_uuid, results: [{ job_id: 'j', ok: true }] }).success).toBe(true);
    expect(HeartbeatRequestSchema.safeParse({ host_uuid, results: [{ job_id: 'j', lifecycle_id: 'nope', ok: true }] }).success).toBe(false);
    expect(HeartbeatRequestSchema.safeParse({ host_uuid, results: [{ job_id: 'j' }] }).success).toBe(false);
    expect(HeartbeatRequestSchema.safeParse({ host_uuid: 'nope' }).success).toBe(false);
  });

  test('clientAddress strips the IPv4-mapped prefix', () => {
    expect(clientAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientAddress('10.1.2.3')).toBe('10.1.2.3');
    expect(clientAddress('::1')).toBe('::1');
    expect(clientAddress(undefined)).toBe('unknown');
  });
});
