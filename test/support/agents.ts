/**
 * Real `decnet agent` processes for tests: enrolled through the API bundle flow (the .tgz fetched
 * by curl over HTTPS with the master's key pinned, as the install script does, and unpacked),
 * started from the unpacked decnet.ini, and reached over mTLS with the master's swarm certificate
 * exactly as the master reaches them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { extract } from 'tar';
import { LABELS } from '../../src/domain/compose-render';
import { fingerprintOf, MASTER_FILES, pkiDir } from '../../src/swarm/pki';
import { fingerprintOfDer } from '../../src/http/mtls';
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

/** What the printed enrollment command holds: the master's key pin and the script URL (the bundle's beside it). */
export interface EnrollCommand {
  pin: string;
  scriptUrl: string;
  bundleUrl: string;
}

/** `curl -fsS --insecure --pinnedpubkey '<pin>' '<url>.sh' | sudo sh`, taken apart; throws for any other shape. */
export function parseEnrollCommand(command: string): EnrollCommand {
  const match = /^curl -fsS --insecure --pinnedpubkey '(sha256\/\/[A-Za-z0-9+/]{43}=)' '(https:\/\/[^']+)\.sh' \| sudo sh$/.exec(command);
  if (!match) throw new Error(`not a pinned HTTPS enrollment command: ${command}`);
  return { pin: match[1], scriptUrl: `${match[2]}.sh`, bundleUrl: `${match[2]}.tgz` };
}

/** Real curl, as the operator's command and the install script run it: `--pinnedpubkey` with `--insecure`. */
export async function curlPinned(url: string, pin: string, outFile: string): Promise<void> {
  await promisify(execFile)('curl', ['-fsS', '--insecure', '--pinnedpubkey', pin, '-o', outFile, url]);
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
  const bundleDir = path.join(dir, opts.name);
  await fs.mkdir(bundleDir, { recursive: true });
  const command = parseEnrollCommand(res.body.command);
  await curlPinned(command.bundleUrl, command.pin, path.join(dir, `${opts.name}.tgz`));
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

/**
 * Spawn `decnet agent --config` and wait until it answers GET /health over mTLS and, unless
 * `awaitFence` is false (no master to answer it), has fenced itself: it takes jobs from then on.
 */
export async function startAgent(agent: TestAgent, master: Creds, opts: { awaitFence?: boolean } = {}): Promise<DecnetProcess> {
  agent.proc = spawnDecnet(['agent', '--config', agent.iniPath], agent.env, agent.logFile);
  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  for (;;) {
    try {
      const res = await agentRequest(agent, master, 'GET', '/health');
      if (res.status === 200 && (opts.awaitFence === false || res.body.fencing === false)) return agent.proc;
      lastError = `health ${res.status} ${JSON.stringify(res.body)}`;
    } catch (err) {
      lastError = err; // not up yet
    }
    if (agent.proc.child.exitCode !== null) throw new Error(`agent ${agent.name} exited: ${await fs.readFile(agent.logFile, 'utf8')}`);
    if (Date.now() > deadline)
      throw new Error(`agent ${agent.name} did not answer /health (${String(lastError)}): ${await fs.readFile(agent.logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Until the master shows the host `active`: its agent's first heartbeat landed, and deploys place
 * deckies on it from now on (a downloaded bundle alone does not make a host live).
 */
export async function waitForActive(api: ApiClient, agent: Pick<TestAgent, 'name' | 'hostUuid'>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.get('/swarm/hosts');
    const host = (res.body.hosts as Array<{ uuid: string; status: string }>).find((h) => h.uuid === agent.hostUuid);
    if (host?.status === 'active') return;
    if (Date.now() > deadline) throw new Error(`host ${agent.name} is still ${host?.status ?? 'missing'} on the master after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * One heartbeat to the master's swarm port with the host's bundle certificate, as its agent sends
 * it: for tests that need a live host without running an agent. Resolves with the status code.
 */
export async function heartbeatAs(agent: Pick<TestAgent, 'bundleDir' | 'hostUuid'>, swarmUrl: string): Promise<number> {
  const read = (f: string) => fs.readFile(path.join(agent.bundleDir, f), 'utf8');
  const [key, cert, ca] = await Promise.all([read('agent-key.pem'), read('agent.pem'), read('ca.pem')]);
  const url = new URL(swarmUrl);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: url.hostname,
        port: Number(url.port),
        method: 'POST',
        path: '/api/v1/swarm/heartbeat',
        key,
        cert,
        ca: [ca],
        agent: false,
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(JSON.stringify({ host_uuid: agent.hostUuid }));
  });
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

/** Every container of an agent's compose project, stopped ones included. */
export function agentContainers(docker: Docker, agent: Pick<TestAgent, 'project'>): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${agent.project}`] } });
}

/** Force-removes every container of an agent's compose project (a run killed before its cleanup leaves some). */
export async function removeAgentContainers(docker: Docker, project: string): Promise<void> {
  const containers = await agentContainers(docker, { project });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

/** Everything a compose project (an agent's, a bench master's) left on the engine: its containers, then its LAN network. */
export async function removeComposeProject(docker: Docker, project: string): Promise<void> {
  await removeAgentContainers(docker, project);
  await docker
    .getNetwork(`${project}_lan`)
    .remove()
    .catch(() => undefined);
}
