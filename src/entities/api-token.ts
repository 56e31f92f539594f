import { EntitySchema } from '@mikro-orm/core';
import type { Role, TokenSource } from '../domain/schemas';

/** An operator credential; only the SHA-256 of the token is stored. A revoked token stays, listed. */
export class ApiToken {
  id!: string;
  name!: string;
  role!: Role;
  source: TokenSource = 'cli';
  tokenHash!: string;
  createdAt: Date = new Date();
  lastUsedAt: Date | null = null;
  revokedAt: Date | null = null;
}

export const ApiTokenSchema = new EntitySchema<ApiToken>({
  class: ApiToken,
  tableName: 'api_token',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'string' },
    role: { type: 'string' },
    source: { type: 'string', default: 'cli' },
    tokenHash: { type: 'string', unique: true },
    createdAt: { type: 'Date' },
    lastUsedAt: { type: 'Date', nullable: true },
    revokedAt: { type: 'Date', nullable: true },
  },
});
