/** Refusals of an operation request, mapped to HTTP by the API and to exit codes by the CLI. */
export class NotFoundError extends Error {
  readonly code = 'not_found';
}

export class ConflictError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class UnavailableError extends Error {
  readonly code = 'unavailable';
}

/** Authenticated but not allowed (a decommissioned host, a certificate that is not the host's). */
export class ForbiddenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The thing existed but is gone for good (an expired or already used enrollment token). */
export class GoneError extends Error {
  readonly code = 'gone';
}
