/** Operator API tokens: random secrets shown once, stored as SHA-256; listed and revoked without their secret. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiToken } from '../entities';
import type { ApiTokenView, Role, TokenSource } from '../domain/schemas';
import { ConflictError, NotFoundError } from './errors';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** `last_used_at` is written at most this often per token, so most requests write nothing. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export async function createApiToken(
  em: EntityManager,
  name: string,
  role: Role,
  token = `dn_${randomBytes(24).toString('base64url')}`,
  source: TokenSource = 'cli',
): Promise<string> {
  em.create(ApiToken, { id: randomUUID(), name, role, source, tokenHash: hashToken(token), createdAt: new Date(), lastUsedAt: null, revokedAt: null });
  await em.flush();
  return token;
}

/** The token a bearer secret names, unless it was revoked. */
export async function findToken(em: EntityManager, token: string): Promise<ApiToken | null> {
  return em.findOne(ApiToken, { tokenHash: hashToken(token), revokedAt: null });
}

/**
 * Notes that `token` (as just read) was used. Only when its `last_used_at` is older than
 * LAST_USED_RESOLUTION_MS does this write, and the condition makes concurrent requests write once.
 */
export async function recordTokenUse(em: EntityManager, token: ApiToken, now = new Date()): Promise<void> {
  const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
  if (token.lastUsedAt && token.lastUsedAt > staleBefore) return;
  await em.nativeUpdate(ApiToken, { id: token.id, $or: [{ lastUsedAt: null }, { lastUsedAt: { $lte: staleBefore } }] }, { lastUsedAt: now });
}

export function tokenToView(t: ApiToken): ApiTokenView {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    source: t.source,
    created_at: t.createdAt.toISOString(),
    last_used_at: t.lastUsedAt?.toISOString() ?? null,
    revoked_at: t.revokedAt?.toISOString() ?? null,
  };
}

/** Every token, revoked ones included, oldest first. */
export async function listTokens(em: EntityManager): Promise<ApiTokenView[]> {
  return (await em.find(ApiToken, {}, { orderBy: { createdAt: 'asc', id: 'asc' } })).map(tokenToView);
}

/**
 * Revokes a token: it is refused from the next request on and stays listed. Revoking one twice
 * answers the same. The last valid admin token cannot be revoked: nobody could create another.
 */
export async function revokeToken(em: EntityManager, id: string): Promise<ApiTokenView> {
  return em.transactional(async (tx) => {
    // Locking the valid admin tokens serializes revocations, so two cannot each leave the other last.
    const admins = await tx.find(ApiToken, { role: 'admin', revokedAt: null }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const token = admins.find((t) => t.id === id) ?? (await tx.findOne(ApiToken, { id }));
    if (!token) throw new NotFoundError(`API token ${id} does not exist`);
    if (token.revokedAt) return tokenToView(token);
    if (token.role === 'admin' && admins.length === 1) {
      throw new ConflictError(
        'last_admin_token',
        `API token ${id} is the last valid admin token; create another admin token first (decnet token create --role admin)`,
      );
    }
    token.revokedAt = new Date();
    return tokenToView(token);
  });
}

/** DECNET_ADMIN_TOKEN names a token that was revoked: the master does not start with it. */
export class RevokedAdminTokenError extends Error {}

export interface SeededAdminToken {
  created: boolean;
  /** A token created now: the caller prints it once. */
  token?: string;
  /** Ids of the earlier DECNET_ADMIN_TOKEN tokens that a new value revoked. */
  revoked: string[];
}

/**
 * At each start: DECNET_ADMIN_TOKEN becomes an admin token, and a new value revokes the token the
 * previous value made. Without it, a fresh one is made (and returned, to be printed once) when no
 * valid admin token exists.
 */
export async function seedAdminToken(em: EntityManager, given?: string): Promise<SeededAdminToken> {
  if (!given) {
    if ((await em.count(ApiToken, { role: 'admin', revokedAt: null })) > 0) return { created: false, revoked: [] };
    return { created: true, token: await createApiToken(em, 'admin (first start)', 'admin', undefined, 'first_start'), revoked: [] };
  }
  return em.transactional(async (tx) => {
    const existing = await tx.findOne(ApiToken, { tokenHash: hashToken(given) });
    if (existing?.revokedAt) {
      throw new RevokedAdminTokenError(`DECNET_ADMIN_TOKEN was revoked on ${existing.revokedAt.toISOString()} (token ${existing.id}); set a new value`);
    }
    const previous = await tx.find(ApiToken, { source: 'env', revokedAt: null, ...(existing ? { id: { $ne: existing.id } } : {}) });
    const now = new Date();
    for (const token of previous) token.revokedAt = now;
    const revoked = previous.map((t) => t.id);
    if (existing) return { created: false, revoked };
    return { created: true, token: await createApiToken(tx, 'admin (DECNET_ADMIN_TOKEN)', 'admin', given, 'env'), revoked };
  });
}
