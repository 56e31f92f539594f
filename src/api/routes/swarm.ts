/**
 * /swarm on the operators' API: enrollment bundles and hosts (SPEC §5, §8). The agents'
 * heartbeat is not here: it lives on the swarm port (src/swarm/server.ts).
 */
import { Router, type Request, type Response } from 'express';
import { BundleFileSchema, EnrollBundleRequestSchema, HostUuidSchema, SwarmHostPatchSchema } from '../../domain/swarm-schemas';
import { DECNET_VERSION } from '../../domain/version';
import { NotFoundError } from '../../operations/errors';
import { claimBundle, clientAddress, enrollHost, installScript, type EnrollmentTransport } from '../../swarm/enrollment';
import { decommissionHost, listHosts, patchHost } from '../../swarm/hosts';
import type { SwarmContext } from '../../swarm/context';
import { submitTeardown } from '../../operations/teardown';
import { requireRole } from '../auth';
import type { ApiDeps } from '../app';
import { sendError } from '../errors';
import { servedAgentArtefact } from './agent-artefact';
import { triggerOf } from '../trigger';

/**
 * GET /swarm/enroll-bundle/{token}.sh and .tgz: no bearer token, the enrollment token is the
 * credential. Served on the enrollment HTTPS port, and on the API port only with
 * DECNET_ENROLL_PLAIN_HTTP; `transport` is the listener's, so the script fetches the bundle alike.
 * Only GET: a HEAD (which express would answer with the GET handler) must not spend the one-shot
 * bundle, so it and every other method are 405.
 */
export function swarmBundleRouter(swarm: SwarmContext, transport: EnrollmentTransport): Router {
  const router = Router();
  const getOnly = (req: Request, res: Response) => {
    res.setHeader('Allow', 'GET');
    sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on an enrollment download (GET only: the .tgz can be downloaded once)`);
  };
  router
    .route('/enroll-bundle/:file')
    // Declared, HEAD no longer falls back to the GET handler.
    .head(getOnly)
    .get(async (req, res) => {
      const parsed = BundleFileSchema.safeParse(String(req.params.file));
      if (!parsed.success) throw new NotFoundError('no such enrollment bundle (expected <token>.sh or <token>.tgz)');
      const { token, kind } = parsed.data;
      res.setHeader('Cache-Control', 'no-store');
      if (kind === 'sh') {
        const script = await installScript(swarm, token, transport, await servedAgentArtefact(swarm));
        res.type('text/x-shellscript; charset=utf-8').send(script);
        return;
      }
      const bundle = await claimBundle(swarm, token, clientAddress(req.socket.remoteAddress));
      res.setHeader('Content-Disposition', `attachment; filename="decnet-agent-${bundle.hostName}.tgz"`);
      res.type('application/gzip').send(bundle.tgz);
    })
    .all(getOnly);
  return router;
}

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
