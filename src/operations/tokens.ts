/** Operator API tokens: random secrets shown once, stored as SHA-256. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiToken } from '../entities';
import type { Role } from '../domain/schemas';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export async function createApiToken(em: EntityManager, name: string, role: Role, token = `dn_${randomBytes(24).toString('base64url')}`): Promise<string> {
  em.create(ApiToken, { id: randomUUID(), name, role, tokenHash: hashToken(token), createdAt: new Date() });
  await em.flush();
  return token;
}

export async function findToken(em: EntityManager, token: string): Promise<ApiToken | null> {
  return em.findOne(ApiToken, { tokenHash: hashToken(token) });
}

/**
 * At first start: DECNET_ADMIN_TOKEN becomes an admin token; without it, a fresh one is made and
 * returned so the caller prints it once. Nothing happens when any admin token exists.
 */
export async function seedAdminToken(em: EntityManager, given?: string): Promise<{ created: boolean; token?: string }> {
  if (given) {
    if (await findToken(em, given)) return { created: false };
    return { created: true, token: await createApiToken(em, 'admin (DECNET_ADMIN_TOKEN)', 'admin', given) };
  }
  if ((await em.count(ApiToken, { role: 'admin' })) > 0) return { created: false };
  return { created: true, token: await createApiToken(em, 'admin (first start)', 'admin') };
}
