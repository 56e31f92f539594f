/**
 * Prometheus metrics (architecture.md §12): one registry per process, so the API's GET /metrics also shows
 * the worker's figures when both run in one process (`decnet up`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DeckyStateSchema, OperationSchema, type LifecycleStatus, type Operation } from './domain/schemas';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const OPERATIONS: readonly Operation[] = OperationSchema.options;
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

export const embeddedRestarts = new Counter({
  name: 'decnet_embedded_restarts_total',
  help: 'Restarts by `decnet up` of an embedded part that exited (postgres, temporal), by component',
  labelNames: ['component'] as const,
  registers: [registry],
});
for (const component of ['postgres', 'temporal']) embeddedRestarts.labels(component).inc(0);

/** The product's queue depth: lifecycle rows not yet terminal, refreshed from PostgreSQL at each scrape. */
export const lifecyclesInFlight = new Gauge({
  name: 'decnet_lifecycles_in_flight',
  help: 'Lifecycle rows pending or running, by operation and status (read from PostgreSQL when scraped)',
  labelNames: ['operation', 'status'] as const,
  registers: [registry],
});

/** Sets the in-flight gauge from `select operation, status, count(*)` rows; absent pairs are 0. */
export function setLifecyclesInFlight(rows: { operation: string; status: string; count: number | string }[]): void {
  for (const operation of OPERATIONS) for (const status of ['pending', 'running']) lifecyclesInFlight.labels(operation, status).set(0);
  for (const row of rows) lifecyclesInFlight.labels(row.operation, row.status).set(Number(row.count));
}

/** The fleet by decky state, refreshed from PostgreSQL at each scrape (drift makes deckies `degraded`). */
export const deckiesByState = new Gauge({
  name: 'decnet_deckies',
  help: 'Deckies by state (read from PostgreSQL when scraped)',
  labelNames: ['state'] as const,
  registers: [registry],
});

/** Sets the decky-state gauge from `select state, count(*)` rows; absent states are 0. */
export function setDeckiesByState(rows: { state: string; count: number | string }[]): void {
  for (const state of DeckyStateSchema.options) deckiesByState.labels(state).set(0);
  for (const row of rows) deckiesByState.labels(row.state).set(Number(row.count));
}

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
