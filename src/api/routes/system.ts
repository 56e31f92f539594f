import { Router } from 'express';
import { lanRequestOnHost, type SystemNetwork } from '../../domain/lan';
import { SystemHealingSchema, SystemLimitsUpdateSchema } from '../../domain/schemas';
import { readHealing, setHealing } from '../../operations/heal';
import { deploymentMode } from '../../operations/deployment-mode';
import { readLimits, setDeploymentLimit } from '../../operations/limits';
import { currentLan, setLan } from '../../operations/network';
import { requireRole } from '../auth';
import { detectLan, hostInterfaces } from '../host-network';
import type { ApiDeps } from '../deps';

export function systemRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/deployment-mode', requireRole('viewer'), async (_req, res) => {
    const { hosts: _hosts, ...mode } = await deploymentMode(deps.operations.orm.em.fork(), deps.role);
    res.json(mode);
  });

  router.get('/network', requireRole('viewer'), async (_req, res) => {
    const lan = await currentLan(deps.operations.orm.em.fork());
    const suggestion = lan ? null : await detectLan();
    const body: SystemNetwork = lan ?? { configured: false, ...(suggestion ? { suggestion } : {}) };
    res.json(body);
  });

  router.put('/network', requireRole('admin'), async (req, res) => {
    const lan = lanRequestOnHost(await hostInterfaces()).parse(req.body ?? {});
    const current = await currentLan(deps.operations.orm.em.fork());
    // A driver change may start moves: their workflows need Temporal.
    if (current && current.driver !== lan.driver) await deps.ensureTemporalReachable();
    const answer = await setLan(deps.operations, lan);
    res.status('lifecycle_ids' in answer ? 202 : 200).json(answer);
  });

  router.get('/limits', requireRole('viewer'), async (_req, res) => {
    res.json(await readLimits(deps.operations));
  });
  router.put('/limits', requireRole('admin'), async (req, res) => {
    const body = SystemLimitsUpdateSchema.parse(req.body ?? {});
    res.json(await setDeploymentLimit(deps.operations, body.deployment_limit));
  });
  router.get('/healing', requireRole('viewer'), async (_req, res) => {
    res.json(await readHealing(deps.operations));
  });
  router.put('/healing', requireRole('admin'), async (req, res) => {
    res.json(await setHealing(deps.operations, SystemHealingSchema.parse(req.body ?? {})));
  });
  return router;
}
