import { EntitySchema } from '@mikro-orm/core';

/**
 * A one-shot enrollment bundle token bound to a host (architecture.md §3, §8). Only the SHA-256 of the token
 * is stored. The agent's certificate is issued at enrollment; its private key waits here until the
 * bundle is fetched (once) and is wiped then, or when the token expires unused.
 */
export class EnrollmentToken {
  tokenHash!: string;
  hostUuid!: string;
  createdAt: Date = new Date();
  expiresAt!: Date;
  /** The master's address as the operator gave it: the install script downloads the bundle from there. */
  masterHost!: string;
  /** How many times the install script was fetched. */
  scriptFetchCount = 0;
  bundleFetchedAt: Date | null = null;
  fetchedByAddress: string | null = null;
  certPem!: string;
  /** PKCS#8 PEM of the agent's key; null once the bundle was fetched or the token expired. */
  keyPem: string | null = null;
}

export const EnrollmentTokenSchema = new EntitySchema<EnrollmentToken>({
  class: EnrollmentToken,
  tableName: 'enrollment_token',
  properties: {
    tokenHash: { type: 'string', primary: true },
    hostUuid: { type: 'uuid', index: true },
    createdAt: { type: 'Date' },
    expiresAt: { type: 'Date' },
    masterHost: { type: 'string' },
    scriptFetchCount: { type: 'integer', default: 0 },
    bundleFetchedAt: { type: 'Date', nullable: true },
    fetchedByAddress: { type: 'string', nullable: true },
    certPem: { type: 'text' },
    keyPem: { type: 'text', nullable: true },
  },
});
