/**
 * Mutation on the real stack: operator mutations keep the base container and its IP and swap
 * the service containers; each decky's Temporal Schedule follows its interval, runs the same
 * workflow when triggered, and stays silent while paused.
 */
import { ScheduleNotFoundError } from '@temporalio/client';
import { DeckyLifecycle } from '../../src/entities';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { defaultPayloadConverter } from '@temporalio/common';
import { SEARCH_ATTRIBUTES, mutationScheduleId } from '../../src/domain/workflow-ids';
import { createDbActivities } from '../../src/activities/db';
import { reconcileLifecycles } from '../../src/operations/reconcile';
import type { BusEvent } from '../../src/bus/bus';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { recordHistories } from '../support/histories';

let stack: TestStack;
let api: ApiClient;
/** Workflows whose histories RECORD_HISTORIES=<change> saves for the replay test. */
const toRecord = new Map<string, string>();

beforeAll(async () => {
  stack = await createTestStack('mutation', 14);
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  const ini = `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[mut]\nservices=ssh,http\nmutate_interval=60\n`;
  const res = await api.post('/deckies/deploy', { ini_content: ini });
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(row.status).toBe('succeeded');
});

afterAll(async () => {
  try {
    if (stack?.master) await recordHistories(toRecord);
  } finally {
    await stack?.cleanup();
  }
});

async function containers(decky: string) {
  const list = await stack.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.decky}=${decky}`] },
  });
  const base = list.find((c) => c.Labels[LABELS.role] === ROLES.base)!;
  const info = await stack.docker.getContainer(base.Id).inspect();
  return {
    baseId: base.Id,
    baseIp: info.NetworkSettings.Networks[`${stack.config.composeProject}_lan`].IPAddress,
    services: list
      .filter((c) => c.Labels[LABELS.role] === ROLES.service && c.State === 'running')
      .map((c) => c.Labels[LABELS.service])
      .sort(),
  };
}

const schedule = () => stack.master!.client.schedule.getHandle(mutationScheduleId('mut'));
const everyMinutes = async () => Number((await schedule().describe()).spec.intervals?.[0]?.every) / 60_000;

async function scheduledRows(): Promise<DeckyLifecycle[]> {
  return stack.master!.orm.em.fork().find(DeckyLifecycle, { deckyName: 'mut', trigger: 'scheduled' }, { orderBy: { startedAt: 'asc' } });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('after a deploy with an interval, the decky has its schedule with that interval', async () => {
  expect(await everyMinutes()).toBe(60);
  const description = await schedule().describe();
  expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'scheduledMutationWorkflow', taskQueue: stack.config.taskQueue });
  expect(description.policies.overlap).toBe('SKIP');
});

test('an operator mutation swaps the service containers, keeps the base and its IP, and publishes the change', async () => {
  const before = await containers('mut');
  expect(before.services).toEqual(['http', 'ssh']);
  const events: BusEvent[] = [];
  const unsubscribe = stack.master!.bus.subscribe('decky.mut.mutation', (e) => events.push(e));
  try {
    const res = await api.post('/deckies/mut/mutate', { services: ['ftp', 'telnet'] });
    expect(res.status).toBe(202);
    expect(res.body.lifecycle_ids).toHaveLength(1);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect(row).toMatchObject({ status: 'succeeded', operation: 'mutate', trigger: 'operator', error: null });
    expect(row.steps.map((s: { name: string }) => s.name)).toEqual(['render', 'remove_stale', 'compose_up', 'verify']);
    toRecord.set('mutate-succeeded', row.workflow_id);
  } finally {
    unsubscribe();
  }
  const after = await containers('mut');
  expect(after.services).toEqual(['ftp', 'telnet']);
  expect({ id: after.baseId, ip: after.baseIp }).toEqual({ id: before.baseId, ip: before.baseIp });
  expect(events.map((e) => e.data)).toEqual([expect.objectContaining({ old_services: ['ssh', 'http'], new_services: ['ftp', 'telnet'], trigger: 'operator' })]);
  const decky = (await api.get('/deckies/mut')).body;
  expect(decky.services).toEqual(['ftp', 'telnet']);
  expect(decky.last_mutated).toBeTruthy();
});

test('without explicit services, pickNewServices chooses a different set', async () => {
  const res = await api.post('/deckies/mut/mutate');
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(row.status).toBe('succeeded');
  const after = await containers('mut');
  expect(after.services).not.toEqual(['ftp', 'telnet']);
  expect(after.services).toEqual([...(await api.get('/deckies/mut')).body.services].sort());
});

test('a second mutate while one is in flight is 409; unknown services are 400; an unknown decky is 404', async () => {
  const first = await api.post('/deckies/mut/mutate', { services: ['ssh'] });
  const second = await api.post('/deckies/mut/mutate', { services: ['ftp'] });
  expect(first.status).toBe(202);
  expect(second.status).toBe(409);
  expect(second.body.error.code).toBe('operation_in_flight');
  expect(second.body.error.message).toContain('mut');
  await waitForTerminal(api, first.body.lifecycle_ids);

  const unknown = await api.post('/deckies/mut/mutate', { services: ['gopher'] });
  expect(unknown.status).toBe(400);
  expect(unknown.body.error.message).toContain('gopher');
  expect((await api.post('/deckies/nosuch/mutate', {})).status).toBe(404);
});

test('mutate-interval accepts minutes and duration strings, updates the schedule, and null switches it off', async () => {
  const twoHours = await api.put('/deckies/mut/mutate-interval', { mutate_interval: '2h' });
  expect(twoHours.status).toBe(200);
  expect(twoHours.body).toEqual({ name: 'mut', mutate_interval: 120, effective_interval: 120 });
  expect(await everyMinutes()).toBe(120);

  expect((await api.put('/deckies/mut/mutate-interval', { mutate_interval: 45 })).body.effective_interval).toBe(45);
  expect(await everyMinutes()).toBe(45);

  const off = await api.put('/deckies/mut/mutate-interval', { mutate_interval: null });
  expect(off.body).toEqual({ name: 'mut', mutate_interval: null, effective_interval: null });
  await expect(schedule().describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);

  expect((await api.put('/deckies/mut/mutate-interval', { mutate_interval: '1d' })).body.effective_interval).toBe(1440);
  expect(await everyMinutes()).toBe(1440);

  expect((await api.put('/deckies/mut/mutate-interval', { mutate_interval: 'soon' })).status).toBe(400);
  expect((await api.put('/deckies/mut/mutate-interval', {})).status).toBe(400);
});

test('triggering the schedule produces a scheduled row that succeeds', async () => {
  const before = (await scheduledRows()).length;
  await schedule().trigger();
  const row = await until('a scheduled row', async () => (await scheduledRows())[before]);
  const [done] = await waitForTerminal(api, [row.id]);
  expect(done).toMatchObject({ status: 'succeeded', operation: 'mutate', trigger: 'scheduled' });
  expect(done.workflow_id).toBe(`decky-mut-mutate-${row.id}`);
  const parent = await stack.master!.client.workflow.getHandle(done.workflow_id).describe();
  expect(parent.parentExecution?.workflowId).toMatch(/^decky-mut-scheduled-mutation/);
  toRecord.set('scheduled-mutation', String(parent.parentExecution?.workflowId));
  // Both workflows say how they ended, for the Web UI's `Outcome="…"` filter.
  const scheduledRun = stack.master!.client.workflow.getHandle(String(parent.parentExecution?.workflowId));
  expect(await scheduledRun.result()).toBe(`mutated in ${done.workflow_id}`);
  for (const wf of [parent, await scheduledRun.describe()]) expect(wf.typedSearchAttributes.get(SEARCH_ATTRIBUTES.Outcome)).toBe('succeeded');
});

test('a paused schedule with a short interval mutates nothing, and resumes when unpaused', async () => {
  await schedule().update((previous) => ({ ...previous, spec: { intervals: [{ every: 3_000 }], jitter: 0 } }));
  await schedule().pause('test: paused');
  await until('in-flight rows to finish', async () =>
    (await stack.master!.orm.em.fork().count(DeckyLifecycle, { deckyName: 'mut', status: { $in: ['pending', 'running'] } })) === 0 ? true : undefined,
  );
  const whilePaused = (await scheduledRows()).length;
  await new Promise((r) => setTimeout(r, 10_000));
  expect((await scheduledRows()).length).toBe(whilePaused);

  await schedule().unpause('test: resumed');
  const row = await until('a scheduled row after unpause', async () => (await scheduledRows())[whilePaused], 30_000);
  await schedule().pause('test: done');
  expect((await waitForTerminal(api, [row.id]))[0].status).toBe('succeeded');
});

test('a scheduled plan retried after its commit gets its own row back, and the reconciler resumes it with its old services', async () => {
  await until('no operation in flight', async () =>
    (await stack.master!.orm.em.fork().count(DeckyLifecycle, { deckyName: 'mut', status: { $in: ['pending', 'running'] } })) === 0 ? true : undefined,
  );
  const { orm, bus, operations } = stack.master!;
  const before = (await api.get('/deckies/mut')).body.services;
  const activities = createDbActivities(orm, bus, operations.catalogue);
  // The same activity twice for one Schedule run, as when the worker died after the commit but
  // before Temporal heard of it: the retry must find the row, not a busy decky.
  const scheduleRun = `decky-mut-scheduled-mutation-${new Date().toISOString()}`;
  const planned = await activities.submitScheduledMutation('mut', scheduleRun);
  expect(planned).toMatchObject({ previousServices: before });
  expect(await activities.submitScheduledMutation('mut', scheduleRun)).toEqual(planned);
  // Another run of the Schedule meanwhile is skipped: the decky is busy with this one.
  expect(await activities.submitScheduledMutation('mut', `${scheduleRun}-next`)).toBeNull();

  // The plan's run died before starting the workflow: the reconciler starts it from the row alone.
  const events: BusEvent[] = [];
  const unsubscribe = bus.subscribe('decky.mut.mutation', (e) => events.push(e));
  try {
    const report = await reconcileLifecycles(operations, { graceMs: 0 });
    expect(report.started).toEqual([planned!.lifecycleId]);
    const [row] = await waitForTerminal(api, [planned!.lifecycleId]);
    expect(row).toMatchObject({ status: 'succeeded', trigger: 'scheduled' });
    const history = await stack.master!.client.workflow.getHandle(planned!.workflowId).fetchHistory();
    const [input] = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!.map((p) => defaultPayloadConverter.fromPayload(p));
    expect(input).toMatchObject({ lifecycleId: planned!.lifecycleId, previousServices: before });
  } finally {
    unsubscribe();
  }
  expect(events.map((e) => e.data)).toEqual([expect.objectContaining({ old_services: before, trigger: 'scheduled' })]);
});

test('teardown deletes the schedule', async () => {
  await until('no operation in flight', async () =>
    (await stack.master!.orm.em.fork().count(DeckyLifecycle, { deckyName: 'mut', status: { $in: ['pending', 'running'] } })) === 0 ? true : undefined,
  );
  const res = await api.delete('/deckies/mut');
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(row.status).toBe('succeeded');
  expect(row.steps.map((s: { name: string }) => s.name)).toEqual(['unschedule', 'compose_down']);
  await expect(schedule().describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
});
