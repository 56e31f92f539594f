/** The master's Temporal worker: decky workflows plus the activities that touch PostgreSQL, Docker and Temporal. */
import path from 'node:path';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities, type ActivityDeps } from './src/activities';
import { activityInterceptors } from './src/activities/interceptors';
import { createLogger, temporalSdkLogger } from './src/logger';

/** Resolves to src/workflows from the sources (tsx) and to dist/src/workflows after tsc. */
export const WORKFLOWS_PATH = path.join(__dirname, 'src', 'workflows');

let bundled: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundle the workflow code once per process: bundling takes seconds. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundled ??= bundleWorkflowCode({ workflowsPath: require.resolve(WORKFLOWS_PATH), logger: quietBundlerLogger });
  return bundled;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

export interface WorkerOptions {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Activity log lines (and the SDK's warnings, on the first worker of the process) go here. */
  logger?: Logger;
}

let runtimeInstalled = false;
/** The SDK logs every worker state change at INFO; warnings and errors are what operators need, as JSON lines. */
function installRuntimeOnce(logger: Logger): void {
  if (runtimeInstalled) return;
  // shutdownSignals: []: the CLI owns SIGINT/SIGTERM and stops the worker itself, in order.
  Runtime.install({ logger: temporalSdkLogger(logger, 'WARN'), shutdownSignals: [] });
  runtimeInstalled = true;
}

export async function createWorker(opts: WorkerOptions): Promise<Worker> {
  const logger = opts.logger ?? createLogger(process.env.DECNET_LOG_LEVEL || 'info');
  installRuntimeOnce(logger);
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  return Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(opts.deps),
    // Per-execution child loggers (workflow_id, lifecycle_id, decky), failure lines and the retry counter.
    interceptors: { activity: [activityInterceptors(logger)] },
    // Docker work is mostly waiting on child processes; a handful in parallel keeps 2 cores busy.
    maxConcurrentActivityTaskExecutions: 20,
    shutdownGraceTime: '10s',
    // A killed worker's cached workflows go back to the shared queue after this (default 10 s):
    // the restarted master picks them up sooner.
    stickyQueueScheduleToStartTimeout: '3s',
  });
}
