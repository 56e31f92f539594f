/** The operators' HTTP API (/api/v1) as an express app; listening is the caller's business. */
import express from 'express';
import { UnavailableError } from '../operations/errors';
import { authenticate } from './auth';
import type { ApiDeps } from './deps';
import { errorHandler, sendError } from '../http/errors';
import { refuseDeepJson, rejectNulCharacters } from './input-guards';
import { requestObserver } from './observability';
import { openApiRouter } from './openapi';
import { catalogRoutes } from './routes/catalog';
import { deckiesRoutes } from './routes/deckies';
import { eventStreams, eventsRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { swarmRoutes } from './routes/swarm';
import { agentArtefactRouter, swarmBundleRouter } from '../swarm/enrollment-routes';
import { systemRoutes } from './routes/system';
import { tokensRoutes } from './routes/tokens';
import { webUiRouter } from './web';

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Node's querystring: a repeated key is an array of any length. qs ('extended') turns more than
  // 20 repeats into an object, and the API has no nested query parameters to need it.
  app.set('query parser', 'simple');
  app.use(requestObserver(deps.logger));
  app.use((req, _res, next) => {
    req.log = deps.logger;
    next();
  });
  // No auth: Prometheus, the OpenAPI document and its browsable page (architecture.md §5).
  metricsRoutes.register(app, { orm: deps.operations.orm, logger: deps.logger, more: deps.moreMetrics });
  app.use(openApiRouter());
  // Before authentication: a body too deep to walk is refused before JSON.parse builds it.
  app.use(express.json({ limit: '1mb', verify: refuseDeepJson }));
  app.use(rejectNulCharacters);

  // The probes, at / and under /api/v1: before authentication, so orchestrators can probe them.
  app.use(healthRoutes.router(deps));
  // The enrollment downloads over plain HTTP, only when the operator opted in (they are served
  // over HTTPS on the enrollment port): the one-shot token in the path is their credential.
  if (deps.swarm?.plainHttpEnrollment) app.use('/api/v1/swarm', swarmBundleRouter(deps.swarm, 'http'), agentArtefactRouter(deps.swarm));
  app.use('/api/v1', authenticate(deps.operations.orm));
  app.use(deckiesRoutes.router(deps));
  app.use(systemRoutes.router(deps));
  app.use(eventsRoutes.router(eventStreams(deps)));
  app.use(catalogRoutes.router(deps));
  app.use(tokensRoutes.router(deps));
  if (deps.swarm) app.use(swarmRoutes.router({ ...deps, swarm: deps.swarm }));
  // The web UI at / (web/dist); every other GET outside /api gets its index.html.
  app.use(webUiRouter());
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}`));
  app.use(errorHandler);
  return app;
}

/** A cheap gRPC health check with a short deadline, so requests fail fast with 503. */
export function temporalProbe(connection: {
  healthService: { check(req: object): Promise<unknown> };
  withDeadline<T>(d: number, fn: () => Promise<T>): Promise<T>;
}) {
  return async () => {
    try {
      await connection.withDeadline(Date.now() + 2000, () => connection.healthService.check({}));
    } catch {
      throw new UnavailableError('Temporal is unreachable');
    }
  };
}
