/**
 * The three ways the chaos suite runs the product, each of real processes it can kill -9:
 * - `embedded`: one `decnet up` on a fresh data directory with its own embedded PostgreSQL and
 *   Temporal dev server (the default install), whose parts it kills by the pids they record;
 * - `split`: `decnet api` and `decnet worker` as separate processes on the shared PostgreSQL and
 *   Temporal (the operations guide's scale-out shape);
 * - `swarm`: a `decnet up` master and one `decnet agent` over mTLS, every decky on the agent.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { LABELS } from '../../src/domain/compose-render';
import { isProcessAlive, pidsFileOf, readUpPids, terminatePid } from '../../src/infra/pid';
import { createTestStack, freePort, type TestStack } from '../support/master';
import { apiClient, type ApiClient } from '../support/http';
import { sigkill, spawnDecnet, stop, waitForServing, type DecnetProcess } from '../support/process';
import { enrollAgent, masterCreds, startAgent, waitForActive, type Creds, type TestAgent } from '../support/agents';

export type Fault = 'temporal' | 'postgres' | 'master' | 'worker' | 'agent';

export interface Topology {
  api: ApiClient;
  docker: Docker;
  /** The compose project whose containers hold the deckies. */
  project: string;
  /** A fleet INI section header line plus the LAN, for a deploy of `amount` deckies named `<prefix>-0N`. */
  deployIni(prefix: string, amount: number, services: string[]): string;
  /** kill -9 the part, then do what an orchestrator would (restart a process; nothing for a supervised part); resolves when ready again. */
  kill(fault: Fault): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function iniFor(stack: TestStack) {
  return (prefix: string, amount: number, services: string[]) =>
    `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[${prefix}]\nservices=${services.join(',')}\namount=${amount}\n`;
}

/** What a topology whose deckies run in the stack's own compose project shares. */
function onStack(stack: TestStack): Pick<Topology, 'api' | 'docker' | 'project' | 'deployIni'> {
  return { api: apiClient(stack.api, stack.adminToken), docker: stack.docker, project: stack.config.composeProject, deployIni: iniFor(stack) };
}

/** The pid `decnet up` recorded for one of its parts in `<dataDir>/pids.json`, if that process is alive. */
async function recordedPid(dataDir: string, part: 'postgres' | 'temporal'): Promise<number> {
  const pid = (await readUpPids(dataDir))?.[part];
  if (!pid || !isProcessAlive(pid)) throw new Error(`${pidsFileOf(dataDir)} names no live ${part} process (${pid})`);
  return pid;
}

export async function embeddedTopology(slot: number): Promise<Topology> {
  const [pgPort, temporalPort, temporalUiPort] = [await freePort(), await freePort(), await freePort()];
  // No DATABASE_URL or TEMPORAL_ADDRESS: `decnet up` starts and owns its embedded parts.
  const stack = await createTestStack('chaosup', slot, {
    DATABASE_URL: undefined,
    TEMPORAL_ADDRESS: undefined,
    DECNET_PG_PORT: String(pgPort),
    DECNET_TEMPORAL_PORT: String(temporalPort),
    DECNET_TEMPORAL_UI_PORT: String(temporalUiPort),
  });
  const dataDir = stack.config.dataDir;
  const logFile = path.join(dataDir, 'up.log');
  let up: DecnetProcess = spawnDecnet(['up'], stack.env, logFile);
  await waitForServing(up, `${stack.api}/readyz`, 180_000);
  return {
    ...onStack(stack),
    async kill(fault) {
      if (fault === 'master') {
        await sigkill(up);
        up = spawnDecnet(['up'], stack.env, logFile);
      } else if (fault === 'temporal' || fault === 'postgres') {
        process.kill(await recordedPid(dataDir, fault), 'SIGKILL');
        // Give the master a moment to notice before asking whether it is ready again.
        await sleep(200);
      } else {
        throw new Error(`the embedded topology has no ${fault} to kill`);
      }
      await waitForServing(up, `${stack.api}/readyz`, 180_000);
    },
    async stop() {
      await stop(up);
      // Whatever `up` could not stop (it was killed, its children outlived it) is ours to stop.
      const recorded = await readUpPids(dataDir);
      for (const kind of ['temporal', 'postgres'] as const) {
        const pid = recorded?.[kind];
        if (pid && isProcessAlive(pid)) await terminatePid(pid, kind === 'postgres' ? 'SIGINT' : 'SIGTERM', 10_000);
      }
      await stack.cleanup();
    },
  };
}

export async function splitTopology(slot: number): Promise<Topology> {
  const stack = await createTestStack('chaossplit', slot);
  const dir = stack.config.dataDir;
  const apiProc = spawnDecnet(['api'], stack.env, path.join(dir, 'api.log'));
  let worker = spawnDecnet(['worker'], stack.env, path.join(dir, 'worker.log'));
  await waitForServing(apiProc, `${stack.api}/readyz`, 120_000);
  return {
    ...onStack(stack),
    async kill(fault) {
      if (fault !== 'worker') throw new Error(`the split topology has no ${fault} to kill`);
      await sigkill(worker);
      worker = spawnDecnet(['worker'], stack.env, path.join(dir, 'worker.log'));
      await waitForServing(apiProc, `${stack.api}/readyz`, 120_000);
    },
    async stop() {
      await stop(worker);
      await stop(apiProc);
      await stack.cleanup();
    },
  };
}

export async function swarmTopology(slot: number): Promise<Topology> {
  const stack = await createTestStack('chaosswarm', slot, {
    DECNET_HEARTBEAT_INTERVAL_MS: '2000',
    DECNET_AGENT_POLL_INTERVAL_MS: '1000',
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-chaos-swarm-'));
  const masterProc = spawnDecnet(['up'], stack.env, path.join(stack.config.dataDir, 'up.log'));
  await waitForServing(masterProc, `${stack.api}/readyz`, 120_000);
  const api = apiClient(stack.api, stack.adminToken);
  const creds: Creds = await masterCreds(stack);
  const agent: TestAgent = await enrollAgent(stack, api, dir, {
    name: 'chaos-a',
    project: `${stack.config.composeProject}-a`,
    useIpvlan: false,
    env: { DECNET_LAN_NETWORK: `${stack.config.composeProject}_lan` },
  });
  await startAgent(agent, creds);
  // Every decky goes to the agent once the master has heard from it.
  await waitForActive(api, agent, 60_000);
  return {
    api,
    docker: stack.docker,
    project: agent.project,
    deployIni: iniFor(stack),
    async kill(fault) {
      if (fault !== 'agent') throw new Error(`the swarm topology has no ${fault} to kill`);
      await sigkill(agent.proc!);
      await startAgent(agent, creds);
    },
    async stop() {
      if (agent.proc) await stop(agent.proc);
      await stop(masterProc);
      const left = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${agent.project}`] } });
      await Promise.all(
        left.map((c) =>
          stack.docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
      await stack.cleanup();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
