import { Router } from 'express';
import { deploymentMode } from '../../operations/deployment-mode';
import { requireRole } from '../auth';
import type { ApiDeps } from '../app';

export function systemRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/deployment-mode', requireRole('viewer'), (_req, res) => {
    res.json(deploymentMode(deps.role));
  });
  return router;
}
