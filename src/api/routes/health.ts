/** Liveness and readiness, at / and under /api/v1; no auth, so orchestrators can probe them. */
import { HealthResponseSchema, ReadyResponseSchema } from '../../domain/schemas';
import type { ApiDeps } from '../deps';
import { sendError } from '../../http/errors';
import { json, RouteTable } from '../route';

export const healthRoutes = new RouteTable<ApiDeps>('operations');

healthRoutes.get(
  ['/healthz', '/api/v1/healthz'],
  {
    summary: 'Liveness',
    access: 'public',
    status: 200,
    success: { description: 'The process answers', content: json(HealthResponseSchema) },
  },
  (_req, res) => {
    res.json({ status: 'ok' });
  },
);

healthRoutes.get(
  ['/readyz', '/api/v1/readyz'],
  {
    summary: 'Readiness',
    description: 'PostgreSQL and Temporal both answer; 503 names the one that does not.',
    access: 'public',
    status: 200,
    success: { description: 'Ready', content: json(ReadyResponseSchema) },
    errors: [503],
  },
  async (_req, res, deps) => {
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
  },
);
