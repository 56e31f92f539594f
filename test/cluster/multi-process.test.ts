/**
 * One fleet, many processes, on the real Temporal server with PostgreSQL persistence (test:cluster):
 * 2 `decnet api` and 2 `decnet worker` processes on one PostgreSQL and one task queue, and two
 * real `decnet agent` processes over mTLS, one enrolled through (and heartbeating to) each API
 * process. 20 deckies deployed through API 1, worker 1 SIGKILLed mid-deploy, worker 2 finishes
 * every row; API 2 streams every row's transitions (events through PostgreSQL), worker 2's
 * /metrics counts its activities, a schedule tick makes one row and the reconciler runs in one
 * elected process. The deckies' service image exists on no engine here, so each agent job ends at
 * its image check: what is exercised is the control plane (API → PostgreSQL → Temporal → dispatch
 * → agent → result through a heartbeat → workflow → row), not Docker's container work.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { openOrm } from '../../src/db/orm';
import { DeckyLifecycle } from '../../src/entities';
import { mutationScheduleId } from '../../src/domain/workflow-ids';
import { createDatabase } from '../../src/infra/embedded-postgres';
import { apiClient, waitFor, waitForTerminal, type ApiClient } from '../support/http';
import { freePort, requireEnv } from '../support/master';
import { sigkill, stop } from '../support/process';
import { apiBaseOf, leaderHolders, openEventStream, startFleetProcess, workerIdentity, type FleetProcess } from '../support/fleet';
import { LEADER_LOCKS } from '../../src/db/leader';
import { Client as PgClient } from 'pg';
import { enrollAgent, masterCreds, removeAgentContainers, startAgent, waitForActive, type TestAgent } from '../support/agents';
import { createVethParent, deleteVethParent } from '../support/veth';
import Docker from 'dockerode';

const SLOT = 101;
const PROJECT = 'tcluster';
const PARENT = `dnvcluster${SLOT}`;
const LAN = { subnet: `198.18.${SLOT}.0/24`, gateway: `198.18.${SLOT}.1`, interface: PARENT };
const ADMIN_TOKEN = 'decnet-test-admin-cluster-token';
const DECKIES = 20;
const NAMESPACE = 'default';
const RECONCILE_INTERVAL_MS = 2_000;

let dir: string;
let databaseUrl: string;
let taskQueue: string;
let connection: Connection;
let client: Client;
const roles: Record<'api1' | 'api2' | 'worker1' | 'worker2', FleetProcess> = {} as never;
const agents: TestAgent[] = [];
let api1: ApiClient;
let api2: ApiClient;
const docker = new Docker();

const startRole = (role: FleetProcess) => startFleetProcess(role, connection);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-cluster-'));
  databaseUrl = await createDatabase(requireEnv('TEST_DATABASE_ADMIN_URL'), `t_cluster_${Date.now()}`);
  taskQueue = `${PROJECT}-${Date.now()}`;
  await removeAgentContainers(docker, `${PROJECT}-a`);
  await removeAgentContainers(docker, `${PROJECT}-b`);
  await createVethParent(PARENT);
  // Every process of the fleet shares the data directory: one swarm CA and master certificate.
  const shared: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: requireEnv('TEMPORAL_ADDRESS'),
    TEMPORAL_NAMESPACE: NAMESPACE,
    DECNET_DATA_DIR: path.join(dir, 'master'),
    DECNET_IMAGE_REGISTRY: 'decnet-cluster',
    DECNET_IMAGE_TAG: 'absent',
    DECNET_COMPOSE_PROJECT: PROJECT,
    DECNET_TASK_QUEUE: taskQueue,
    DECNET_ADMIN_TOKEN: ADMIN_TOKEN,
    DECNET_SWARM_HOST: '127.0.0.1',
    DECNET_LOG_LEVEL: 'info',
    // Results reach the workflows only through the agents' heartbeats to the API processes: the
    // workflows' own polling of the agent would come long after the test's deadline.
    DECNET_AGENT_POLL_INTERVAL_MS: String(30 * 60_000),
    DECNET_HEARTBEAT_INTERVAL_MS: '1000',
    DECNET_FAILOVER: 'off',
    DECNET_RECONCILE_INTERVAL_MS: String(RECONCILE_INTERVAL_MS),
  };
  for (const [name, command] of [
    ['api1', 'api'],
    ['api2', 'api'],
    ['worker1', 'worker'],
    ['worker2', 'worker'],
  ] as const) {
    roles[name] = {
      name,
      command,
      logFile: path.join(dir, `${name}.log`),
      env: {
        ...shared,
        DECNET_API_PORT: String(await freePort()),
        DECNET_SWARM_PORT: String(await freePort()),
        DECNET_ENROLL_PORT: String(await freePort()),
        DECNET_METRICS_PORT: String(await freePort()),
      },
    };
  }
  connection = await Connection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  client = new Client({ connection, namespace: NAMESPACE });

  // API 1 first: it migrates the database and creates the swarm CA the others then load.
  await startRole(roles.api1);
  await Promise.all([startRole(roles.api2), startRole(roles.worker1), startRole(roles.worker2)]);
  api1 = apiClient(apiBaseOf(roles.api1), ADMIN_TOKEN);
  api2 = apiClient(apiBaseOf(roles.api2), ADMIN_TOKEN);
  expect((await api1.put('/system/limits', { deployment_limit: DECKIES })).status).toBe(200);

  const creds = await masterCreds({ config: { dataDir: shared.DECNET_DATA_DIR! } });
  for (const [name, api, role] of [
    ['a', api1, roles.api1],
    ['b', api2, roles.api2],
  ] as const) {
    const agent = await enrollAgent({ api: apiBaseOf(role), env: role.env }, api, dir, {
      name,
      project: `${PROJECT}-${name}`,
      useIpvlan: false,
      env: { DECNET_LAN_NETWORK: `${PROJECT}_lan`, DECNET_HEARTBEAT_INTERVAL_MS: '1000' },
    });
    await startAgent(agent, creds);
    await waitForActive(api, agent);
    agents.push(agent);
  }
});

afterAll(async () => {
  for (const agent of agents) if (agent.proc) await stop(agent.proc);
  for (const role of Object.values(roles)) if (role.proc) await stop(role.proc);
  await connection?.close();
  await removeAgentContainers(docker, `${PROJECT}-a`);
  await removeAgentContainers(docker, `${PROJECT}-b`);
  await docker
    .getNetwork(`${PROJECT}_lan`)
    .remove()
    .catch(() => undefined);
  await deleteVethParent(PARENT);
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

interface TaskStart {
  workflowId: string;
  kind: 'workflow' | 'activity';
  identity: string;
  atMs: number;
}

/**
 * From these workflows' histories: who started each workflow and activity task, and when, and how
 * many activities each worker completed.
 */
async function taskHistory(workflowIds: string[]): Promise<{ starts: TaskStart[]; completedBy: Map<string, number> }> {
  const starts: TaskStart[] = [];
  const completedBy = new Map<string, number>();
  for (const workflowId of workflowIds) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    for (const event of history.events ?? []) {
      const completed = event.activityTaskCompletedEventAttributes?.identity;
      if (completed) completedBy.set(completed, (completedBy.get(completed) ?? 0) + 1);
      const started = event.workflowTaskStartedEventAttributes ?? event.activityTaskStartedEventAttributes;
      if (!started?.identity) continue;
      starts.push({
        workflowId,
        kind: event.workflowTaskStartedEventAttributes ? 'workflow' : 'activity',
        identity: started.identity,
        atMs: tsToMs(event.eventTime!),
      });
    }
  }
  return { starts, completedBy };
}

let deployRows: any[];
let killedAtMs: number;
let worker1Identity: string;
let worker2Identity: string;
let activitiesCompletedByWorker2: number;
/** Every event API 2 streamed from before the deploy on. */
let api2Events: Awaited<ReturnType<typeof openEventStream>>;

test(`${DECKIES} deckies deployed through API 1; worker 1 SIGKILLed mid-deploy; worker 2 finishes every row`, async () => {
  worker1Identity = workerIdentity(roles.worker1.proc!);
  worker2Identity = workerIdentity(roles.worker2.proc!);
  api2Events = await openEventStream(apiBaseOf(roles.api2), ADMIN_TOKEN, 'decky.');
  const res = await api1.post('/deckies/deploy', { network: LAN, deckies: [{ name: 'c', amount: DECKIES, services: ['ssh'] }] });
  expect([res.status, res.body.error]).toEqual([202, undefined]);
  const ids: string[] = res.body.lifecycle_ids;
  expect(ids).toHaveLength(DECKIES);

  // Mid-deploy: once a row has left `pending` (a worker runs its workflow) and before all are done.
  await waitFor('a row under way', async () => {
    const { rows } = (await api1.get(`/deckies/lifecycle?ids=${ids.join(',')}`)).body as { rows: Array<{ status: string }> };
    return rows.some((r) => r.status !== 'pending') ? true : undefined;
  });
  await sigkill(roles.worker1.proc!);
  killedAtMs = Date.now();

  deployRows = await waitForTerminal(api2, ids, 300_000);
  // Every row went through dispatch to its agent and back: the job ended at the image check there.
  expect(deployRows.map((r) => [r.decky_name, r.status, /not on the Docker engine/.test(r.error ?? '') ? 'image check' : r.error])).toEqual(
    deployRows.map((r) => [r.decky_name, 'failed', 'image check']),
  );
  const { starts, completedBy } = await taskHistory(deployRows.map((r) => r.workflow_id));
  activitiesCompletedByWorker2 = completedBy.get(worker2Identity) ?? 0;
  // Worker 1 really was working on the deploy when it died, and nothing ran on it afterwards.
  expect(starts.some((s) => s.identity === worker1Identity)).toBe(true);
  expect(starts.filter((s) => s.atMs > killedAtMs + 1_000).map((s) => s.identity)).toEqual(
    starts.filter((s) => s.atMs > killedAtMs + 1_000).map(() => worker2Identity),
  );
  // Every row's workflow was closed by worker 2.
  const lastWorkflowTask = new Map(starts.filter((s) => s.kind === 'workflow').map((s) => [s.workflowId, s.identity]));
  expect(new Set(lastWorkflowTask.values())).toEqual(new Set([worker2Identity]));
});

test('an agent heartbeat accepted by either API process reaches its workflow', () => {
  // Agent a reports to API 1's swarm port, agent b to API 2's (each enrolled through that
  // process); with the workflows' own polling of the agents 30 minutes away, each row above
  // finished because its agent's result, carried by a heartbeat, was signalled to its workflow.
  const byHost = new Map<string, number>();
  for (const row of deployRows) byHost.set(row.host_uuid, (byHost.get(row.host_uuid) ?? 0) + 1);
  expect([...byHost.keys()].sort()).toEqual(agents.map((a) => a.hostUuid).sort());
  expect([...byHost.values()].every((n) => n > 0)).toBe(true);
});

test("GET /events on API 2 saw every row's transitions, though no row was written in its process", async () => {
  const statusesOf = (id: string) => api2Events.events.filter((e) => e.data.lifecycle_id === id).map((e) => e.data.status);
  await waitFor('every terminal event on API 2', async () => (deployRows.every((r) => statusesOf(r.id).at(-1) === r.status) ? true : undefined), 15_000);
  await api2Events.close();
  // pending → running → failed: the running and the terminal write of every row, the last one last.
  expect(deployRows.map((r) => [r.decky_name, statusesOf(r.id).includes('running'), statusesOf(r.id).at(-1)])).toEqual(
    deployRows.map((r) => [r.decky_name, true, 'failed']),
  );
});

test("worker 2's /metrics counts the activities it ran", async () => {
  const text = await (await fetch(`http://127.0.0.1:${roles.worker2.env.DECNET_METRICS_PORT}/metrics`)).text();
  const count = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}\\{[^}]*task_queue="${taskQueue}"[^}]*\\} (\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
  // Every attempt it ran counts, the histories keep only each activity's last: at least as many.
  expect(activitiesCompletedByWorker2).toBeGreaterThan(0);
  expect(count('temporal_activity_execution_latency_seconds_count')).toBeGreaterThanOrEqual(activitiesCompletedByWorker2);
  expect(count('temporal_workflow_task_execution_latency_seconds_count')).toBeGreaterThan(0);
});

test('a schedule tick makes one mutation row, and the reconciler runs in one process, with two API and two worker processes running', async () => {
  // Worker 1 is back (a new process): every process of the fleet runs the same loops again.
  await startRole(roles.worker1);
  const decky = deployRows[0].decky_name as string;
  const set = await api2.put(`/deckies/${decky}/mutate-interval`, { mutate_interval: 60 });
  expect(set.status).toBe(200);
  const schedule = client.schedule.getHandle(mutationScheduleId(decky));
  await schedule.trigger();
  const orm = await openOrm(databaseUrl);
  try {
    const scheduled = () => orm.em.fork().find(DeckyLifecycle, { deckyName: decky, operation: 'mutate', trigger: 'scheduled' });
    const [row] = await waitFor('the scheduled mutation row', async () => ((await scheduled()).length ? await scheduled() : undefined));
    await waitForTerminal(api1, [row.id], 120_000);
    // Every process's reconciler has run over the finished tick a few times since.
    await new Promise((r) => setTimeout(r, 3 * RECONCILE_INTERVAL_MS));
    expect((await scheduled()).map((r) => r.id)).toEqual([row.id]);
    expect((await schedule.describe()).info.recentActions).toHaveLength(1);
  } finally {
    await orm.close(true);
  }
  // The reconciler (and the host sweep) runs in one process of the four, all of which campaign.
  const db = new PgClient({ connectionString: databaseUrl });
  await db.connect();
  try {
    const pids = Object.values(roles).map((r) => r.proc!.child.pid);
    const { rows } = await db.query<{ application_name: string }>(
      "select application_name from pg_stat_activity where application_name like 'decnet-leader-fleet@%' and datname = current_database()",
    );
    expect(rows.map((r) => Number(/:(\d+)$/.exec(r.application_name)?.[1])).sort()).toEqual([...pids].sort());
    const holders = await leaderHolders(db, LEADER_LOCKS.fleet);
    expect(holders).toHaveLength(1);
    expect(pids).toContain(Number(/:(\d+)$/.exec(holders[0].application_name)?.[1]));
  } finally {
    await db.end();
  }
});
