/**
 * The enrollment downloads, on the enrollment HTTPS port (src/swarm/server.ts) and, only with
 * DECNET_ENROLL_PLAIN_HTTP, on the API port: the install script and the one-shot bundle, and the
 * agent artefact with its sha256. No bearer token: the enrollment token is the credential.
 */
import { Router, type Request, type Response } from 'express';
import { AGENT_ARTEFACT_FILE, BundleFileSchema } from '../domain/swarm-schemas';
import { NotFoundError } from '../operations/errors';
import { HttpError, sendError } from '../http/errors';
import { AgentArtefactUnavailableError, loadAgentArtefact, sha256Line, type AgentArtefact } from './agent-artefact';
import type { SwarmContext } from './context';
import { claimBundle, clientAddress, installScript, liveEnrollment, type EnrollmentTransport } from './enrollment';

const SHA256_FILE = `${AGENT_ARTEFACT_FILE}.sha256`;

/** The artefact the master serves, or 503 saying how to build it (the install script names its sha256 too). */
async function servedAgentArtefact(swarm: SwarmContext): Promise<AgentArtefact> {
  try {
    return await loadAgentArtefact(swarm.agentArtefactPath);
  } catch (err) {
    if (err instanceof AgentArtefactUnavailableError) throw new HttpError(503, 'agent_artefact_unavailable', err.message);
    throw err;
  }
}

/**
 * GET /swarm/enroll-bundle/{token}/decnet-agent.cjs and …/decnet-agent.cjs.sha256: the agent
 * artefact for the host being enrolled, and its sha256 (`sha256sum -c` format), served as often as
 * asked until the token expires.
 */
export function agentArtefactRouter(swarm: SwarmContext): Router {
  const router = Router();
  router.get('/enroll-bundle/:token/:file', async (req, res) => {
    const file = String(req.params.file);
    if (file !== AGENT_ARTEFACT_FILE && file !== SHA256_FILE) throw new NotFoundError(`no such download (expected ${AGENT_ARTEFACT_FILE} or ${SHA256_FILE})`);
    const { host } = await liveEnrollment(swarm, String(req.params.token));
    const artefact = await servedAgentArtefact(swarm);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Decnet-Agent-Version', artefact.version);
    if (file === SHA256_FILE) {
      res.type('text/plain; charset=utf-8').send(sha256Line(artefact.sha256));
      return;
    }
    swarm.logger.info({ host: host.name, host_uuid: host.uuid, version: artefact.version, sha256: artefact.sha256 }, 'agent artefact downloaded');
    res.setHeader('Content-Disposition', `attachment; filename="${AGENT_ARTEFACT_FILE}"`);
    res.type('application/javascript').send(artefact.content);
  });
  return router;
}

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
