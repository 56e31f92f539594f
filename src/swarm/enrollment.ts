/**
 * Enrollment (architecture.md §8): POST /swarm/enroll-bundle issues the agent's certificate and creates the
 * host `enrolled`; GET …/{token}.sh serves the install script until the token expires; GET
 * …/{token}.tgz hands out the bundle exactly once and records who fetched it as the host address.
 * The downloads are served over HTTPS on the enrollment port with the master's certificate, and
 * the printed command and the script pin its public key; plain HTTP on the API port is an opt-in.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { EnrollmentToken, SwarmHost } from '../entities';
import { AGENT_ARTEFACT_FILE, ENROLLMENT_TTL_MS, type EnrollBundleRequest, type EnrollBundleResponse } from '../domain/swarm-schemas';
import { ConflictError, GoneError, NotFoundError } from '../operations/errors';
import { BUNDLE_FILES, installCommand, packBundle, renderAgentIni, renderInstallScript, renderSystemdUnit, type Download } from './bundle';
import type { AgentArtefact } from './agent-artefact';
import { nowOf, type SwarmContext } from './context';
import { fingerprintOf, publicKeyPinOf } from './pki';

export const hashEnrollmentToken = (token: string) => createHash('sha256').update(token).digest('hex');

const ENROLL_BUNDLE_PATH = '/api/v1/swarm/enroll-bundle';

/** How a download reaches the agent host: HTTPS on the enrollment port, or plain HTTP on the API port (opt-in). */
export type EnrollmentTransport = 'https' | 'http';

/**
 * `https://<master_host>:<enroll port>/api/v1/swarm/enroll-bundle/<token>.<ext>` with the pin of
 * the master's key, or `http://<master_host>:<api port>/…` without (IPv6 in brackets).
 */
export function enrollmentDownload(
  ctx: SwarmContext,
  transport: EnrollmentTransport,
  masterHost: string,
  token: string,
  ext: 'sh' | 'tgz' | typeof AGENT_ARTEFACT_FILE,
): Download {
  const port = transport === 'https' ? ctx.enrollPort : ctx.apiPort;
  // The artefact is served beside the token's downloads: …/{token}/decnet-agent.cjs.
  const file = ext === AGENT_ARTEFACT_FILE ? `${token}/${ext}` : `${token}.${ext}`;
  return {
    url: `${transport}://${hostForUrl(masterHost)}:${port}${ENROLL_BUNDLE_PATH}/${file}`,
    pin: transport === 'https' ? publicKeyPinOf(ctx.pki.master.certPem) : null,
  };
}

const hostForUrl = (host: string) => (isIP(host) === 6 ? `[${host}]` : host);

/** The transport of the printed command: HTTPS unless the operator opted into plain HTTP. */
const commandTransport = (ctx: SwarmContext): EnrollmentTransport => (ctx.plainHttpEnrollment ? 'http' : 'https');

export async function enrollHost(ctx: SwarmContext, req: EnrollBundleRequest): Promise<EnrollBundleResponse> {
  const now = nowOf(ctx);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + ENROLLMENT_TTL_MS);
  // The agent serves HTTPS (serverAuth) and calls the master (clientAuth). Its address is unknown
  // until the bundle is fetched, so the master will pin this fingerprint rather than check names.
  const issued = await ctx.pki.ca.issueCertificate({ commonName: req.agent_name, sans: [req.agent_name], usage: ['serverAuth', 'clientAuth'] });
  let hostUuid: string = randomUUID();
  try {
    await ctx.orm.em.fork().transactional(async (em) => {
      const existing = await em.findOne(SwarmHost, { name: req.agent_name, status: { $ne: 'decommissioned' } });
      if (req.reinstall) {
        // The same host, a new token and certificate (taken on when the bundle is fetched).
        if (!existing) throw new NotFoundError(`no enrolled host named "${req.agent_name}" to reinstall; enroll it without reinstall`);
        hostUuid = existing.uuid;
      } else {
        if (existing) {
          if (!(await isAbandonedEnrollment(em, existing, now))) {
            throw new ConflictError(
              'host_name_taken',
              `a host named "${req.agent_name}" is already enrolled (${existing.status}); decommission it first (DELETE /swarm/hosts/${existing.uuid}), or ask for a new install command for it with reinstall (decnet enroll --reinstall)`,
            );
          }
          // Enrolled, its bundle never fetched and its token expired: the new enrollment replaces it.
          existing.status = 'decommissioned';
          existing.notes = appendNote(existing.notes, `replaced by a new enrollment at ${now.toISOString()}: its bundle was never fetched`);
          await em.flush();
        }
        em.create(SwarmHost, {
          uuid: hostUuid,
          name: req.agent_name,
          address: null,
          agentPort: req.agent_port,
          status: 'enrolled',
          lastHeartbeat: null,
          clientCertFingerprint: issued.fingerprint,
          useIpvlan: req.use_ipvlan,
          enrolledAt: now,
          notes: null,
        });
        // The token's host_uuid is a foreign key MikroORM does not know about (a plain column), so
        // its flush order could put the token first: write the host before the token.
        await em.flush();
      }
      em.create(EnrollmentToken, {
        tokenHash: hashEnrollmentToken(token),
        hostUuid,
        createdAt: now,
        expiresAt,
        masterHost: req.master_host,
        scriptFetchCount: 0,
        bundleFetchedAt: null,
        fetchedByAddress: null,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
      });
    });
  } catch (err) {
    // Two enrollments of one name at once: the partial unique index lets one through.
    if (err instanceof UniqueConstraintViolationException) throw new ConflictError('host_name_taken', `a host named "${req.agent_name}" is already enrolled`);
    throw err;
  }
  ctx.logger.info(
    { host: req.agent_name, host_uuid: hostUuid, expires_at: expiresAt.toISOString(), reinstall: req.reinstall },
    req.reinstall ? 'swarm host reinstall issued' : 'swarm host enrolled',
  );
  return {
    token,
    command: installCommand(enrollmentDownload(ctx, commandTransport(ctx), req.master_host, token, 'sh')),
    expires_at: expiresAt.toISOString(),
    host_uuid: hostUuid,
  };
}

/** A host still `enrolled` that never fetched its bundle and whose every token expired. */
async function isAbandonedEnrollment(em: EntityManager, host: SwarmHost, now: Date): Promise<boolean> {
  if (host.status !== 'enrolled' || host.lastHeartbeat || host.address) return false;
  const usable = await em.count(EnrollmentToken, { hostUuid: host.uuid, $or: [{ bundleFetchedAt: { $ne: null } }, { expiresAt: { $gt: now } }] });
  return usable === 0;
}

const appendNote = (notes: string | null, line: string) => (notes ? `${notes}\n${line}` : line).slice(-2000);

/** The token's row, or 404; 410 once it expired. */
async function liveToken(em: EntityManager, token: string, now: Date, lock = false): Promise<EnrollmentToken> {
  const row = await em.findOne(EnrollmentToken, { tokenHash: hashEnrollmentToken(token) }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
  if (!row) throw new NotFoundError('no such enrollment token');
  if (row.expiresAt.getTime() <= now.getTime()) throw new GoneError(`this enrollment token expired at ${row.expiresAt.toISOString()}; enroll the host again`);
  return row;
}

/**
 * The token's row and host, for the downloads served as often as asked until the token expires
 * (the install script, the agent artefact): 404 for no such token, 410 once it expired or its host
 * was decommissioned.
 */
export async function liveEnrollment(ctx: SwarmContext, token: string): Promise<{ em: EntityManager; row: EnrollmentToken; host: SwarmHost }> {
  const em = ctx.orm.em.fork();
  const row = await liveToken(em, token, nowOf(ctx));
  const host = await em.findOne(SwarmHost, { uuid: row.hostUuid });
  if (!host || host.status === 'decommissioned') throw new GoneError('the host of this enrollment token was decommissioned');
  return { em, row, host };
}

/**
 * GET …/{token}.sh: the install script, as often as asked until the token expires. It fetches the
 * agent artefact (checked against the sha256 of `artefact`, the one the master serves) and the
 * bundle over the transport it was itself served on (HTTPS: the same pin).
 */
export async function installScript(ctx: SwarmContext, token: string, transport: EnrollmentTransport, artefact: AgentArtefact): Promise<string> {
  const { em, row, host } = await liveEnrollment(ctx, token);
  await em.getConnection().execute('update "enrollment_token" set "script_fetch_count" = "script_fetch_count" + 1 where "token_hash" = ?', [row.tokenHash]);
  return renderInstallScript({
    hostName: host.name,
    hostUuid: host.uuid,
    bundle: enrollmentDownload(ctx, transport, row.masterHost, token, 'tgz'),
    artefact: {
      download: enrollmentDownload(ctx, transport, row.masterHost, token, AGENT_ARTEFACT_FILE),
      sha256: artefact.sha256,
      version: artefact.version,
      node: artefact.node,
    },
    swarmAddress: `${hostForUrl(row.masterHost)}:${ctx.swarmPort}`,
    expiresAt: row.expiresAt,
  });
}

export interface ClaimedBundle {
  hostName: string;
  tgz: Buffer;
}

/**
 * GET …/{token}.tgz: the bundle, once. In one transaction that holds the token's row: refuse a
 * used or expired token (410), record the fetcher as the host address, wipe the stored key, pack.
 */
export async function claimBundle(ctx: SwarmContext, token: string, fetchedBy: string): Promise<ClaimedBundle> {
  const now = nowOf(ctx);
  return ctx.orm.em.fork().transactional(async (em) => {
    const row = await liveToken(em, token, now, true);
    if (row.bundleFetchedAt)
      throw new GoneError(`this enrollment bundle was already downloaded at ${row.bundleFetchedAt.toISOString()}; enroll the host again`);
    if (!row.keyPem) throw new GoneError('this enrollment bundle is no longer available; enroll the host again');
    const host = await em.findOne(SwarmHost, { uuid: row.hostUuid }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!host || host.status === 'decommissioned') throw new GoneError('the host of this enrollment token was decommissioned');
    const keyPem = row.keyPem;
    row.bundleFetchedAt = now;
    row.fetchedByAddress = fetchedBy;
    row.keyPem = null;
    host.address = fetchedBy;
    // A reinstall's bundle carries a new certificate: from now on only it is this host's.
    host.clientCertFingerprint = fingerprintOf(row.certPem);
    const tgz = await packBundle([
      {
        name: BUNDLE_FILES.ini,
        mode: 0o644,
        content: renderAgentIni(
          {
            name: host.name,
            ipvlan: host.useIpvlan,
            masterHost: row.masterHost,
            masterPort: ctx.swarmPort,
            agentPort: host.agentPort,
            hostUuid: host.uuid,
            masterFingerprint: ctx.pki.master.fingerprint,
          },
          host.enrolledAt,
        ),
      },
      { name: BUNDLE_FILES.caCert, mode: 0o644, content: ctx.pki.ca.certPem },
      { name: BUNDLE_FILES.cert, mode: 0o644, content: row.certPem },
      { name: BUNDLE_FILES.key, mode: 0o600, content: keyPem },
      { name: BUNDLE_FILES.unit, mode: 0o644, content: renderSystemdUnit() },
    ]);
    await em.flush();
    ctx.logger.info({ host: host.name, host_uuid: host.uuid, address: fetchedBy }, 'enrollment bundle fetched');
    return { hostName: host.name, tgz };
  });
}

/** `::ffff:10.0.0.5` → `10.0.0.5`: the IPv4 form of an IPv4-mapped address. */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  return mapped ? mapped[1] : remote;
}
