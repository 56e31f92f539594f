import { EntitySchema } from '@mikro-orm/core';

/** The stored answer to a deploy sent with an Idempotency-Key, so a retry gets the same lifecycle ids. */
export class IdempotencyKey {
  key!: string;
  requestHash!: string;
  response!: Record<string, unknown>;
  createdAt: Date = new Date();
}

export const IdempotencyKeySchema = new EntitySchema<IdempotencyKey>({
  class: IdempotencyKey,
  tableName: 'idempotency_key',
  properties: {
    key: { type: 'string', primary: true },
    requestHash: { type: 'string' },
    response: { type: 'json' },
    createdAt: { type: 'Date' },
  },
});
