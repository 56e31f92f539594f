/** /tokens: the API tokens, listed without their secrets, and revoked (admin only). */
import { Router } from 'express';
import { TokenIdSchema } from '../../domain/schemas';
import { NotFoundError } from '../../operations/errors';
import { listTokens, revokeToken } from '../../operations/tokens';
import { requireRole } from '../auth';
import type { ApiDeps } from '../deps';

export function tokensRouter(deps: Pick<ApiDeps, 'operations'>): Router {
  const router = Router();
  router.get('/', requireRole('admin'), async (_req, res) => {
    res.json({ tokens: await listTokens(deps.operations.orm.em.fork()) });
  });
  router.delete('/:id', requireRole('admin'), async (req, res) => {
    const raw = String(req.params.id);
    const id = TokenIdSchema.safeParse(raw);
    if (!id.success) throw new NotFoundError(`API token "${raw}" does not exist (not a token id)`);
    res.json(await revokeToken(deps.operations.orm.em.fork(), id.data));
  });
  return router;
}
