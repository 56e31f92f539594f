/** The master's Temporal worker: decky workflows plus the activities that touch PostgreSQL, Docker and Temporal. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities, type ActivityDeps } from './src/activities';
import { activityInterceptors } from './src/activities/interceptors';
import { createLogger, temporalSdkLogger } from './src/logger';

/** Resolves to src/workflows from the sources (tsx) and to dist/src/workflows after tsc. */
export const WORKFLOWS_PATH = path.join(__dirname, 'src', 'workflows');

let bundled: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundle the workflow code once per process (bundling takes seconds), or load it from the cache. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundled ??= cachedBundle();
  return bundled;
}

const BundleSchema = z.object({ code: z.string().min(1), sourceMap: z.string() });

/**
 * The bundle is kept on disk under a key made of every source file and the workflow SDK's version:
 * a restarted master skips the bundling, and any change to the code is a new key, so a bundle of
 * other code is never run.
 */
async function cachedBundle(): Promise<WorkflowBundleWithSourceMap> {
  const file = path.join(os.tmpdir(), 'decnet-workflow-bundles', `${await sourcesKey()}.json`);
  const cached = BundleSchema.safeParse(await fs.readFile(file, 'utf8').then(JSON.parse, () => undefined));
  if (cached.success) return cached.data;
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve(WORKFLOWS_PATH), logger: quietBundlerLogger });
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ code: bundle.code, sourceMap: bundle.sourceMap }));
  await fs.rename(tmp, file);
  // Bundles of other code are not needed again by this checkout: at most one is kept.
  for (const other of await fs.readdir(path.dirname(file))) {
    if (other !== path.basename(file) && other.endsWith('.json')) await fs.rm(path.join(path.dirname(file), other), { force: true });
  }
  return bundle;
}

async function sourcesKey(): Promise<string> {
  const root = path.join(__dirname, 'src');
  const sdk = await fs.readFile(require.resolve('@temporalio/workflow/package.json'));
  const hash = createHash('sha256').update(sdk);
  const files = (await fs.readdir(root, { recursive: true })).filter((f) => /\.(ts|js)$/.test(f)).sort();
  for (const file of files) hash.update(file).update(await fs.readFile(path.join(root, file)));
  return hash.digest('hex').slice(0, 32);
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

/** The SDK runtime's Prometheus exporter, once installed: a loopback port of its own. */
let sdkMetricsUrl: string | undefined;
let runtimeInstalled: Promise<void> | undefined;
/**
 * The SDK logs every worker state change at INFO; warnings and errors are what operators need, as
 * JSON lines. Its metrics (activity and workflow-task counters and latencies, slots, polls) go to
 * an exporter on loopback, which temporalSdkMetrics() reads, so a process has one scrape target.
 */
function installRuntimeOnce(logger: Logger): Promise<void> {
  runtimeInstalled ??= installRuntime(logger);
  return runtimeInstalled;
}

async function installRuntime(logger: Logger): Promise<void> {
  const port = await freeLoopbackPort();
  Runtime.install({
    logger: temporalSdkLogger(logger, 'WARN'),
    // Prometheus conventions: seconds, unit suffixes, counters ending in _total.
    telemetryOptions: {
      metrics: { prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
    },
    // shutdownSignals: []: the CLI owns SIGINT/SIGTERM and stops the worker itself, in order.
    shutdownSignals: [],
  });
  sdkMetricsUrl = `http://127.0.0.1:${port}/metrics`;
}

/** The Temporal SDK runtime's metrics in the Prometheus text format; empty before a worker exists in this process. */
export async function temporalSdkMetrics(): Promise<string> {
  if (!sdkMetricsUrl) return '';
  const res = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`the Temporal SDK metrics exporter answered ${res.status}`);
  return res.text();
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function createWorker(opts: WorkerOptions): Promise<Worker> {
  const logger = opts.logger ?? createLogger(process.env.DECNET_LOG_LEVEL || 'info');
  await installRuntimeOnce(logger);
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  // The worker does not own the connection: whoever ends the worker closes it (worker.connection).
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
  }).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
}
