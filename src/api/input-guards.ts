/** Request checks that hold for every body, before any route's own zod schema. */
import type { RequestHandler } from 'express';
import { HttpError } from './errors';

/** The path of the first string (key or value) holding a NUL character, or undefined. */
export function findNulCharacter(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNulCharacter(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000')) return [...path, key];
      const found = findNulCharacter(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * PostgreSQL cannot store U+0000 in text or jsonb: such a string would fail deep in a transaction
 * as a 500. It is never meaningful in a decky definition, so it is refused here as bad input.
 */
export const rejectNulCharacters: RequestHandler = (req, _res, next) => {
  const path = findNulCharacter(req.body);
  if (!path) return next();
  const where = path.length ? path.join('.') : 'body';
  next(new HttpError(400, 'invalid_input', `${where}: must not contain NUL (\\u0000) characters`, [{ path: path.join('.'), message: 'must not contain NUL (\\u0000) characters' }]));
};
