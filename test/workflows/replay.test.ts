/**
 * Determinism guard: histories recorded from real runs (RECORD_HISTORIES=<change> with the integration
 * tests) must replay against today's workflow code. A change that breaks determinism fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../worker';

const dir = path.join(__dirname, '..', 'histories');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

test('recorded histories exist for every decky workflow', () => {
  expect(files.sort()).toEqual(
    expect.arrayContaining([
      'deploy-missing-image.json',
      'deploy-succeeded.json',
      'mutate-succeeded.json',
      'scheduled-mutation.json',
      'teardown-succeeded.json',
      'swarm-deploy-succeeded.json',
      'swarm-deploy-master-killed.json',
      'swarm-deploy-agent-unreachable.json',
      'swarm-mutate-succeeded.json',
      'swarm-teardown-succeeded.json',
      // Local database steps (patch 'local-db-steps'), beside the runs of the code before it.
      ...['deploy-succeeded', 'deploy-missing-image', 'mutate-succeeded', 'scheduled-mutation', 'teardown-succeeded'].map((f) => `${f}@local-db-steps.json`),
      ...['swarm-deploy-succeeded', 'swarm-deploy-master-killed', 'swarm-deploy-agent-unreachable', 'swarm-mutate-succeeded', 'swarm-teardown-succeeded'].map(
        (f) => `${f}@local-db-steps.json`,
      ),
      // Workflows that end as their row did, with an Outcome (patch 'workflow-outcome').
      ...['deploy-succeeded', 'deploy-missing-image', 'mutate-succeeded', 'scheduled-mutation', 'teardown-succeeded'].map((f) => `${f}@workflow-outcome.json`),
      ...['swarm-deploy-succeeded', 'swarm-deploy-master-killed', 'swarm-deploy-agent-unreachable', 'swarm-mutate-succeeded', 'swarm-teardown-succeeded'].map(
        (f) => `${f}@workflow-outcome.json`,
      ),
      // The heal workflow (added with auto-heal).
      'heal-succeeded@auto-heal.json',
      'heal-failed@auto-heal.json',
      // The move workflow of a driver change (added with driver changes).
      'move-failed@driver-change.json',
      'swarm-move-failed@driver-change.json',
    ]),
  );
});

test('every recorded history replays without a nondeterminism error', async () => {
  const histories = files.map((file) => ({ workflowId: file, history: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) }));
  const results = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    results.push({ workflowId: result.workflowId, error: result.error ? String(result.error) : undefined });
  }
  expect(results).toEqual(histories.map((h) => ({ workflowId: h.workflowId, error: undefined })));
}, 120_000);
