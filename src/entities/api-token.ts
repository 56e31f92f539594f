import { EntitySchema } from '@mikro-orm/core';
import type { Role } from '../domain/schemas';

/** An operator credential; only the SHA-256 of the token is stored. */
export class ApiToken {
  id!: string;
  name!: string;
  role!: Role;
  tokenHash!: string;
  createdAt: Date = new Date();
  lastUsedAt: Date | null = null;
}

export const ApiTokenSchema = new EntitySchema<ApiToken>({
  class: ApiToken,
  tableName: 'api_token',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'string' },
    role: { type: 'string' },
    tokenHash: { type: 'string', unique: true },
    createdAt: { type: 'Date' },
    lastUsedAt: { type: 'Date', nullable: true },
  },
});
