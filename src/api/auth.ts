/** Bearer-token authentication; `admin` may change things, `viewer` may read. */
import type { RequestHandler } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Role } from '../domain/schemas';
import { findToken } from '../operations/tokens';
import { HttpError } from './errors';

const RANK: Record<Role, number> = { viewer: 0, admin: 1 };

export function authenticate(orm: MikroORM): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new HttpError(401, 'unauthorized', 'missing bearer token: send Authorization: Bearer <token>'));
    const token = await findToken(orm.em.fork(), match[1]);
    if (!token) return next(new HttpError(401, 'unauthorized', 'invalid API token'));
    req.role = token.role;
    next();
  };
}

export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (!req.role || RANK[req.role] < RANK[role]) return next(new HttpError(403, 'forbidden', `this needs the ${role} role; your token is ${req.role ?? 'none'}`));
    next();
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
    log?: import('pino').Logger;
  }
}
