import { Router } from 'express';
import { SystemLimitsUpdateSchema } from '../../domain/schemas';
import { deploymentMode } from '../../operations/deployment-mode';
import { readLimits, setDeploymentLimit } from '../../operations/limits';
import { requireRole } from '../auth';
import type { ApiDeps } from '../app';

export function systemRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/deployment-mode', requireRole('viewer'), async (_req, res) => {
    const { hosts: _hosts, ...mode } = await deploymentMode(deps.operations.orm.em.fork(), deps.role);
    res.json(mode);
  });
  router.get('/limits', requireRole('viewer'), async (_req, res) => {
    res.json(await readLimits(deps.operations));
  });
  router.put('/limits', requireRole('admin'), async (req, res) => {
    const body = SystemLimitsUpdateSchema.parse(req.body ?? {});
    res.json(await setDeploymentLimit(deps.operations, body.deployment_limit));
  });
  return router;
}
