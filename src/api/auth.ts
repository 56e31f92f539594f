/** Bearer-token authentication; `admin` may change things, `viewer` may read. A revoked token is unknown. */
import type { RequestHandler } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Role } from '../domain/schemas';
import { findToken, recordTokenUse } from '../operations/tokens';
import { HttpError } from '../http/errors';

const RANK: Record<Role, number> = { viewer: 0, admin: 1 };

export function authenticate(orm: MikroORM): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new HttpError(401, 'unauthorized', 'missing bearer token: send Authorization: Bearer <token>'));
    const em = orm.em.fork();
    const token = await findToken(em, match[1]);
    if (!token) return next(new HttpError(401, 'unauthorized', 'invalid API token'));
    await recordTokenUse(em, token);
    req.role = token.role;
    req.tokenId = token.id;
    next();
  };
}

export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (!req.role || RANK[req.role] < RANK[role])
      return next(new HttpError(403, 'forbidden', `this needs the ${role} role; your token is ${req.role ?? 'none'}`));
    next();
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
    /** The API token the request authenticated with. */
    tokenId?: string;
    log?: import('pino').Logger;
  }
}
