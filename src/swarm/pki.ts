/**
 * The master's PKI for the swarm (architecture.md §8): a CA created at first start under
 * `${DECNET_DATA_DIR}/pki/`, the master's own swarm certificate, and agent certificates issued at
 * enrollment. ECDSA P-256 keys from node's WebCrypto; certificates built by @peculiar/x509 (no
 * hand-written ASN.1). Keys are PKCS#8 PEM files with mode 0600 in a 0700 directory.
 *
 * Files: ca.pem, ca-key.pem (the CA); master.pem, master-key.pem (the master's swarm certificate:
 * serverAuth for the swarm port, clientAuth for calling agents).
 *
 * Load-or-create is idempotent and safe against a concurrent first start: a pair is written to
 * temporary files and its key hard-linked into place (link fails when the name exists), so an
 * existing key is never overwritten and two processes agree on one CA.
 */
import 'reflect-metadata';
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { fingerprintOfDer } from '../http/mtls';

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Certificates start a little in the past so a peer whose clock lags still accepts them. */
const BACKDATE_MS = 5 * 60 * 1000;
export const CA_VALIDITY_DAYS = 3650;
/** No rotation exists yet, so leaf certificates last long (5 years). */
export const LEAF_VALIDITY_DAYS = 1825;

export const CA_FILES = { cert: 'ca.pem', key: 'ca-key.pem' } as const;
export const MASTER_FILES = { cert: 'master.pem', key: 'master-key.pem' } as const;

export type CertificateUsage = 'serverAuth' | 'clientAuth';

export interface IssueCertificateRequest {
  commonName: string;
  /** DNS names and IP addresses (v4 or v6), told apart by their form. */
  sans?: readonly string[];
  usage: readonly CertificateUsage[];
  validityDays?: number;
}

export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  /** SHA-256 of the certificate's DER, lower-case hex. */
  fingerprint: string;
  serialNumber: string;
  notAfter: Date;
}

/** SHA-256 of the DER of the (first) certificate in `pem`, lower-case hex without separators. */
export function fingerprintOf(pem: string): string {
  const [der] = x509.PemConverter.decode(pem);
  if (!der) throw new Error('no PEM certificate found');
  return fingerprintOfDer(Buffer.from(der));
}

/**
 * curl's `--pinnedpubkey` form of the certificate's public key: `sha256//` and the base64 of the
 * SHA-256 of its DER SubjectPublicKeyInfo. It names the key, so a certificate re-issued for the
 * same key keeps the pin.
 */
export function publicKeyPinOf(pem: string): string {
  const spki = new NodeX509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256//${createHash('sha256').update(spki).digest('base64')}`;
}

export function pkiDir(dataDir: string): string {
  return path.join(dataDir, 'pki');
}

export class CertificateAuthority {
  private constructor(
    readonly certPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
  ) {}

  /** The CA in `dir` (ca.pem, ca-key.pem), created when neither file exists. */
  static async loadOrCreate(dir: string): Promise<CertificateAuthority> {
    await ensurePrivateDir(dir);
    const pair = await loadOrCreatePair(dir, CA_FILES, createCa, (p) => assertKeyMatches(p, 'the CA'));
    const cert = new x509.X509Certificate(pair.certPem);
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    if (!basic?.ca) throw new Error(`${path.join(dir, CA_FILES.cert)} is not a CA certificate`);
    return new CertificateAuthority(pair.certPem, cert, await importPrivateKey(pair.keyPem));
  }

  get fingerprint(): string {
    return fingerprintOf(this.certPem);
  }

  get subject(): string {
    return this.cert.subject;
  }

  /** A new key pair and a certificate for it, signed by this CA. */
  async issueCertificate(req: IssueCertificateRequest): Promise<IssuedCertificate> {
    if (!req.commonName || req.commonName.length > 64) throw new Error('commonName must be 1–64 characters');
    if (req.usage.length === 0) throw new Error('a certificate needs at least one usage (serverAuth, clientAuth)');
    const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const now = Date.now();
    const notAfter = new Date(now + (req.validityDays ?? LEAF_VALIDITY_DAYS) * DAY_MS);
    const sans = [...new Set(req.sans ?? [])];
    const invalid = sans.filter((s) => !isValidSan(s));
    if (invalid.length > 0) throw new Error(`not a DNS name or IP address: ${invalid.join(', ')}`);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        req.usage.map((u) => x509.ExtendedKeyUsage[u]),
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      await x509.AuthorityKeyIdentifierExtension.create(this.cert.publicKey, false),
    ];
    if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans.map(generalName), false));
    const serialNumber = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: [{ CN: [req.commonName] }, { O: ['decnet'] }],
      issuer: this.cert.subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      signingAlgorithm: SIGNING_ALGORITHM,
      publicKey: keys.publicKey as never,
      signingKey: this.signingKey as never,
      extensions,
    });
    const certPem = cert.toString('pem');
    return { certPem, keyPem: await exportPrivateKey(keys.privateKey), fingerprint: fingerprintOf(certPem), serialNumber, notAfter };
  }

  /** True when `certPem` carries this CA's valid signature (dates included). */
  async verifies(certPem: string, date = new Date()): Promise<boolean> {
    const cert = new x509.X509Certificate(certPem);
    if (cert.issuer !== this.cert.subject) return false;
    return cert.verify({ publicKey: this.cert.publicKey, date });
  }
}

export interface SwarmPki {
  dir: string;
  ca: CertificateAuthority;
  /** The master's swarm certificate: served on the swarm port, presented to agents, pinned by them. */
  master: IssuedCertificate;
}

/**
 * The CA and the master's swarm certificate under `dir`, created at first start. A master
 * certificate that the CA did not sign (the CA was replaced) is issued again.
 */
export async function loadOrCreatePki(dir: string, opts: { masterSans?: readonly string[] } = {}): Promise<SwarmPki> {
  const ca = await CertificateAuthority.loadOrCreate(dir);
  const issueMaster = () =>
    ca.issueCertificate({
      commonName: 'decnet-master',
      sans: [...new Set(['localhost', '127.0.0.1', '::1', os.hostname(), ...(opts.masterSans ?? [])])].filter(isValidSan),
      usage: ['serverAuth', 'clientAuth'],
    });
  const check = async (pair: PemPair) => {
    assertKeyMatches(pair, 'the master certificate');
    if (!(await ca.verifies(pair.certPem))) throw new StaleCertificateError();
  };
  let pair: PemPair;
  try {
    pair = await loadOrCreatePair(dir, MASTER_FILES, issueMaster, check);
  } catch (err) {
    if (!(err instanceof StaleCertificateError)) throw err;
    // Issued by an earlier CA (or expired): replace it; agents pin the new fingerprint at their next enrollment.
    const fresh = await issueMaster();
    await writeFileAtomic(path.join(dir, MASTER_FILES.key), fresh.keyPem, 0o600);
    await writeFileAtomic(path.join(dir, MASTER_FILES.cert), fresh.certPem, 0o644);
    pair = fresh;
  }
  const cert = new x509.X509Certificate(pair.certPem);
  return {
    dir,
    ca,
    master: { certPem: pair.certPem, keyPem: pair.keyPem, fingerprint: fingerprintOf(pair.certPem), serialNumber: cert.serialNumber, notAfter: cert.notAfter },
  };
}

class StaleCertificateError extends Error {}

interface PemPair {
  certPem: string;
  keyPem: string;
}

async function createCa(): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [`decnet CA ${os.hostname()}`.slice(0, 64)] }, { O: ['decnet'] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + CA_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKey(keys.privateKey) };
}

/**
 * Loads `files` from `dir`, or creates them with `create`. `check` validates a loaded pair. A
 * half-written pair (key without certificate) from a concurrent creator is waited for briefly.
 */
async function loadOrCreatePair(
  dir: string,
  files: { cert: string; key: string },
  create: () => Promise<PemPair>,
  check: (pair: PemPair) => void | Promise<void>,
): Promise<PemPair> {
  const certFile = path.join(dir, files.cert);
  const keyFile = path.join(dir, files.key);
  const existing = await readPair(certFile, keyFile);
  if (existing.certPem !== undefined && existing.keyPem !== undefined) {
    const pair = existing as PemPair;
    await check(pair);
    return pair;
  }
  if (existing.certPem === undefined && existing.keyPem === undefined) {
    const pair = await create();
    if (await linkNew(keyFile, pair.keyPem, 0o600)) {
      if (!(await linkNew(certFile, pair.certPem, 0o644)))
        throw new Error(`${certFile} appeared while its key was being created; remove both ${files.cert} and ${files.key}`);
      return pair;
    }
    // Another process created the key first: use its pair.
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const again = await readPair(certFile, keyFile);
    if (again.certPem !== undefined && again.keyPem !== undefined) {
      const pair = again as PemPair;
      await check(pair);
      return pair;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `incomplete key pair in ${dir}: ${again.keyPem === undefined ? files.key : files.cert} is missing; restore it or remove ${files.cert} and ${files.key}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function readPair(certFile: string, keyFile: string): Promise<Partial<PemPair>> {
  const read = (file: string) =>
    fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  const [certPem, keyPem] = await Promise.all([read(certFile), read(keyFile)]);
  return { certPem, keyPem };
}

/** Writes `content` to `file` only if `file` does not exist yet (atomic: temp file + link). */
async function linkNew(file: string, content: string, mode: number): Promise<boolean> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, content, { mode, flag: 'wx' });
  await fs.chmod(tmp, mode);
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

async function writeFileAtomic(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, content, { mode, flag: 'wx' });
  await fs.chmod(tmp, mode);
  await fs.rename(tmp, file);
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
}

/** The certificate's public key is the private key's (node parses both; nothing hand-rolled). */
function assertKeyMatches(pair: PemPair, what: string): void {
  const fromKey = createPublicKey(createPrivateKey(pair.keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = new NodeX509Certificate(pair.certPem).publicKey.export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCert)) throw new Error(`the key of ${what} does not match its certificate`);
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const [der] = x509.PemConverter.decode(pem);
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}

/** 16 random bytes, first bit clear: a positive serial number of at most 20 octets (RFC 5280). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return bytes.toString('hex');
}

function generalName(value: string): x509.JsonGeneralName {
  return isIP(value) ? { type: 'ip', value } : { type: 'dns', value };
}

/** DNS names (letters, digits, dashes, dots; a leading `*.` allowed) or IP addresses. */
export function isValidSan(value: string): boolean {
  if (isIP(value)) return true;
  return value.length <= 253 && /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(value);
}
