/**
 * The zod schemas of the swarm (architecture.md §5, §8): enrollment, hosts, the agents' heartbeat and the
 * agent's decnet.ini. One schema per concept; `.meta({id})` names OpenAPI components.
 */
import { ObservedEngineSchema } from './drift';
import { z } from 'zod';
import { isAgentVersion } from './version';
import { DeckyNameSchema, DeckySpecSchema, DriverMoveFields, LanNetworkSpecSchema, NetworkDriverSchema } from './schemas';

export const DEFAULT_AGENT_PORT = 8765;
export const DEFAULT_SWARM_PORT = 8770;
/** An enrollment token is good for this long (architecture.md §3). */
export const ENROLLMENT_TTL_MS = 5 * 60 * 1000;
export const AGENT_CONFIG_DIR = '/etc/decnet';
/** The agent artefact (one JavaScript file run by `node`), where an agent host installs it, and the command linked to it. */
export const AGENT_ARTEFACT_FILE = 'decnet-agent.cjs';
/** Where agents POST their heartbeat, on the master's swarm port (mTLS). */
export const HEARTBEAT_PATH = '/api/v1/swarm/heartbeat';
export const AGENT_INSTALL_DIR = '/usr/local/lib/decnet-agent';
export const AGENT_BIN_LINK = '/usr/local/bin/decnet-agent';
/**
 * In the agent's data directory: written by each run of the agent when the master first
 * acknowledges its heartbeat; the install script waits for it before saying "enrolled and live".
 */
export const AGENT_ACK_FILE = 'master-acknowledged.json';

export const SwarmHostStatusSchema = z
  .enum(['enrolled', 'active', 'unreachable', 'decommissioned'])
  .meta({ id: 'SwarmHostStatus', description: 'enrolled → active on the first heartbeat → unreachable after 3 silent intervals; decommissioned by DELETE' });
export type SwarmHostStatus = z.infer<typeof SwarmHostStatusSchema>;

/** A host's name: the agent certificate's common name and the systemd/ini label. */
export const SwarmHostNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9-]{0,62}$ (lower-case letters, digits, dashes)');

/**
 * A DNS name whose last label starts with a letter, an IPv4 address, or something shaped like an
 * IPv6 address (isIpv6 decides below). Also the OpenAPI pattern, so generated clients agree.
 */
const HOST_OR_IP = new RegExp(
  [
    '^(?:',
    '(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?',
    '|(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)',
    '|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}',
    ')$',
  ].join(''),
);
/**
 * An IPv6 address of hex groups (the shapes HOST_OR_IP lets through): eight groups of 1–4 hex
 * digits, or fewer around one `::` standing for at least one. As node's isIP decides, in pure code
 * that the web UI's type imports can load.
 */
export function isIpv6(s: string): boolean {
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length <= 7 : groups.length === 8;
}
const MASTER_HOST_MESSAGE = 'must be a host name or an IP address (as agents reach the master)';

/**
 * Where agents reach the master: a DNS name or an IP address. It lands in a shell command, the
 * install script and decnet.ini, so nothing else is accepted.
 */
export const MasterHostSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(HOST_OR_IP, MASTER_HOST_MESSAGE)
  .refine((s) => !s.includes(':') || isIpv6(s), MASTER_HOST_MESSAGE);

export const PortSchema = z.number().int('must be a whole number 1–65535').min(1, 'must be 1–65535').max(65535, 'must be 1–65535');

/** POST /swarm/enroll-bundle. */
export const EnrollBundleRequestSchema = z
  .object({
    agent_name: SwarmHostNameSchema,
    master_host: MasterHostSchema.meta({ description: 'Host name or IP address under which agents reach the master (API and swarm port)' }),
    use_ipvlan: z.boolean().default(false).meta({ description: 'The host runs its deckies on ipvlan instead of macvlan (Wi-Fi bridged VMs need it)' }),
    agent_port: PortSchema.default(DEFAULT_AGENT_PORT).meta({ description: "The agent's HTTPS port" }),
    reinstall: z.boolean().default(false).meta({
      description:
        'A new install command for a host already enrolled under this name (to upgrade its agent or repair its install): the host keeps its uuid, settings (use_ipvlan, agent_port are ignored) and deckies; its agent gets a new certificate when the new bundle is fetched, and the agent data on the host (jobs) stays',
    }),
  })
  .strict()
  .meta({ id: 'EnrollBundleRequest', examples: [{ agent_name: 'sensor-a', master_host: '10.0.0.2', use_ipvlan: false }] });
export type EnrollBundleRequest = z.infer<typeof EnrollBundleRequestSchema>;

/** 201 of POST /swarm/enroll-bundle. */
export const EnrollBundleResponseSchema = z
  .object({
    token: z.string().meta({ description: 'One-shot bundle token; the credential of the .sh and .tgz downloads' }),
    command: z.string().meta({
      description:
        "What to run as root on the agent host: curl over HTTPS with the master's public key pinned (--pinnedpubkey), or plain HTTP when the master opted in (DECNET_ENROLL_PLAIN_HTTP)",
    }),
    expires_at: z.iso.datetime(),
    host_uuid: z.uuid(),
  })
  .meta({ id: 'EnrollBundleResponse' });
export type EnrollBundleResponse = z.infer<typeof EnrollBundleResponseSchema>;

/** `{token}.sh` or `{token}.tgz`, the two downloads of an enrollment. */
export const BundleFileSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,128}\.(sh|tgz)$/)
  .transform((s) => {
    const dot = s.lastIndexOf('.');
    return { token: s.slice(0, dot), kind: s.slice(dot + 1) as 'sh' | 'tgz' };
  });

/** A host as GET /swarm/hosts shows it. */
export const SwarmHostViewSchema = z
  .object({
    uuid: z.uuid(),
    name: z.string(),
    address: z.string().nullable().meta({ description: 'Where the agent is reached; recorded when its bundle is fetched' }),
    agent_port: z.number().int(),
    status: SwarmHostStatusSchema,
    last_heartbeat: z.iso.datetime().nullable(),
    client_cert_fingerprint: z.string().meta({ description: "SHA-256 of the agent certificate's DER, lower-case hex" }),
    use_ipvlan: z.boolean(),
    network_drivers: z
      .array(NetworkDriverSchema)
      .nullable()
      .meta({ description: "The LAN drivers the host's kernel supports, as its agent's heartbeat reports them; null until it does" }),
    enrolled_at: z.iso.datetime(),
    notes: z.string().nullable(),
    agent_version: z.string().nullable().meta({ description: "The version the host's agent reports in its heartbeats; null until it reports one" }),
    agent_outdated: z
      .boolean()
      .nullable()
      .meta({ description: "The agent is older than this master (or too old to report its version); null until the agent's first heartbeat" }),
  })
  .meta({ id: 'SwarmHost' });
export type SwarmHostView = z.infer<typeof SwarmHostViewSchema>;

export const SwarmHostsResponseSchema = z
  .object({
    hosts: z.array(SwarmHostViewSchema),
    master_version: z.string().meta({ description: "This master's version: agents older than it are flagged `agent_outdated`" }),
  })
  .meta({ id: 'SwarmHostsResponse' });
export type SwarmHostsResponse = z.infer<typeof SwarmHostsResponseSchema>;

export const HostUuidSchema = z.uuid('must be a host uuid');

/** PATCH /swarm/hosts/{uuid}. */
export const SwarmHostPatchSchema = z
  .object({
    use_ipvlan: z.boolean().optional(),
    notes: z.string().max(2000).nullable().optional().meta({ description: 'Free text; null clears it' }),
    force: z.boolean().optional().meta({
      description:
        "With `use_ipvlan`: change the driver even though the agent's kernel probe (`network_drivers`) says the kernel lacks it, for a probe known to be wrong. The deckies' moves then ask the engine for real; a driver it refuses fails them and leaves the deckies where they were",
    }),
  })
  .strict()
  .refine((b) => b.use_ipvlan !== undefined || b.notes !== undefined, 'give use_ipvlan, notes or both')
  .refine((b) => !b.force || b.use_ipvlan !== undefined, { message: 'force applies to a use_ipvlan change only', path: ['force'] })
  .meta({ id: 'SwarmHostPatch', examples: [{ use_ipvlan: true }, { notes: 'rack 3, Wi-Fi bridge' }] });
export type SwarmHostPatch = z.infer<typeof SwarmHostPatchSchema>;

/** 202 of PATCH /swarm/hosts/{uuid} when deckies run there and its driver changes: they are moved. */
export const SwarmHostDriverMoveSchema = SwarmHostViewSchema.extend(DriverMoveFields).meta({
  id: 'SwarmHostDriverMove',
  description: 'The host as it is now (`use_ipvlan` still the driver its deckies are on), and the moves under way',
});
export type SwarmHostDriverMove = z.infer<typeof SwarmHostDriverMoveSchema>;

/** One finished agent job, reported by the heartbeat (applied to workflows by the dispatch work). */
export const AgentJobResultSchema = z
  .object({
    job_id: z.string().min(1).max(200),
    lifecycle_id: z.uuid().optional().meta({ description: 'The lifecycle row the job was dispatched for, when the master gave one' }),
    ok: z.boolean(),
    error: z.string().max(2000).optional(),
  })
  .meta({ id: 'AgentJobResult' });
export type AgentJobResult = z.infer<typeof AgentJobResultSchema>;

/**
 * Fencing (architecture.md §8): the generation of a decky's assignment to a host. The master bumps it on
 * every re-home and sends it with each job; an agent holding an older one must remove the decky.
 */
export const DeckyGenerationSchema = z.number().int().min(0).meta({ description: "The generation of the decky's assignment to its host (fencing)" });

/** What an agent says about itself; open to the fields the agent adds. */
export const AgentStatusSchema = z
  .looseObject({
    deckies: z
      .array(z.looseObject({ name: z.string(), running: z.boolean().optional(), state: z.string().optional(), generation: DeckyGenerationSchema.optional() }))
      .max(10_000)
      .optional(),
    /** What the agent's engine runs, judged by the master against each decky's desired state (drift). */
    observed: ObservedEngineSchema.optional(),
    network_drivers: z
      .array(NetworkDriverSchema)
      .max(NetworkDriverSchema.options.length)
      .optional()
      .meta({ description: "The LAN drivers the agent's kernel supports (probed once at the agent's start)" }),
  })
  .meta({ id: 'AgentStatus' });
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

/** The agent's version (package.json of its build), semver. */
export const AgentVersionSchema = z
  .string()
  .max(64)
  .refine(isAgentVersion, 'must be a semantic version such as 1.4.0')
  .meta({ description: "The agent's version (`decnet agent --version`)" });

/** POST /api/v1/swarm/heartbeat on the swarm port (mTLS). */
export const HeartbeatRequestSchema = z
  .object({
    host_uuid: z.uuid(),
    agent_version: AgentVersionSchema.optional(),
    status: AgentStatusSchema.optional(),
    results: z.array(AgentJobResultSchema).max(10_000).optional(),
    fencing: z.boolean().optional().meta({
      description:
        'The agent is returning (just started, or silent for a while): it reports what it runs only to learn what to remove; the master neither marks the host active nor takes this status',
    }),
  })
  .meta({ id: 'HeartbeatRequest' });
export type HeartbeatRequest = z.infer<typeof HeartbeatRequestSchema>;

/** A decky the agent must remove: its generation is stale, or the decky is no longer this host's. */
export const StaleDeckySchema = z
  .object({
    name: z.string(),
    generation: DeckyGenerationSchema.meta({ description: 'The generation the agent reported; it removes the decky only if it holds no newer one' }),
    reason: z.string(),
  })
  .meta({ id: 'StaleDecky' });
export type StaleDecky = z.infer<typeof StaleDeckySchema>;

export const HeartbeatResponseSchema = z.object({ ack: z.literal(true), remove: z.array(StaleDeckySchema).optional() }).meta({ id: 'HeartbeatResponse' });
export type HeartbeatResponse = z.infer<typeof HeartbeatResponseSchema>;

/** The `ini` package reads `true`/`false` as booleans; quoted ones stay text. */
const boolText = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const portText = z.string().regex(/^\d+$/, 'must be a port number').transform(Number).pipe(PortSchema);

/**
 * The agent's decnet.ini as the `ini` package reads it (strings): `[decnet]` and `[agent]`. File
 * paths are relative to the ini's directory.
 */
export const AgentIniSchema = z.object({
  decnet: z.object({ mode: z.literal('agent'), ipvlan: boolText }),
  agent: z.object({
    name: SwarmHostNameSchema,
    'master-host': MasterHostSchema,
    'master-port': portText,
    'agent-port': portText,
    'host-uuid': z.uuid(),
    'master-fingerprint': z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 fingerprint in lower-case hex'),
    'ca-cert': z.string().min(1),
    cert: z.string().min(1),
    key: z.string().min(1),
  }),
});
export type AgentIni = z.infer<typeof AgentIniSchema>;

/**
 * The longest reply the master reads from an agent (and an agent from the master's heartbeat):
 * replies describe one job or one host, far below it; a longer one is refused, not buffered.
 */
export const SWARM_REPLY_MAX_BYTES = 1024 * 1024;

/** `move`: a driver change, the LAN network taken to another driver with the deckies on it. */
export const AgentJobKindSchema = z.enum(['deploy', 'mutate', 'teardown', 'move']);
export type AgentJobKind = z.infer<typeof AgentJobKindSchema>;
export const AgentJobStatusSchema = z.enum(['pending', 'running', 'succeeded', 'failed']);
export type AgentJobStatus = z.infer<typeof AgentJobStatusSchema>;

/** Job ids become file names on the agent: plain characters only. */
export const JobIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/, 'must be 1–200 letters, digits, "_", ".", ":" or "-", starting with a letter or digit');

/** `generation`: the assignment of the job's decky to this host (fencing); absent from masters before it. */
const AgentJobBase = { job_id: JobIdSchema, lifecycle_id: z.uuid().optional(), generation: DeckyGenerationSchema.optional() };

/** The jobs the master sends (src/swarm/dispatch.ts) and the agent parses (src/agent/agent.ts), by kind. */
export const AgentJobRequestSchemas = {
  deploy: z
    .object({ ...AgentJobBase, config: z.object({ network: LanNetworkSpecSchema, deckies: z.array(DeckySpecSchema).min(1).max(1000) }).strict() })
    .strict(),
  mutate: z.object({ ...AgentJobBase, decky: DeckySpecSchema, services: z.array(z.string()).optional(), network: LanNetworkSpecSchema.optional() }).strict(),
  teardown: z.object({ ...AgentJobBase, decky: DeckyNameSchema.optional() }).strict(),
  /** A driver change: the LAN network taken to `network.driver` with every container on it, then `decky` checked. */
  move: z.object({ ...AgentJobBase, decky: DeckySpecSchema, network: LanNetworkSpecSchema, change_id: z.string().min(1).max(200) }).strict(),
} satisfies Record<AgentJobKind, z.ZodType>;
export type AgentJobRequestOf<K extends AgentJobKind> = z.infer<(typeof AgentJobRequestSchemas)[K]>;

/** What became of one decky of an agent job. */
export const AgentDeckyResultSchema = z.object({ decky: z.string(), ok: z.boolean(), error: z.string().optional() });
export type AgentDeckyResult = z.infer<typeof AgentDeckyResultSchema>;

/** 202 of POST /deploy, /mutate, /teardown on the agent: the job it took (or already had under that id). */
export const AgentJobAcceptedSchema = z.object({ job_id: z.string().min(1), kind: AgentJobKindSchema, status: AgentJobStatusSchema });
export type AgentJobAccepted = z.infer<typeof AgentJobAcceptedSchema>;

/** 200 of GET /jobs/{id} on the agent. */
export const AgentJobViewSchema = AgentJobAcceptedSchema.extend({
  results: z.array(AgentDeckyResultSchema),
  notes: z.array(z.string()).meta({ description: 'What the agent decided on its own, e.g. macvlan forced to ipvlan' }),
  lifecycle_id: z.uuid().optional(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
  result_acknowledged: z.boolean(),
});
export type AgentJobView = z.infer<typeof AgentJobViewSchema>;

const AGENT_JOBS = '/jobs';
/** The agent's HTTPS API (mTLS): the paths the master calls and the agent serves. */
export const AGENT_PATHS = {
  /** POST: a job of this kind (AgentJobRequestSchemas) → 202. */
  job: (kind: AgentJobKind) => `/${kind}`,
  /** GET: a job's view (AgentJobViewSchema), 404 for a job the agent does not know. */
  jobView: (jobId: string) => `${AGENT_JOBS}/${encodeURIComponent(jobId)}`,
  /** The same, as the agent's express route. */
  jobViewRoute: `${AGENT_JOBS}/:id`,
  /** POST: the host's decommission (AgentDecommissionRequestSchema). */
  decommission: '/decommission',
  /** GET: what the agent runs, for operators on the host. */
  status: '/status',
} as const;

/** POST /decommission on the agent (mTLS): the master names the host it means, so a misdirected call changes nothing. */
export const AgentDecommissionRequestSchema = z.object({ host_uuid: z.uuid() }).strict().meta({ id: 'AgentDecommissionRequest' });
export type AgentDecommissionRequest = z.infer<typeof AgentDecommissionRequestSchema>;

/** The agent's answer once its deckies and LAN network are gone and it refuses jobs. */
export const AgentDecommissionResponseSchema = z
  .object({
    host_uuid: z.uuid(),
    decommissioned_at: z.iso.datetime(),
    removed_deckies: z.array(z.string()),
    failed: z.array(z.object({ decky: z.string(), error: z.string() })).meta({ description: 'Deckies whose containers could not be removed' }),
    network: z.string().meta({ description: 'What became of the LAN network (removed, kept while another container uses it, already gone)' }),
  })
  .meta({ id: 'AgentDecommissionResponse' });
export type AgentDecommissionResponse = z.infer<typeof AgentDecommissionResponseSchema>;

/** 200 of DELETE /swarm/hosts/{uuid}: the host, and what its agent did before its certificate was revoked. */
export const SwarmHostDecommissionResponseSchema = SwarmHostViewSchema.extend({
  agent_cleanup: z
    .object({
      reached: z.boolean().meta({ description: 'false: the agent did not answer in time (or had no address); the host is decommissioned all the same' }),
      message: z.string(),
      removed_deckies: z.array(z.string()),
    })
    .nullable()
    .meta({ description: 'null when the host was already decommissioned' }),
}).meta({ id: 'SwarmHostDecommissionResponse' });
export type SwarmHostDecommissionResponse = z.infer<typeof SwarmHostDecommissionResponseSchema>;
