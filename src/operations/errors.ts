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
