/**
 * The API's wire shapes that the UI reads: the types of the API's own zod schemas
 * (src/domain), imported as types only, so nothing of the server is bundled.
 */

export type {
  CatalogResponse as Catalog,
  DeckyView,
  DeploymentMode,
  DriverMove,
  LifecycleRow,
  LifecycleStatus,
  MutateIntervalResponse,
  Operation,
  SystemLimits,
  DeployResponseBody as DeployResponse,
} from '../../src/domain/schemas';
export type { ConfiguredLan, LanSuggestion, SystemNetwork } from '../../src/domain/lan';
export type { EnrollBundleResponse as EnrollBundle, SwarmHostView as SwarmHost, SwarmHostsResponse } from '../../src/domain/swarm-schemas';

/** `details` of a 400 (ErrorBodySchema leaves it open): zod issues, or where in a fleet definition the problem is. */
export type ErrorDetails = { path: string; message: string }[] | { path?: (string | number)[]; line?: number; key?: string } | unknown;
