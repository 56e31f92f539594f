import { Router } from 'express';
import { deploymentMode } from '../../operations/deployment-mode';
import { requireRole } from '../auth';
import type { ApiDeps } from '../app';

export function systemRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/deployment-mode', requireRole('viewer'), async (_req, res) => {
    const { hosts: _hosts, ...mode } = await deploymentMode(deps.operations.orm.em.fork(), deps.role);
    res.json(mode);
  });
  return router;
}
