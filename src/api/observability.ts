/** One log line and one histogram observation per API request, labelled by route pattern. */
import express, { type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { MikroORM } from '@mikro-orm/postgresql';
import { httpRequestDuration, metricsText, setDeckiesByState, setLifecyclesInFlight } from '../metrics';
import { routePattern } from './openapi';
import { sendError } from '../http/errors';

/** Polled constantly by clients and probes: their lines are debug, so info stays readable. */
const QUIET_ROUTES = new Set(['/api/v1/deckies/lifecycle', '/healthz', '/api/v1/healthz', '/readyz', '/api/v1/readyz', '/metrics', '/docs']);

export function requestObserver(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // Now, before routers strip their mount paths from req.url.
    const route = routePattern(req.path);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The connection closed before a response (a client gone mid-request, an SSE stream ending).
      const status = res.headersSent ? res.statusCode : 499;
      httpRequestDuration.labels(req.method, route, String(status)).observe(seconds);
      const line = { method: req.method, route, status, duration_ms: Math.round(seconds * 1e4) / 10 };
      if (status >= 500) logger.error(line, 'request');
      else if (QUIET_ROUTES.has(route)) logger.debug(line, 'request');
      else logger.info(line, 'request');
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}

/**
 * GET /metrics: this process's registry (API and, in `decnet up`, the worker), with the in-flight
 * lifecycle and decky-state gauges read from PostgreSQL first, then `more` (the Temporal SDK
 * runtime's metrics, where a worker runs). A database or an exporter that does not answer leaves
 * its part out: the scrape itself still succeeds.
 */
export function metricsHandler(orm: MikroORM, logger: Logger, more?: () => Promise<string>): RequestHandler {
  return (_req, res, next) => {
    const connection = orm.em.getConnection();
    Promise.all([
      connection
        .execute(`select operation, status, count(*) as count from decky_lifecycle where status in ('pending', 'running') group by operation, status`)
        .then((rows) => setLifecyclesInFlight(rows as { operation: string; status: string; count: string }[])),
      connection
        .execute(`select state, count(*) as count from decky group by state`)
        .then((rows) => setDeckiesByState(rows as { state: string; count: string }[])),
    ])
      .catch((err: unknown) => logger.debug({ err }, 'metrics: fleet gauges not read'))
      .then(() => Promise.all([metricsText(), more?.().catch((err: unknown) => (logger.warn({ err }, 'metrics: Temporal SDK metrics not read'), ''))]))
      .then(([{ contentType, body }, extra]) => {
        res.setHeader('Content-Type', contentType);
        res.send(extra ? `${body}\n${extra}` : body);
      }, next);
  };
}

/** A process without the API: GET /metrics alone, on DECNET_METRICS_PORT. */
export function metricsApp(orm: MikroORM, logger: Logger, more?: () => Promise<string>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(orm, logger, more));
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}; this port serves GET /metrics`));
  return app;
}
