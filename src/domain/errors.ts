/**
 * The two error kinds of fleet handling. The API maps them to HTTP statuses
 * (input → 400, conflict → 409) so domain code never needs to know about HTTP.
 */

/** Where in the operator's input the problem is: an INI line and key, or a JSON path. */
export interface FleetInputDetails {
  line?: number;
  key?: string;
  path?: (string | number)[];
}

/** The fleet definition itself is wrong (syntax, unknown names, bad values): HTTP 400. */
export class FleetInputError extends Error {
  override readonly name = 'FleetInputError';
  readonly details: FleetInputDetails;

  constructor(message: string, details: FleetInputDetails = {}) {
    super(message);
    this.details = details;
  }
}

export type FleetConflictCode = 'name_clash' | 'ip_clash' | 'pool_exhausted' | 'deployment_limit' | 'network_mismatch';

/** The definition is valid on its own but clashes with the deployed fleet or its limits: HTTP 409. */
export class FleetConflictError extends Error {
  override readonly name = 'FleetConflictError';
  readonly code: FleetConflictCode;
  readonly details?: Record<string, unknown>;

  constructor(code: FleetConflictCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/**
 * A request asking for more deckies than the deployment limit allows even on an empty fleet,
 * refused before anything is expanded. A 409 like any deploy over the limit (architecture.md §5): the
 * request is well formed; the limit is a setting an admin may raise.
 */
export function overDeploymentLimitError(requested: number, limit: number, what: string): FleetConflictError {
  return new FleetConflictError('deployment_limit', `${what} ${requested} deckies, over the deployment limit of ${limit} (GET/PUT /api/v1/system/limits)`, {
    deployment_limit: limit,
    requested,
  });
}
