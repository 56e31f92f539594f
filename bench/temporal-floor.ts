/**
 * bench/temporal-floor: what Temporal alone costs per row on this machine (not a test; it prints
 * a table and asserts nothing). A worker in this process, with the product's worker settings, runs
 * bench/floor-workflow.ts, which has the shape of a local deploy ending at the image check (the
 * same local activities, activities, search-attribute upserts and failure) with nothing behind its
 * steps: no PostgreSQL, no Docker, no API. Its CPU per row (this process's and the dev server's,
 * read from /proc) is what Temporal costs a row of that shape here, whatever our code does: the
 * cores divided by it bound the rows/s of the product with that shape. Sends traffic only to loopback.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { findTemporalCli, registerSearchAttributes, startTemporalDevServer } from '../src/infra/temporal-cli';
import { SEARCH_ATTRIBUTE_KINDS } from '../src/domain/workflow-ids';
import { benchDataDir, printTable, type Figure } from './support';

const DATA = benchDataDir('.bench-data-floor');
const PORTS = { temporal: 7294, temporalUi: 7295 };
const TASK_QUEUE = 'floor';
const WARM_UP = 50;
const ROWS = 300;
/** As src/operations/workflow-start.ts: at most this many workflow starts in flight. */
const START_CONCURRENCY = 16;

/** The workflows whose last step ran (a local activity may run twice: each counts once). */
const rowsDone = new Set<string>();
let onRowDone: () => void = () => undefined;

function createFloorActivities() {
  return {
    async touchRow(_what: string): Promise<void> {},
    async dockerStep(step: string): Promise<void> {
      if (step === 'compose_up') throw ApplicationFailure.nonRetryable('image missing', 'ImageMissing');
    },
    async rowDone(workflowId: string): Promise<void> {
      rowsDone.add(workflowId);
      onRowDone();
    },
  };
}
export type FloorActivities = ReturnType<typeof createFloorActivities>;

/** user + system CPU of a process, in ms, from /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function runRows(client: Client, workflow: string, prefix: string, count: number, devServerPid: number) {
  rowsDone.clear();
  const done = new Promise<void>((resolve) => {
    onRowDone = () => {
      if (rowsDone.size >= count) resolve();
    };
  });
  const cpu0 = { own: ownCpuMs(), server: processCpuMs(devServerPid) };
  const started = performance.now();
  const limit = pLimit(START_CONCURRENCY);
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit(() => client.workflow.start(workflow, { taskQueue: TASK_QUEUE, workflowId: `${prefix}-${i}`, args: [`${prefix}-${i}`] })),
    ),
  );
  await done;
  const elapsed = performance.now() - started;
  return { elapsed, ownCpu: ownCpuMs() - cpu0.own, serverCpu: processCpuMs(devServerPid) - cpu0.server };
}

async function main() {
  await fs.rm(DATA, { recursive: true, force: true });
  await fs.mkdir(DATA, { recursive: true });
  const temporal = await startTemporalDevServer({
    cliPath: findTemporalCli(),
    dbFile: path.join(DATA, 'temporal.db'),
    port: PORTS.temporal,
    uiPort: PORTS.temporalUi,
    logFile: path.join(DATA, 'temporal.log'),
  });
  Runtime.install({
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  const connection = await Connection.connect({ address: temporal.address });
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    await registerSearchAttributes(connection, 'default', SEARCH_ATTRIBUTE_KINDS);
    const client = new Client({ connection });
    // The product's worker settings (worker.ts).
    worker = await Worker.create({
      connection: nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: require.resolve('./floor-workflow'),
      activities: createFloorActivities(),
      maxConcurrentActivityTaskExecutions: 20,
      shutdownGraceTime: '10s',
      stickyQueueScheduleToStartTimeout: '3s',
    });
    running = worker.run();
    await runRows(client, 'floorDeployWorkflow', 'warm', WARM_UP, temporal.pid);
    const shapes = [
      { what: "a local deploy's shape (ending at the image check)", run: await runRows(client, 'floorDeployWorkflow', 'deploy', ROWS, temporal.pid) },
      {
        what: 'the least a row can be (one local activity, one activity, one local activity)',
        run: await runRows(client, 'floorMinimalWorkflow', 'minimal', ROWS, temporal.pid),
      },
    ];
    const cores = os.cpus().length;
    const perRow = (cpu: number) => cpu / ROWS;
    const figures: Figure[] = shapes.flatMap(({ what, run }) => [
      {
        figure: `Temporal alone, ${ROWS} rows of ${what}: first start → every row's last step`,
        target: '≥ 50 rows/s (the product)',
        measured: `${(ROWS / (run.elapsed / 1000)).toFixed(1)} rows/s (${(run.elapsed / 1000).toFixed(2)} s)`,
      },
      {
        figure: '… CPU per row: the worker and client (this process) / the Temporal dev server',
        target: '—',
        measured: `${perRow(run.ownCpu).toFixed(1)} ms / ${perRow(run.serverCpu).toFixed(1)} ms`,
      },
      {
        figure: `… the most rows/s ${cores} cores give that CPU, with nothing else running`,
        target: '≥ 50 rows/s',
        measured: `${((cores * 1000) / (perRow(run.ownCpu) + perRow(run.serverCpu))).toFixed(1)} rows/s`,
      },
    ]);
    printTable('bench/temporal-floor', figures);
  } finally {
    if (worker && running) {
      worker.shutdown();
      await running;
    }
    await connection.close();
    await nativeConnection.close();
    await temporal.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
