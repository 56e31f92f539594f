/**
 * Prometheus metrics (SPEC §12): one registry per process, so the API's GET /metrics also shows
 * the worker's figures when both run in one process (`decnet up`).
 */
import http from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LifecycleStatus, Operation } from './domain/schemas';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const OPERATIONS: Operation[] = ['deploy', 'mutate', 'teardown'];
const OUTCOMES = ['succeeded', 'failed'] as const;

export const operationsTotal = new Counter({
  name: 'decnet_operations_total',
  help: 'Decky operations that reached a terminal state, by operation and outcome',
  labelNames: ['operation', 'outcome'] as const,
  registers: [registry],
});

export const operationDuration = new Histogram({
  name: 'decnet_operation_duration_seconds',
  help: 'Time from submission (lifecycle row created) to terminal state, by operation and outcome',
  labelNames: ['operation', 'outcome'] as const,
  buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
  registers: [registry],
});

export const activityRetries = new Counter({
  name: 'decnet_activity_retries_total',
  help: 'Activity attempts after the first one, by activity type',
  labelNames: ['activity'] as const,
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: 'decnet_http_request_duration_seconds',
  help: 'API request duration by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

// Every operation × outcome series exists from the start at 0, so rate() and increase() see the first event.
for (const operation of OPERATIONS) for (const outcome of OUTCOMES) operationsTotal.labels(operation, outcome).inc(0);

/** Called once per lifecycle row, when it becomes terminal. */
export function recordOperationFinished(row: { operation: Operation; status: LifecycleStatus; startedAt: Date; completedAt: Date | null }): void {
  if (row.status !== 'succeeded' && row.status !== 'failed') return;
  const seconds = Math.max(0, ((row.completedAt ?? new Date()).getTime() - row.startedAt.getTime()) / 1000);
  operationsTotal.labels(row.operation, row.status).inc();
  operationDuration.labels(row.operation, row.status).observe(seconds);
}

/** The Prometheus text exposition of this process's registry. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * A bare /metrics listener for processes without the API (`decnet worker` with
 * DECNET_METRICS_PORT set), so every worker of a scaled-out fleet can be scraped.
 */
export async function startMetricsServer(host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metricsText().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
