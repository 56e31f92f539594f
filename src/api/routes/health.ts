/** Liveness and readiness; no auth, so orchestrators can probe them. */
import { Router } from 'express';
import type { ApiDeps } from '../deps';
import { sendError } from '../../http/errors';

export function healthRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [database, temporal] = await Promise.all([
      deps.operations.orm.em
        .getConnection()
        .execute('select 1')
        .then(
          () => true,
          () => false,
        ),
      deps.ensureTemporalReachable().then(
        () => true,
        () => false,
      ),
    ]);
    if (database && temporal) {
      res.json({ status: 'ready', database, temporal });
      return;
    }
    sendError(res, 503, 'unavailable', `not ready: ${[!database && 'PostgreSQL', !temporal && 'Temporal'].filter(Boolean).join(' and ')} unreachable`, {
      database,
      temporal,
    });
  });
  return router;
}
