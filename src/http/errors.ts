/** One error body for every refusal: {error: {code, message, details?}} (architecture.md §5). */
import type { ErrorRequestHandler, Response } from 'express';
import { ZodError } from 'zod';
import { FleetConflictError, FleetInputError } from '../domain/errors';
import { ConflictError, ForbiddenError, GoneError, NotFoundError, UnavailableError } from '../operations/errors';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function sendError(res: Response, status: number, code: string, message: string, details?: unknown): void {
  if (status === 503) res.setHeader('Retry-After', '5');
  res.status(status).json({ error: { code, message, ...(details === undefined ? {} : { details }) } });
}

/** Connection failures to PostgreSQL or Temporal mean "try again later", never a 500. */
export function isDependencyDown(err: unknown): boolean {
  const e = err as { code?: unknown; message?: string; name?: string };
  if (typeof e?.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|57P01|57P03|08\d\d\d)$/.test(e.code)) return true;
  if (e?.code === 14 /* gRPC UNAVAILABLE */ || e?.code === 4 /* DEADLINE_EXCEEDED */) return true;
  return /Connection terminated|connect ECONNREFUSED|Timeout acquiring a connection|the database system is (starting up|shutting down)|UNAVAILABLE|Failed to connect before the deadline/i.test(
    e?.message ?? '',
  );
}

export function zodDetails(err: ZodError) {
  return err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (res.headersSent) return;
  if (err instanceof HttpError) return sendError(res, err.status, err.code, err.message, err.details);
  if (err instanceof ZodError) {
    const details = zodDetails(err);
    return sendError(res, 400, 'invalid_input', details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; '), details);
  }
  if (err instanceof FleetInputError) return sendError(res, 400, 'invalid_fleet', err.message, err.details);
  if (err instanceof FleetConflictError) return sendError(res, 409, err.code, err.message, err.details);
  if (err instanceof ConflictError) return sendError(res, 409, err.code, err.message, err.details);
  if (err instanceof NotFoundError) return sendError(res, 404, err.code, err.message);
  if (err instanceof ForbiddenError) return sendError(res, 403, err.code, err.message);
  if (err instanceof GoneError) return sendError(res, 410, err.code, err.message);
  if (err instanceof UnavailableError || isDependencyDown(err)) {
    return sendError(res, 503, 'unavailable', 'a dependency (PostgreSQL or Temporal) is unreachable; retry shortly');
  }
  // body-parser: malformed JSON, too large, bad encoding.
  const status = (err as { status?: number; type?: string }).status;
  if (status && status >= 400 && status < 500) {
    const type = (err as { type?: string }).type;
    const code = type === 'entity.parse.failed' ? 'invalid_json' : type === 'entity.too.large' ? 'payload_too_large' : 'bad_request';
    return sendError(res, status, code, (err as Error).message);
  }
  req.log?.error({ err }, 'unhandled error');
  return sendError(res, 500, 'internal', 'internal error');
};
