/**
 * A fleet of `decnet api` and `decnet worker` processes on one PostgreSQL and one Temporal task
 * queue, as operators scale out (test/cluster, bench/scale-out): each a real child process, an API
 * counted as started once /readyz answers, a worker once Temporal shows it polling.
 */
import os from 'node:os';
import type { Connection } from '@temporalio/client';
import type { Client } from 'pg';
import { temporal } from '@temporalio/proto';
import { waitFor } from './http';
import { spawnDecnet, waitForHttp, type DecnetProcess } from './process';

export interface FleetProcess {
  name: string;
  command: 'api' | 'worker';
  env: NodeJS.ProcessEnv;
  logFile: string;
  proc?: DecnetProcess;
}

/** The identity a worker process gives Temporal (the SDK's default: `<pid>@<hostname>`). */
export const workerIdentity = (proc: DecnetProcess) => `${proc.child.pid}@${os.hostname()}`;

export const apiBaseOf = (member: Pick<FleetProcess, 'env'>) => `http://127.0.0.1:${member.env.DECNET_API_PORT}/api/v1`;

/** Spawns the member's process and resolves once it serves; rejects if it exits first. */
export async function startFleetProcess(member: FleetProcess, connection: Connection): Promise<void> {
  const running = member.proc && member.proc.child.exitCode === null && member.proc.child.signalCode === null;
  if (running) throw new Error(`${member.name} still runs (pid ${member.proc!.child.pid}): stop it before starting it again`);
  const proc = spawnDecnet([member.command], member.env, member.logFile);
  member.proc = proc;
  let started = false;
  const exited = proc.exited.then((code) => {
    if (!started) throw new Error(`decnet ${member.command} (${member.name}) exited with ${code} while starting: see ${member.logFile}`);
  });
  const ready =
    member.command === 'api'
      ? waitForHttp(`http://127.0.0.1:${member.env.DECNET_API_PORT}/readyz`)
      : untilPolling(connection, member.env.TEMPORAL_NAMESPACE ?? 'default', member.env.DECNET_TASK_QUEUE!, workerIdentity(proc));
  await Promise.race([ready, exited]);
  started = true;
}

/** Until the worker of this identity polls the task queue for both workflow and activity tasks. */
export async function untilPolling(connection: Connection, namespace: string, taskQueue: string, identity: string): Promise<void> {
  const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;
  await waitFor(
    `worker ${identity} polling ${taskQueue}`,
    async () => {
      for (const taskQueueType of [TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY]) {
        const { pollers } = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType });
        if (!pollers?.some((p) => p.identity === identity)) return undefined;
      }
      return true;
    },
    120_000,
  );
}

/** The events of an SSE stream (GET `base`/events?topic=…), as they arrive, until close(). */
export async function openEventStream(base: string, token: string, topic: string) {
  const controller = new AbortController();
  const res = await fetch(`${base}/events?topic=${topic}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  if (res.status !== 200) throw new Error(`GET /events answered ${res.status}`);
  const events: Array<{ topic: string; data: Record<string, unknown>; at: string }> = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      const complete = buffer.lastIndexOf('\n\n');
      if (complete < 0) continue;
      for (const match of buffer.slice(0, complete).matchAll(/^data: (.*)$/gm)) events.push(JSON.parse(match[1]));
      buffer = buffer.slice(complete + 2);
    }
  })().catch(() => undefined);
  return {
    events,
    async close() {
      controller.abort();
      await reading;
    },
  };
}

/** Who holds a leader lock now: the sessions of the granted advisory locks of that key in `db`'s database. */
export async function leaderHolders(db: Client, key: number): Promise<Array<{ pid: number; application_name: string }>> {
  const { rows } = await db.query<{ pid: number; application_name: string }>(
    `select l.pid, a.application_name from pg_locks l join pg_stat_activity a using (pid)
      where l.locktype = 'advisory' and l.objid = $1 and l.granted and l.database = (select oid from pg_database where datname = current_database())`,
    [key],
  );
  return rows;
}
