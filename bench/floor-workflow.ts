/**
 * The shape of a local deploy that ends at the image check (test/histories/deploy-missing-image@
 * workflow-outcome.json) with nothing behind its steps: bench/temporal-floor runs it to measure
 * what Temporal alone costs per row on this machine.
 */
import { ApplicationFailure, proxyActivities, proxyLocalActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { FloorActivities } from './temporal-floor';

const db = proxyLocalActivities<FloorActivities>({ scheduleToCloseTimeout: '30s' });
const docker = proxyActivities<FloorActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });

export async function floorDeployWorkflow(name: string): Promise<void> {
  upsertSearchAttributes({ DeckyName: [name], Operation: ['deploy'] });
  await db.touchRow('running');
  await db.touchRow('plan');
  await db.touchRow('steps');
  await docker.dockerStep('render');
  await docker.dockerStep('network');
  await docker.dockerStep('compose_up').catch(() => undefined);
  await db.touchRow('steps');
  await db.touchRow('failed');
  upsertSearchAttributes({ Outcome: ['failed'] });
  await db.rowDone(workflowInfo().workflowId);
  throw ApplicationFailure.nonRetryable('ImageMissing: the image is not on the Docker engine', 'ImageMissing');
}

/** The least a row can be: marked running, one step, finished. */
export async function floorMinimalWorkflow(): Promise<void> {
  await db.touchRow('running');
  await docker.dockerStep('all');
  await db.rowDone(workflowInfo().workflowId);
}
