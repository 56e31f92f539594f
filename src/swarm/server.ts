/**
 * The master's swarm port (architecture.md §8): a second listener, TLS only, that completes a handshake only
 * with a client certificate signed by the product's CA, and serves nothing but
 * POST /api/v1/swarm/heartbeat. The operators' routes are never here; the heartbeat is never on
 * the operators' port.
 *
 * The enrollment port: a third listener, TLS with the same master certificate and no client
 * certificate (an agent host has none before its bundle), serving only the enrollment downloads,
 * whose printed command pins the certificate's key. Apart from the swarm port so that one keeps
 * refusing, in the handshake, every client without a certificate from the CA.
 */
import express from 'express';
import { HEARTBEAT_PATH, HeartbeatRequestSchema } from '../domain/swarm-schemas';
import { errorHandler, sendError } from '../http/errors';
import { clientCertificateFingerprint, startHttpsServer, type HttpsServerSpec } from '../http/mtls';
import { agentArtefactRouter, swarmBundleRouter } from './enrollment-routes';
import { clientAddress } from './enrollment';
import { failOver, recordHeartbeat, sweepHosts, type FailoverSettings } from './hosts';
import type { SwarmContext } from './context';

function listenerApp(ctx: SwarmContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((req, _res, next) => {
    req.log = ctx.logger;
    next();
  });
  return app;
}

export function createSwarmApp(ctx: SwarmContext): express.Express {
  const app = listenerApp(ctx);
  app.post(HEARTBEAT_PATH, express.json({ limit: '4mb' }), async (req, res) => {
    const certFingerprint = clientCertificateFingerprint(req);
    const body = HeartbeatRequestSchema.parse(req.body ?? {});
    const answer = await recordHeartbeat(ctx, body, { certFingerprint, remoteAddress: clientAddress(req.socket.remoteAddress) });
    res.json(answer);
  });
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path} on the swarm port`));
  app.use(errorHandler);
  return app;
}

export interface SwarmServer {
  /** `https://host:port` */
  url: string;
  port: number;
  close(): Promise<void>;
}

export function startSwarmServer(ctx: SwarmContext, listen: { host: string; port: number }): Promise<SwarmServer> {
  return listenHttps(
    ctx,
    createSwarmApp(ctx),
    { ...listen, clientCertificates: { ca: ctx.pki.ca.certPem }, handshakeFailure: 'swarm port: TLS handshake refused' },
    'swarm port listening (mTLS)',
  );
}

export function createEnrollmentApp(ctx: SwarmContext): express.Express {
  const app = listenerApp(ctx);
  app.use('/api/v1/swarm', swarmBundleRouter(ctx, 'https'), agentArtefactRouter(ctx));
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path} on the enrollment port`));
  app.use(errorHandler);
  return app;
}

/** The enrollment downloads over HTTPS with the master's certificate (no client certificate asked). */
export function startEnrollmentServer(ctx: SwarmContext, listen: { host: string; port: number }): Promise<SwarmServer> {
  return listenHttps(
    ctx,
    createEnrollmentApp(ctx),
    { ...listen, clientCertificates: 'none', handshakeFailure: 'enrollment port: TLS handshake failed' },
    'enrollment port listening (HTTPS, the master key pinned by enrollment commands)',
  );
}

/** The master's certificate on `listen`. */
async function listenHttps(ctx: SwarmContext, app: express.Express, listen: Omit<HttpsServerSpec, 'identity'>, message: string): Promise<SwarmServer> {
  const { port, close } = await startHttpsServer(app, { ...listen, identity: ctx.pki.master }, ctx.logger);
  const url = `https://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`;
  ctx.logger.info({ url, master_fingerprint: ctx.pki.master.fingerprint }, message);
  return { url, port, close };
}

/**
 * Runs sweepHosts every heartbeat interval (and once now), then, with `failover`, re-homes the
 * deckies of hosts silent past the failover delay; stop() clears the timer and waits for a sweep
 * in flight.
 */
export function startHostSweeper(ctx: SwarmContext, failover?: FailoverSettings): { stop(): Promise<void> } {
  let current: Promise<void> | undefined;
  const tick = () => {
    current ??= sweepHosts(ctx)
      .then(async () => {
        if (failover) await failOver(ctx, failover);
      })
      .then(
        () => undefined,
        (err) => ctx.logger.warn({ err }, 'swarm host sweep failed; will retry'),
      )
      .finally(() => {
        current = undefined;
      });
  };
  tick();
  const timer = setInterval(tick, ctx.heartbeatIntervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await current;
    },
  };
}
