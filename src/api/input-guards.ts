/** Request checks that hold for every body, before any route's own zod schema. */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { HttpError } from '../http/errors';

/**
 * The deepest nesting a request body may have. The deepest document the API takes (a deploy's
 * `deckies[].service_config.<service>.<key>`) is 5 levels; everything that walks a body
 * (the NUL check below, zod) recurses, so an unbounded depth would block or overflow the stack.
 */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]); // [ {
const CLOSERS = new Set([0x5d, 0x7d]); // ] }

/**
 * The greatest nesting depth of the JSON text's arrays and objects, scanned iteratively (no
 * recursion, one pass) and stopping as soon as it passes `limit`. Brackets inside strings do not
 * count. Malformed text gets a number too: JSON.parse reports what is wrong with it.
 */
export function jsonNestingDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (OPENERS.has(c)) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (CLOSERS.has(c)) {
      depth = Math.max(0, depth - 1);
    }
  }
  return deepest;
}

/**
 * express.json's `verify` hook: runs on the raw body before JSON.parse (and so before
 * authentication), refusing a body nested deeper than MAX_JSON_DEPTH with a 400.
 */
export function refuseDeepJson(_req: IncomingMessage, _res: unknown, body: Buffer, encoding: string | null): void {
  let text: string;
  try {
    text = new TextDecoder(encoding ?? 'utf-8').decode(body);
  } catch {
    throw new HttpError(415, 'unsupported_charset', `JSON bodies must be UTF-8 (or UTF-16), not ${encoding}`);
  }
  if (jsonNestingDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new HttpError(400, 'json_too_deep', `the JSON body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
  }
}

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
  next(
    new HttpError(400, 'invalid_input', `${where}: must not contain NUL (\\u0000) characters`, [
      { path: path.join('.'), message: 'must not contain NUL (\\u0000) characters' },
    ]),
  );
};
