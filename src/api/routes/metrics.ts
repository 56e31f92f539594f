/** GET /metrics: Prometheus, on the API port and, in a process without the API, alone on DECNET_METRICS_PORT. */
import express from 'express';
import type { Logger } from 'pino';
import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { metricsText, setDeckiesByState, setLifecyclesInFlight } from '../../metrics';
import { sendError } from '../../http/errors';
import { RouteTable } from '../route';

interface MetricsSources {
  orm: MikroORM;
  logger: Logger;
  /** More Prometheus text: the Temporal SDK runtime's, where a worker runs. */
  more?: () => Promise<string>;
}

export const metricsRoutes = new RouteTable<MetricsSources>('operations');

/**
 * This process's registry (API and, in `decnet up`, the worker), with the in-flight lifecycle and
 * decky-state gauges read from PostgreSQL first, then `more`. A database or an exporter that does
 * not answer leaves its part out: the scrape itself still succeeds.
 */
metricsRoutes.get(
  '/metrics',
  {
    summary: 'Prometheus metrics',
    access: 'public',
    status: 200,
    success: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string() } } },
  },
  async (_req, res, { orm, logger, more }) => {
    const connection = orm.em.getConnection();
    await Promise.all([
      connection
        .execute(`select operation, status, count(*) as count from decky_lifecycle where status in ('pending', 'running') group by operation, status`)
        .then((rows) => setLifecyclesInFlight(rows as { operation: string; status: string; count: string }[])),
      connection
        .execute(`select state, count(*) as count from decky group by state`)
        .then((rows) => setDeckiesByState(rows as { state: string; count: string }[])),
    ]).catch((err: unknown) => logger.debug({ err }, 'metrics: fleet gauges not read'));
    const [{ contentType, body }, extra] = await Promise.all([
      metricsText(),
      more?.().catch((err: unknown) => (logger.warn({ err }, 'metrics: Temporal SDK metrics not read'), '')),
    ]);
    res.setHeader('Content-Type', contentType);
    res.send(extra ? `${body}\n${extra}` : body);
  },
);

/** A process without the API: GET /metrics alone. */
export function metricsApp(orm: MikroORM, logger: Logger, more?: () => Promise<string>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  metricsRoutes.register(app, { orm, logger, more });
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}; this port serves GET /metrics`));
  return app;
}
