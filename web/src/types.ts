/** The API's wire shapes that the UI reads (SPEC §5; src/domain/schemas.ts is the source). */

export type LifecycleStatus = 'pending' | 'running' | 'succeeded' | 'failed';
export type Operation = 'deploy' | 'mutate' | 'teardown' | 'heal' | 'move';

export interface LifecycleStep {
  name: string;
  started_at: string;
  finished_at: string;
  ok: boolean;
  detail?: string;
}

export interface LifecycleRow {
  id: string;
  decky_name: string;
  host_uuid: string | null;
  operation: Operation;
  trigger: string;
  status: LifecycleStatus;
  error: string | null;
  steps: LifecycleStep[];
  workflow_id: string;
  run_id: string | null;
  started_at: string;
  updated_at: string;
  completed_at: string | null;
}

export interface DeckyView {
  name: string;
  ip: string;
  services: string[];
  archetype: string | null;
  /** OS family whose network fingerprint the decky imitates: linux, windows, bsd, macos, embedded, cisco. */
  nmap_os: string;
  /** Its bring-your-own services by name (older masters leave it out). */
  custom_services?: Record<string, { image: string; exec?: string[]; ports?: number[] }>;
  /** Minutes set on this decky; null when the global default applies. */
  mutate_interval: number | null;
  /** false once scheduled mutation was switched off (older masters leave it out). */
  mutate_enabled?: boolean;
  host_uuid: string | null;
  state: 'pending' | 'running' | 'degraded' | 'failed' | 'tearing_down' | 'torn_down';
  /** Why it is failed or degraded, e.g. "container ssh exited (137)". */
  last_error: string | null;
  /** Its own auto-heal switch; null follows the fleet's (older masters leave it out). */
  auto_heal?: boolean | null;
  last_mutated: string | null;
  last_seen: string | null;
  created_at: string;
  last_lifecycle: LifecycleRow | null;
}

export interface Catalog {
  services: { name: string; ports: number[] }[];
  archetypes: { name: string; services: string[]; nmap_os: string }[];
  temporal_ui: { url: string; namespace: string } | null;
}

export interface DeploymentMode {
  mode: 'swarm' | 'unihost';
  role: string;
  swarm_host_count: number;
  message: string;
}

export type { DriverMove, SystemLimits, DeployResponseBody as DeployResponse } from '../../src/domain/schemas';

export interface MutateIntervalResponse {
  name: string;
  mutate_interval: number | null;
  effective_interval: number | null;
}

export interface SwarmHost {
  uuid: string;
  name: string;
  address: string | null;
  agent_port?: number;
  status: 'enrolled' | 'active' | 'unreachable' | 'decommissioned';
  last_heartbeat: string | null;
  use_ipvlan: boolean;
  /** The LAN drivers the host's kernel supports, as its agent reports them; null until it does. */
  network_drivers?: Array<'macvlan' | 'ipvlan'> | null;
  notes: string | null;
  /** What the agent's heartbeats report; null before the first one. */
  agent_version: string | null;
  /** Older than the master (or too old to report a version); null before the first heartbeat. */
  agent_outdated: boolean | null;
}

export interface SwarmHostsResponse {
  hosts: SwarmHost[];
  master_version: string;
}

export interface EnrollBundle {
  token: string;
  command: string;
  expires_at: string;
  host_uuid: string;
}

/** `details` of a 400: zod issues, or where in a fleet definition the problem is. */
export type ErrorDetails = { path: string; message: string }[] | { path?: (string | number)[]; line?: number; key?: string } | unknown;

/** GET/PUT /system/network: the types of the API's own zod schemas. */
export type { ConfiguredLan, LanSuggestion, SystemNetwork } from '../../src/domain/lan';
