/**
 * One fleet, several processes on one PostgreSQL and one Temporal: an API process in this test's
 * process (no worker) and a real `decnet worker` child. Events the worker publishes reach the API's
 * GET /events through PostgreSQL; a listener whose connection is killed re-reads what it missed;
 * the worker's /metrics has the Temporal SDK's metrics beside the product's; the fleet's loops run
 * in one elected process, and another takes over when it stops, is killed or loses its connection.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig } from '../../src/config';
import { startMaster, type RunningMaster } from '../../src/master';
import { createLogger } from '../../src/logger';
import { LEADER_LOCKS } from '../../src/db/leader';
import { createTestStack, freePort, iniGeneral, requireEnv, type TestStack } from '../support/master';
import { apiClient, waitFor, waitForTerminal, type ApiClient } from '../support/http';
import { leaderHolders, openEventStream } from '../support/fleet';
import { sigkill, spawnDecnet, stop, waitForHttp, type DecnetProcess } from '../support/process';
import { enrollAgent, masterCreds, removeAgentContainers, startAgent, waitForActive, type TestAgent } from '../support/agents';

let stack: TestStack;
let api: ApiClient;
let apiMaster: RunningMaster;
let worker: DecnetProcess | undefined;
let workerMetrics: string;
/** The test's own session: it outlives the masters it stops. */
let db: Client;
const others: RunningMaster[] = [];
let agent: TestAgent | undefined;

beforeAll(async () => {
  stack = await createTestStack('fleet', 111, {
    DECNET_LEADER_RETRY_MS: '500',
    // A workflow waiting for an agent polls it only after this: a result sooner came by signal.
    DECNET_AGENT_POLL_INTERVAL_MS: '600000',
  });
  apiMaster = await stack.startMaster({ runWorker: false });
  db = new Client({ connectionString: stack.databaseUrl });
  await db.connect();
  api = apiClient(stack.api, stack.adminToken);
  worker = spawnDecnet(['worker'], stack.env, path.join(stack.config.dataDir, 'worker.log'));
  workerMetrics = `http://127.0.0.1:${stack.config.metricsPort}/metrics`;
  await waitForHttp(workerMetrics);
});

afterAll(async () => {
  if (agent?.proc) await stop(agent.proc);
  if (agent) await removeAgentContainers(stack.docker, agent.project);
  if (worker) await stop(worker);
  for (const master of others) await master.stop();
  await db?.end();
  await stack?.cleanup();
});

async function workerLog(): Promise<string> {
  return fs.readFile(path.join(stack.config.dataDir, 'worker.log'), 'utf8').catch(() => '');
}

test('a deploy run by the worker process streams its row transitions on the API process, once each', async () => {
  const stream = await openEventStream(stack.api, stack.adminToken, 'decky.xp1.');
  try {
    const res = await api.post('/deckies/deploy', { ini_content: `${iniGeneral(stack.lan)}[xp1]\nservices=ssh\n` });
    expect(res.status).toBe(202);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids, 180_000).catch(async (err) => {
      throw new Error(`${String(err)}\nworker log:\n${await workerLog()}`);
    });
    expect(row.status).toBe('succeeded');
    await waitFor('the succeeded event', async () => (stream.events.some((e) => e.data.status === 'succeeded') ? true : undefined), 10_000);
    // This process runs no worker: every event came from the worker's process, through PostgreSQL.
    expect(stream.events.map((e) => [e.topic, e.data.lifecycle_id, e.data.status])).toEqual([
      ['decky.xp1.lifecycle', row.id, 'running'],
      ['decky.xp1.lifecycle', row.id, 'succeeded'],
    ]);
    expect(stream.events[1].data.operation).toBe('deploy');
  } finally {
    await stream.close();
  }
});

test("the worker's /metrics has the Temporal SDK's activity and workflow-task metrics and the product's", async () => {
  const text = await (await fetch(workerMetrics)).text();
  // The deploy's activities and workflow tasks ran in the worker process, and its own counters say so.
  const sdkCount = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}\\{[^}]*task_queue="${stack.config.taskQueue}"[^}]*\\} (\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
  expect(sdkCount('temporal_activity_execution_latency_seconds_count')).toBeGreaterThan(0);
  expect(sdkCount('temporal_workflow_task_execution_latency_seconds_count')).toBeGreaterThan(0);
  expect(text).toMatch(/^decnet_operations_total\{operation="deploy",outcome="succeeded"\} 1$/m);
  // The API process ran no activity: its own registry (this process) counts none of them.
  const apiText = await (await fetch(`${stack.api.replace(/\/api\/v1$/, '')}/metrics`)).text();
  expect(apiText).not.toMatch(/^temporal_/m);
});

test('a listener whose connection is killed re-reads the rows written meanwhile, without repeating what it had', async () => {
  const stream = await openEventStream(stack.api, stack.adminToken, 'decky.');
  try {
    // A row that ends while the API's listener is away: its NOTIFY never reaches it (here none is sent at all).
    const id = randomUUID();
    await db.query(
      `insert into decky_lifecycle (id, decky_name, operation, trigger, status, error, steps, workflow_id, started_at, updated_at, completed_at)
        values ($1, 'ghost', 'deploy', 'api', 'failed', 'failed while the listener was away', '[]', 'ghost-wf', now(), now(), now())`,
      [id],
    );
    const killed = await db.query<{ killed: boolean }>(`select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = $1`, [
      apiMaster.relay.applicationName,
    ]);
    expect(killed.rows).toEqual([{ killed: true }]);
    await waitFor('the re-read event', async () => (stream.events.some((e) => e.data.lifecycle_id === id) ? true : undefined), 20_000);
    // xp1's transitions were delivered before the loss and fall in the re-read's window: not again.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(stream.events.map((e) => [e.topic, e.data])).toEqual([
      ['decky.ghost.lifecycle', { lifecycle_id: id, operation: 'deploy', status: 'failed', error: 'failed while the listener was away' }],
    ]);
    // Reconnected: the next event from the worker's process arrives live again.
    const res = await api.delete('/deckies/xp1');
    expect(res.status).toBe(202);
    await waitFor(
      'the teardown events',
      async () => (stream.events.some((e) => e.topic === 'decky.xp1.lifecycle' && e.data.status === 'succeeded') ? true : undefined),
      120_000,
    );
  } finally {
    await stream.close();
  }
});

test('a status committed by any connection reaches the stream, though no process published it', async () => {
  // What a worker killed between its commit and its publish leaves, or the reconciler's closing
  // write: PostgreSQL announces the row itself.
  const stream = await openEventStream(stack.api, stack.adminToken, 'decky.');
  try {
    const id = randomUUID();
    await db.query(
      `insert into decky_lifecycle (id, decky_name, operation, trigger, status, steps, workflow_id, started_at, updated_at)
        values ($1, 'orphan', 'deploy', 'api', 'pending', '[]', 'orphan-wf', now(), now())`,
      [id],
    );
    await db.query(`update decky_lifecycle set status = 'running', updated_at = now() where id = $1`, [id]);
    await db.query(`update decky_lifecycle set steps = '[]', updated_at = now() where id = $1`, [id]); // no new status: no event
    await db.query(`update decky_lifecycle set status = 'failed', error = 'WorkflowClosed: gone', updated_at = now(), completed_at = now() where id = $1`, [
      id,
    ]);
    await waitFor('the failed event', async () => (stream.events.some((e) => e.data.status === 'failed') ? true : undefined), 20_000);
    expect(stream.events.map((e) => [e.topic, e.data])).toEqual([
      ['decky.orphan.lifecycle', { lifecycle_id: id, operation: 'deploy', status: 'running' }],
      ['decky.orphan.lifecycle', { lifecycle_id: id, operation: 'deploy', status: 'failed', error: 'WorkflowClosed: gone' }],
    ]);
  } finally {
    await stream.close();
  }
});

/** The OS pid of the process a leader's session belongs to (`decnet-leader-<job>@<host>:<pid>`). */
const processOf = (holder: { application_name: string }) => Number(/:(\d+)$/.exec(holder.application_name)?.[1]);

/** Another API process of the same fleet: the same database, data directory (its PKI) and task queue, ports of its own. */
async function anotherApiProcess(logger = createLogger(stack.config.logLevel, 'fleet-2')): Promise<RunningMaster> {
  const env = {
    ...stack.env,
    DECNET_API_PORT: String(await freePort()),
    DECNET_SWARM_PORT: String(await freePort()),
    DECNET_ENROLL_PORT: String(await freePort()),
  };
  const master = await startMaster({
    config: loadConfig(env),
    databaseUrl: stack.databaseUrl,
    temporalAddress: requireEnv('TEMPORAL_ADDRESS'),
    logger,
    runWorker: false,
  });
  others.push(master);
  return master;
}

test("an agent heartbeating to a second API process has its job's result reach the workflow the worker process runs", async () => {
  const lines: Array<{ msg?: string; host?: string }> = [];
  const second = await anotherApiProcess(pino({ name: 'fleet-2', level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-fleet-agent-'));
  // Enrolled through the first API process; its decnet.ini then points at the second one's swarm port.
  agent = await enrollAgent(stack, api, dir, {
    name: 'fa',
    project: `${stack.config.composeProject}-fa`,
    useIpvlan: false,
    env: { DECNET_LAN_NETWORK: `${stack.config.composeProject}_lan` },
  });
  const ini = await fs.readFile(agent.iniPath, 'utf8');
  expect(ini).toMatch(new RegExp(`^master-port=${stack.config.swarmPort}$`, 'm'));
  await fs.writeFile(agent.iniPath, ini.replace(/^master-port=\d+$/m, `master-port=${new URL(second.swarmUrl!).port}`));
  await startAgent(agent, await masterCreds(stack));
  await waitForActive(api, agent);
  expect(lines.some((l) => l.msg === 'swarm host active' && l.host === 'fa')).toBe(true);

  // Submitted to the first API process, run by the worker process, finished by the result the
  // agent heartbeats to the second: the workflow's own polling would wait 10 minutes.
  const started = Date.now();
  const res = await api.post('/deckies/deploy', { deckies: [{ name: 'onagent', services: ['ssh'] }] });
  expect([res.status, res.body.error]).toEqual([202, undefined]);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids, 120_000);
  expect([row.status, row.error]).toEqual(['succeeded', null]);
  expect((await api.get('/deckies/onagent')).body.host_uuid).toBe(agent.hostUuid);
  expect(Date.now() - started).toBeLessThan(120_000);
  const teardown = await api.delete('/deckies/onagent');
  const [gone] = await waitForTerminal(api, teardown.body.lifecycle_ids, 120_000);
  expect(gone.status).toBe('succeeded');
  await stop(agent.proc!);
  await removeAgentContainers(stack.docker, agent.project);
  agent = undefined;
  await second.stop();
  others.splice(others.indexOf(second), 1);
  await fs.rm(dir, { recursive: true, force: true });
});

test('the drift watcher runs in one worker process; when that process is killed, another worker takes over', async () => {
  const metrics2 = await freePort();
  const worker2 = spawnDecnet(['worker'], { ...stack.env, DECNET_METRICS_PORT: String(metrics2) }, path.join(stack.config.dataDir, 'worker2.log'));
  await waitForHttp(`http://127.0.0.1:${metrics2}/metrics`);
  const only = (want?: number) =>
    waitFor(
      `one drift watcher${want ? ` in process ${want}` : ''}`,
      async () => {
        const now = await leaderHolders(db, LEADER_LOCKS.driftWatcher);
        return now.length === 1 && (!want || processOf(now[0]) === want) ? now[0] : undefined;
      },
      10_000,
    );
  // The new worker campaigns once its Temporal worker exists (after /metrics answers).
  await waitFor(
    'the second worker campaigning',
    async () => {
      const { rows } = await db.query('select 1 from pg_stat_activity where application_name like $1', [`decnet-leader-driftWatcher@%:${worker2.child.pid}`]);
      return rows.length === 1 ? true : undefined;
    },
    60_000,
  );
  const leaderPid = processOf(await only());
  expect([worker!.child.pid, worker2.child.pid]).toContain(leaderPid);
  const [victim, survivor] = leaderPid === worker!.child.pid ? [worker!, worker2] : [worker2, worker!];
  const killedAt = Date.now();
  await sigkill(victim);
  await only(survivor.child.pid);
  const handOverMs = Date.now() - killedAt;
  expect(handOverMs).toBeLessThan(5_000);
  worker = survivor;
  console.log(`drift watcher: hand-over ${handOverMs} ms after its worker process was SIGKILLed (retry every 500 ms)`);
});

test('exactly one process leads the fleet; when it stops or loses its connection, another takes over within seconds', async () => {
  // The worker child campaigns too; it goes, so the two in-process API processes decide between them.
  await stop(worker!);
  worker = undefined;
  const second = await anotherApiProcess();
  const masters = [apiMaster, second];
  const leaderOf = () =>
    waitFor(
      'one leader',
      async () => {
        const leading = masters.filter((m) => m.elections.fleet.isLeader());
        return leading.length === 1 ? leading[0] : undefined;
      },
      10_000,
    );

  const first = await leaderOf();
  expect(await leaderHolders(db, LEADER_LOCKS.fleet)).toHaveLength(1);
  // The leader runs the host sweeper, at once on election and then every heartbeat interval (30 s
  // here): a host silent for a day, added just before an election, is marked unreachable by it.
  const silentHost = async () => {
    const uuid = randomUUID();
    await db.query(
      `insert into swarm_host (uuid, name, status, last_heartbeat, client_cert_fingerprint, enrolled_at) values ($1, $2, 'active', now() - interval '1 day', $3, now())`,
      [uuid, `silent-${uuid.slice(0, 8)}`, 'f'.repeat(64)],
    );
    return uuid;
  };
  const swept = (uuid: string) =>
    waitFor(
      `host ${uuid} swept`,
      async () => {
        const { rows } = await db.query<{ status: string }>('select status from swarm_host where uuid = $1', [uuid]);
        return rows[0]?.status === 'unreachable' ? true : undefined;
      },
      10_000,
    );

  // Its lock connection is killed: it steps down, and one process (either) leads again.
  const hostAfterKill = await silentHost();
  const [{ pid }] = await leaderHolders(db, LEADER_LOCKS.fleet);
  await db.query('select pg_terminate_backend($1)', [pid]);
  await waitFor('a new lock holder', async () => ((await leaderHolders(db, LEADER_LOCKS.fleet)).some((h) => h.pid !== pid) ? true : undefined), 5_000);
  const afterKill = await leaderOf();
  expect(await leaderHolders(db, LEADER_LOCKS.fleet)).toHaveLength(1);
  await swept(hostAfterKill);

  // The leader stops (as a process that exits): the other one leads within a few retry periods.
  const standby = masters.find((m) => m !== afterKill)!;
  expect(standby.elections.fleet.isLeader()).toBe(false);
  const hostAfterStop = await silentHost();
  const stoppedAt = Date.now();
  await afterKill.stop();
  if (afterKill === apiMaster) stack.master = undefined;
  else others.splice(others.indexOf(afterKill), 1);
  await waitFor('the standby leads', async () => (standby.elections.fleet.isLeader() ? true : undefined), 5_000);
  const handOverMs = Date.now() - stoppedAt;
  await swept(hostAfterStop);
  expect(await leaderHolders(db, LEADER_LOCKS.fleet)).toHaveLength(1);
  expect(handOverMs).toBeLessThan(3_000);
  console.log(
    `fleet leader: first ${first === apiMaster ? 'A' : 'B'}, after its connection was killed ${afterKill === apiMaster ? 'A' : 'B'}; hand-over after the leader stopped: ${handOverMs} ms (retry every 500 ms)`,
  );
});
