/**
 * GET /swarm/enroll-bundle/{token}/decnet-agent.cjs and …/decnet-agent.cjs.sha256: the agent
 * artefact for the host being enrolled, and its sha256 (`sha256sum -c` format). No bearer token:
 * the enrollment token is the credential, as for the install script, and like it they are served
 * as often as asked until the token expires. Kept apart from the other enrollment downloads so it
 * can move with them to another listener.
 */
import { Router } from 'express';
import { AGENT_ARTEFACT_FILE } from '../../domain/swarm-schemas';
import { NotFoundError } from '../../operations/errors';
import { AgentArtefactUnavailableError, loadAgentArtefact, sha256Line, type AgentArtefact } from '../../swarm/agent-artefact';
import type { SwarmContext } from '../../swarm/context';
import { liveEnrollment } from '../../swarm/enrollment';
import { HttpError } from '../errors';

const SHA256_FILE = `${AGENT_ARTEFACT_FILE}.sha256`;

/** The artefact the master serves, or 503 saying how to build it (the install script names its sha256 too). */
export async function servedAgentArtefact(swarm: SwarmContext): Promise<AgentArtefact> {
  try {
    return await loadAgentArtefact(swarm.agentArtefactPath);
  } catch (err) {
    if (err instanceof AgentArtefactUnavailableError) throw new HttpError(503, 'agent_artefact_unavailable', err.message);
    throw err;
  }
}

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
