/**
 * The swarm's TLS (architecture.md §8), shared by the master's swarm and enrollment ports, the agent's API
 * and the calls between them: HTTPS listeners (with a client certificate from the product's CA
 * required, or none asked), the fingerprint of the client certificate a request came with, and the
 * pin a caller checks instead of a host name.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Request } from 'express';
import type pino from 'pino';
import { HttpError } from './errors';

/** SHA-256 of a DER certificate (node's `getPeerCertificate().raw`), lower-case hex without separators. */
export function fingerprintOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** A certificate and its private key, PEM. */
export interface TlsIdentity {
  certPem: string;
  keyPem: string;
}

export interface HttpsServerSpec {
  identity: TlsIdentity;
  /**
   * `{ ca }`: a handshake requires a client certificate signed by this CA (PEM); `none`: no client
   * certificate is asked (the enrollment port, for hosts that have none yet). Said every time.
   */
  clientCertificates: { ca: string } | 'none';
  host: string;
  port: number;
  /** Logged at debug, with the peer's address, for every handshake that fails. */
  handshakeFailure: string;
}

export interface HttpsListener {
  /** The port listened on (the one asked, or the one given for 0). */
  port: number;
  /** Stops listening and ends the open connections. */
  close(): Promise<void>;
}

export async function startHttpsServer(app: http.RequestListener, spec: HttpsServerSpec, logger: pino.Logger): Promise<HttpsListener> {
  const { certPem, keyPem } = spec.identity;
  const server = https.createServer(
    spec.clientCertificates === 'none'
      ? { key: keyPem, cert: certPem, minVersion: 'TLSv1.2' }
      : { key: keyPem, cert: certPem, ca: [spec.clientCertificates.ca], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    app,
  );
  server.on('tlsClientError', (err, socket) => logger.debug({ err: err.message, from: socket.remoteAddress }, spec.handshakeFailure));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, spec.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The SHA-256 fingerprint of the client certificate the handshake verified. A listener that
 * requires one already refused anything else in the handshake; this guards against a
 * misconfigured one (401).
 */
export function clientCertificateFingerprint(req: Request): string {
  const socket = req.socket as TLSSocket;
  const raw = socket.getPeerCertificate?.()?.raw;
  if (!socket.authorized || !raw) throw new HttpError(401, 'client_certificate_required', 'a client certificate signed by the decnet CA is required');
  return fingerprintOfDer(raw);
}

/**
 * A caller's `checkServerIdentity` for a peer known by its certificate: node verifies the chain
 * against the CA, and the pin replaces the host name check, so a peer reached under any name
 * still has to present exactly the certificate pinned.
 */
export function pinnedCertificate(fingerprint: string, refusal: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => (fingerprintOfDer(cert.raw) === fingerprint ? undefined : new Error(refusal));
}
