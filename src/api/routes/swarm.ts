/**
 * /swarm on the operators' API: enrolling hosts and managing them (SPEC §5, §8). The enrollment
 * downloads are in src/swarm/enrollment-routes.ts; the agents' heartbeat is on the swarm port.
 */
import { Router } from 'express';
import { EnrollBundleRequestSchema, HostUuidSchema, SwarmHostPatchSchema } from '../../domain/swarm-schemas';
import { DECNET_VERSION } from '../../domain/version';
import { NotFoundError } from '../../operations/errors';
import { enrollHost } from '../../swarm/enrollment';
import { decommissionHost, listHosts, patchHost } from '../../swarm/hosts';
import type { SwarmContext } from '../../swarm/context';
import { submitTeardown } from '../../operations/teardown';
import { requireRole } from '../auth';
import type { ApiDeps } from '../deps';
import { triggerOf } from '../trigger';

/** Enrollment and the hosts, behind the admin bearer token. */
export function swarmRouter(swarm: SwarmContext, deps: Pick<ApiDeps, 'operations' | 'ensureTemporalReachable'>): Router {
  const router = Router();

  router.post('/enroll-bundle', requireRole('admin'), async (req, res) => {
    const body = EnrollBundleRequestSchema.parse(req.body ?? {});
    res.status(201).json(await enrollHost(swarm, body));
  });

  router.get('/hosts', requireRole('admin'), async (_req, res) => {
    res.json({ hosts: await listHosts(swarm), master_version: DECNET_VERSION });
  });

  router.patch('/hosts/:uuid', requireRole('admin'), async (req, res) => {
    const uuid = parseHostUuid(String(req.params.uuid));
    const body = SwarmHostPatchSchema.parse(req.body ?? {});
    // A driver change may start moves: their workflows need Temporal.
    if (body.use_ipvlan !== undefined) await deps.ensureTemporalReachable();
    const answer = await patchHost(swarm, deps.operations, uuid, body);
    res.status('lifecycle_ids' in answer ? 202 : 200).json(answer);
  });

  router.post('/hosts/:uuid/teardown', requireRole('admin'), async (req, res) => {
    const uuid = parseHostUuid(String(req.params.uuid));
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitTeardown(deps.operations, { kind: 'host', hostUuid: uuid }, triggerOf(req)));
  });

  router.delete('/hosts/:uuid', requireRole('admin'), async (req, res) => {
    const uuid = parseHostUuid(String(req.params.uuid));
    res.json(await decommissionHost(swarm, uuid));
  });

  return router;
}

function parseHostUuid(raw: string): string {
  const parsed = HostUuidSchema.safeParse(raw);
  if (!parsed.success) throw new NotFoundError(`swarm host "${raw}" does not exist (not a host uuid)`);
  return parsed.data;
}
