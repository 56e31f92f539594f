/** One log line and one histogram observation per API request, labelled by route pattern. */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { httpRequestDuration } from '../metrics';
import { routePattern } from './openapi';

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
