/**
 * Real `decnet agent` processes for tests: enrolled through the API bundle flow (the .tgz fetched
 * and unpacked), started from the unpacked decnet.ini, and reached over mTLS with the master's
 * swarm certificate exactly as the master reaches them.
 */
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { extract } from 'tar';
import { fetch } from 'undici';
import { fingerprintOf, fingerprintOfDer, MASTER_FILES, pkiDir } from '../../src/swarm/pki';
import { freePort, type TestStack } from './master';
import type { ApiClient } from './http';
import { spawnDecnet, type DecnetProcess } from './process';

export interface Creds {
  key: string;
  cert: string;
  ca: string;
}

export interface TestAgent {
  name: string;
  hostUuid: string;
  iniPath: string;
  bundleDir: string;
  logFile: string;
  port: number;
  project: string;
  /** SHA-256 of agent.pem, as the master records it for the host. */
  fingerprint: string;
  env: NodeJS.ProcessEnv;
  proc?: DecnetProcess;
}

/** The master's swarm certificate, key and CA, read from the stack's data directory. */
export async function masterCreds(stack: { config: Pick<TestStack['config'], 'dataDir'> }): Promise<Creds> {
  const pki = pkiDir(stack.config.dataDir);
  const read = (f: string) => fs.readFile(path.join(pki, f), 'utf8');
  return { key: await read(MASTER_FILES.key), cert: await read(MASTER_FILES.cert), ca: await read('ca.pem') };
}

/** POST /swarm/enroll-bundle, fetch the .tgz once and unpack it under `dir/<name>`. */
export async function enrollAgent(
  stack: Pick<TestStack, 'api' | 'env'>,
  api: ApiClient,
  dir: string,
  opts: { name: string; project: string; useIpvlan: boolean; env?: NodeJS.ProcessEnv },
): Promise<TestAgent> {
  const port = await freePort();
  const res = await api.post('/swarm/enroll-bundle', { agent_name: opts.name, master_host: '127.0.0.1', use_ipvlan: opts.useIpvlan, agent_port: port });
  if (res.status !== 201) throw new Error(`enroll-bundle answered ${res.status}: ${JSON.stringify(res.body)}`);
  const tgz = await fetch(`${stack.api}/swarm/enroll-bundle/${res.body.token}.tgz`);
  if (tgz.status !== 200) throw new Error(`bundle download answered ${tgz.status}`);
  const bundleDir = path.join(dir, opts.name);
  await fs.mkdir(bundleDir, { recursive: true });
  await fs.writeFile(path.join(dir, `${opts.name}.tgz`), Buffer.from(await tgz.arrayBuffer()));
  await extract({ file: path.join(dir, `${opts.name}.tgz`), cwd: bundleDir });
  const env: NodeJS.ProcessEnv = {
    ...stack.env,
    DECNET_COMPOSE_PROJECT: opts.project,
    DECNET_DATA_DIR: path.join(bundleDir, 'data'),
    DECNET_LOG_LEVEL: 'info',
    // The port comes from the ini (agent_port above); DECNET_AGENT_PORT overrides it the same way.
    DECNET_AGENT_PORT: String(port),
    ...opts.env,
  };
  const fingerprint = fingerprintOf(await fs.readFile(path.join(bundleDir, 'agent.pem'), 'utf8'));
  return {
    name: opts.name,
    fingerprint,
    hostUuid: res.body.host_uuid,
    iniPath: path.join(bundleDir, 'decnet.ini'),
    bundleDir,
    logFile: path.join(dir, `${opts.name}.log`),
    port,
    project: opts.project,
    env,
  };
}

/** Spawn `decnet agent --config` and wait until it answers GET /health over mTLS. */
export async function startAgent(agent: TestAgent, master: Creds): Promise<DecnetProcess> {
  agent.proc = spawnDecnet(['agent', '--config', agent.iniPath], agent.env, agent.logFile);
  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  for (;;) {
    try {
      const res = await agentRequest(agent, master, 'GET', '/health');
      if (res.status === 200) return agent.proc;
    } catch (err) {
      lastError = err; // not up yet
    }
    if (agent.proc.child.exitCode !== null) throw new Error(`agent ${agent.name} exited: ${await fs.readFile(agent.logFile, 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`agent ${agent.name} did not answer /health (${String(lastError)}): ${await fs.readFile(agent.logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function agentRequest(
  agent: Pick<TestAgent, 'name' | 'port' | 'fingerprint'>,
  creds: Partial<Creds> & { ca: string },
  method: string,
  p: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port: agent.port,
        method,
        path: p,
        key: creds.key,
        cert: creds.cert,
        ca: [creds.ca],
        agent: false,
        headers: payload ? { 'content-type': 'application/json' } : {},
        timeout: 15_000,
        // Agent certificates carry no address (it is learned at enrollment): the master verifies the
        // chain against its CA and pins the host's certificate fingerprint instead of a name.
        checkServerIdentity: (_host: string, cert: PeerCertificate) =>
          fingerprintOfDer(cert.raw) === agent.fingerprint ? undefined : new Error(`agent ${agent.name} presented another certificate`),
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* keep text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}
