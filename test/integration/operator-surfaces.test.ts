/**
 * Metrics, logs and search attributes against a real deploy (Temporal, PostgreSQL, Docker):
 * /metrics parses as Prometheus text and counts each deployed decky once; the process logs
 * JSON lines carrying lifecycle_id, decky and workflow_id; a visibility query by DeckyName
 * finds exactly that decky's workflows.
 */
import pino from 'pino';
import { fetch } from 'undici';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { parsePrometheusText, sampleValue, type Family } from '../support/prometheus';
import { openApiDocument } from '../../src/api/openapi';

let stack: TestStack;
let api: ApiClient;
let origin: string;
const lines: Record<string, any>[] = [];

beforeAll(async () => {
  stack = await createTestStack('surfaces', 22);
  // The master's logger (API, worker, SDK) writes here, at debug, so the test reads every line.
  const logger = pino({ name: 'surfaces', level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  await stack.startMaster({ logger });
  api = apiClient(stack.api, stack.adminToken);
  origin = new URL(stack.api).origin;
});

afterAll(async () => {
  await stack?.cleanup();
});

async function scrape(): Promise<Map<string, Family>> {
  const res = await fetch(`${origin}/metrics`); // no auth
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

const deployed = (families: Map<string, Family>, outcome: 'succeeded' | 'failed') =>
  sampleValue(families, 'decnet_operations_total', { operation: 'deploy', outcome });

let rows: any[] = [];

test('deploying 2 deckies raises decnet_operations_total{deploy,succeeded} by exactly 2; /metrics parses as Prometheus text', async () => {
  const before = await scrape();
  expect(deployed(before, 'succeeded')).toBe(0);

  const ini = `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[obs-a]\nservices=ssh\n\n[obs-b]\nservices=http\n`;
  const res = await api.post('/deckies/deploy', { ini_content: ini });
  expect(res.status).toBe(202);
  rows = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(rows.map((r) => [r.decky_name, r.status])).toEqual([
    ['obs-a', 'succeeded'],
    ['obs-b', 'succeeded'],
  ]);

  const after = await scrape();
  expect(deployed(after, 'succeeded')).toBe(2);
  expect(deployed(after, 'failed')).toBe(0);
  const durations = sampleValue(after, 'decnet_operation_duration_seconds_count', { operation: 'deploy', outcome: 'succeeded' });
  expect(durations).toBe(2);
  expect(sampleValue(after, 'decnet_operation_duration_seconds_sum', { operation: 'deploy', outcome: 'succeeded' })).toBeGreaterThan(0);
  expect(after.get('decnet_activity_retries_total')?.type).toBe('counter');
  expect(after.get('process_resident_memory_bytes')?.type).toBe('gauge');

  // HTTP durations by route pattern: the deploy and the lifecycle polls, never a raw path.
  const http = after.get('decnet_http_request_duration_seconds')!;
  expect(sampleValue(after, 'decnet_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/deckies/deploy', status: '202' })).toBe(1);
  expect(
    sampleValue(after, 'decnet_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/deckies/lifecycle', status: '200' }),
  ).toBeGreaterThanOrEqual(1);
  const documented = new Set([...Object.keys(openApiDocument().paths ?? {}), '/docs', 'unmatched']);
  const routes = new Set(http.samples.map((s) => s.labels.route));
  expect([...routes].filter((r) => !documented.has(r))).toEqual([]);
});

test("a workflow list query by DeckyName returns that decky's workflows", async () => {
  const [a] = rows;
  const teardown = await api.delete('/deckies/obs-a');
  expect(teardown.status).toBe(202);
  const [down] = await waitForTerminal(api, teardown.body.lifecycle_ids);
  expect(down.status).toBe('succeeded');

  const expected = [a.workflow_id, down.workflow_id].sort();
  const client = stack.master!.client;
  // Visibility is eventually consistent: poll briefly.
  let found: { id: string; type: string; attrs: unknown }[] = [];
  for (let i = 0; i < 40; i++) {
    found = [];
    for await (const wf of client.workflow.list({ query: 'DeckyName="obs-a"' })) {
      found.push({ id: wf.workflowId, type: wf.type, attrs: wf.typedSearchAttributes });
    }
    if (found.length >= expected.length) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(found.map((w) => w.id).sort()).toEqual(expected);
  expect(found.map((w) => w.type).sort()).toEqual(['deployDeckyWorkflow', 'teardownDeckyWorkflow']);
  // And by operation: the same attributes the Web UI filters on.
  const deploys: string[] = [];
  for await (const wf of client.workflow.list({ query: 'DeckyName="obs-a" AND Operation="deploy"' })) deploys.push(wf.workflowId);
  expect(deploys).toEqual([a.workflow_id]);
});

test('logs are JSON lines: one per request with its route, activities with lifecycle_id, decky and workflow_id', () => {
  const requests = lines.filter((l) => l.msg === 'request');
  const deploy = requests.filter((l) => l.route === '/api/v1/deckies/deploy');
  expect(deploy).toEqual([expect.objectContaining({ level: 30, method: 'POST', status: 202, duration_ms: expect.any(Number) })]);
  // Lifecycle polls and scrapes are debug: they would drown info.
  const polls = requests.filter((l) => l.route === '/api/v1/deckies/lifecycle');
  expect(polls.length).toBeGreaterThan(0);
  expect(polls.every((l) => l.level === 20)).toBe(true);
  expect(requests.filter((l) => l.route === '/metrics').every((l) => l.level === 20)).toBe(true);

  for (const row of rows) {
    const activities = lines.filter((l) => l.lifecycle_id === row.id && l.activity);
    const names = activities.map((l) => l.activity);
    expect(names).toEqual(expect.arrayContaining(['startLifecycle', 'composeUp', 'verifyDecky', 'finishLifecycle']));
    for (const l of activities) expect(l).toMatchObject({ decky: row.decky_name, workflow_id: row.workflow_id });
  }
  // Nothing at info or above per activity on success.
  expect(lines.filter((l) => l.activity && l.level >= 30)).toEqual([]);
});
