/**
 * The zod schemas of the product's concepts: the single source of truth for request
 * validation, TypeScript types and the OpenAPI document (src/api/openapi.ts). `.meta({id})`
 * names a schema as an OpenAPI component; it changes nothing in validation.
 */
import { z } from 'zod';

export const DECKY_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const INI_MAX_BYTES = 512 * 1024;
/** The highest deployment limit (architecture.md §3: 1–500); the database checks the same range (deployment_limit_range). */
export const DEPLOYMENT_LIMIT_MAX = 500;

const ipv4Octets = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const Ipv4Schema = z.string().regex(ipv4Octets, 'must be an IPv4 address like 192.168.1.50');
export const CidrSchema = z
  .string()
  .regex(/^[0-9.]+\/(\d|[12]\d|3[0-2])$/, 'must be an IPv4 CIDR like 192.168.1.0/24')
  .refine((s) => ipv4Octets.test(s.split('/')[0]), 'must be an IPv4 CIDR like 192.168.1.0/24');

/** Names that collide with fixed routes under /deckies (GET /deckies/lifecycle would shadow the decky). */
export const RESERVED_DECKY_NAMES = ['lifecycle'];

export const DeckyNameSchema = z
  .string()
  .regex(DECKY_NAME_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$ (lower-case letters, digits, dashes)')
  .refine((name) => !RESERVED_DECKY_NAMES.includes(name), { message: `is reserved (${RESERVED_DECKY_NAMES.join(', ')})` });

/** Mutation interval: whole minutes, or a string such as "30m", "2h", "2d", "1w", "1M", "1y"; null switches it off. */
export const MutateIntervalSchema = z.union([
  z
    .number()
    .int()
    .min(1)
    .max(525_600 * 10),
  z.string().regex(/^\d+\s*(m|h|d|w|M|y)?$/, 'must be minutes or a duration like "30m", "2d", "1M", "1y"'),
  z.null(),
]);

export const NetworkSchema = z
  .object({
    subnet: CidrSchema,
    gateway: Ipv4Schema,
    interface: z
      .string()
      .min(1)
      .max(15)
      .regex(/^[A-Za-z0-9_.:@-]+$/, 'must be a network interface name'),
    ip_range: CidrSchema.optional(),
    ipvlan: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'Network', description: 'The LAN the deckies join: parent interface, subnet, gateway' });
export type Network = z.infer<typeof NetworkSchema>;

export const ServiceConfigSchema = z.record(z.string(), z.record(z.string(), z.string()));

/** Service names end up in compose service keys, container names and env values: keep them plain. */
export const ServiceNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_]*$/, 'must be lower-case letters, digits and underscores');

/**
 * A bring-your-own service (DECNET's `[custom-<name>]` section): an image already on the engine,
 * run in the decky's network namespace like a catalogue service. `exec` is the argv, run without a shell.
 */
export const CustomServiceSchema = z
  .object({
    image: z.string().min(1).max(255).regex(/^\S+$/, 'must be an image reference without spaces'),
    exec: z
      .array(z.string())
      .min(1, 'must name the program to run')
      .max(256)
      .optional()
      .meta({ description: "The container's command as an argv list, run without a shell; absent: the image's own command" }),
    ports: z.array(z.number().int().min(1).max(65535)).max(64).optional().meta({ description: 'Ports it listens on, told to it as DECNET_PORTS' }),
  })
  .strict()
  .meta({ id: 'CustomService', examples: [{ image: 'registry.local/tarpit:1.2', exec: ['/usr/bin/tarpit', '--port', '2222'], ports: [2222] }] });
export type CustomService = z.infer<typeof CustomServiceSchema>;

/**
 * Custom services by name; the name is what `services` lists, and must not be a catalogue service.
 * Names are checked by a refinement rather than as the record's key schema: a failed key aborts
 * the parse, and the deploy request's union would then answer a bare "Invalid input".
 */
export const CustomServicesSchema = z.record(z.string(), CustomServiceSchema).superRefine((services, ctx) => {
  for (const name of Object.keys(services)) {
    const check = ServiceNameSchema.safeParse(name);
    if (!check.success) ctx.addIssue({ code: 'custom', path: [name], message: `custom service name "${name}" ${check.error.issues[0].message}` });
  }
});
export type CustomServices = z.infer<typeof CustomServicesSchema>;

/** OS families whose network fingerprint a decky's base container imitates (compose-render's NMAP_OS_SYSCTLS). */
export const NmapOsSchema = z.enum(['linux', 'windows', 'embedded', 'bsd', 'macos', 'cisco']);
export type NmapOs = z.infer<typeof NmapOsSchema>;

/** One decky as an operator asks for it (JSON form; the INI form is parsed into the same shape). */
export const DeckyRequestSchema = z
  .object({
    name: DeckyNameSchema,
    ip: Ipv4Schema.optional(),
    services: z.array(z.string().min(1)).min(1, 'must list at least one service').optional(),
    archetype: z.string().min(1).optional(),
    amount: z.number().int('must be a whole number 1–100').min(1, 'must be 1–100').max(100, 'must be 1–100').optional(),
    mutate_interval: MutateIntervalSchema.optional(),
    distro: z.string().min(1).max(64).optional(),
    hostname: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'must be a valid host name')
      .optional(),
    nmap_os: NmapOsSchema.optional().meta({ description: "OS family of the network fingerprint; default: the archetype's, else from the distro" }),
    service_config: ServiceConfigSchema.optional(),
  })
  .strict()
  .refine((d) => !(d.amount !== undefined && d.amount > 1 && d.ip !== undefined), {
    message: 'amount cannot be combined with ip',
    path: ['amount'],
  })
  .meta({ id: 'DeckyRequest', description: 'One decky as an operator asks for it; `amount` > 1 expands it to name-01, name-02, …' });
export type DeckyRequest = z.infer<typeof DeckyRequestSchema>;

export const FleetDefinitionSchema = z
  .object({
    network: NetworkSchema.partial().optional(),
    // No limit can ever take more: a longer list is refused before its items are validated.
    deckies: z
      .array(DeckyRequestSchema)
      .min(1, 'at least one decky is required')
      .max(DEPLOYMENT_LIMIT_MAX, `at most ${DEPLOYMENT_LIMIT_MAX} deckies (the highest deployment limit)`),
    custom_services: CustomServicesSchema.optional(),
  })
  .strict();
export type FleetDefinition = z.infer<typeof FleetDefinitionSchema>;

/** A fleet read from a deploy request, with what was skipped in it (line-numbered for an INI). */
export interface ParsedFleet {
  definition: FleetDefinition;
  warnings: string[];
}

const IniDeployRequestSchema = z
  .object({
    ini_content: z.string().min(1).max(INI_MAX_BYTES, 'INI content is limited to 512 KB'),
    replace_fleet: z.boolean().default(false),
  })
  .strict();
const JsonDeployRequestSchema = z
  .object({
    deckies: FleetDefinitionSchema.shape.deckies,
    network: FleetDefinitionSchema.shape.network,
    custom_services: FleetDefinitionSchema.shape.custom_services,
    replace_fleet: z.boolean().default(false),
  })
  .strict();

export const DeployRequestSchema = z.union([IniDeployRequestSchema, JsonDeployRequestSchema]).meta({
  id: 'DeployRequest',
  description: 'A fleet as an INI file (`ini_content`) or as JSON (`deckies`, `network`)',
  examples: [
    {
      deckies: [
        { name: 'web', services: ['ssh', 'http'] },
        { name: 'ws', archetype: 'windows-workstation', amount: 2 },
      ],
      network: { subnet: '192.168.1.0/24', gateway: '192.168.1.1', interface: 'eth0' },
    },
    { ini_content: '[general]\nnet=192.168.1.0/24\ngw=192.168.1.1\ninterface=eth0\n\n[web]\nservices=ssh,http\n' },
  ],
});
export type DeployRequest = z.infer<typeof DeployRequestSchema>;

/**
 * A deploy body parsed by the form it is in (`ini_content` or not). The union alone answers a bare
 * "Invalid input" when a mistake (a wrong type, an unknown enum value) fails both of its forms.
 */
export function parseDeployRequest(body: unknown): DeployRequest {
  const isIni = typeof body === 'object' && body !== null && 'ini_content' in body;
  return (isIni ? IniDeployRequestSchema : JsonDeployRequestSchema).parse(body);
}

/** A decky fully resolved: what the runtime needs to render and run it. */
export const DeckySpecSchema = z.object({
  name: DeckyNameSchema,
  ip: Ipv4Schema,
  services: z.array(z.string()).min(1),
  archetype: z.string().nullable(),
  distro: z.string(),
  base_image: z.string(),
  hostname: z.string(),
  nmap_os: NmapOsSchema,
  service_config: ServiceConfigSchema,
  mutate_interval: z.number().int().positive().nullable(),
  /** The custom services defined for this decky, kept so a mutation, heal or agent renders them again. */
  custom_services: CustomServicesSchema.default({}),
});
export type DeckySpec = z.infer<typeof DeckySpecSchema>;

export const NetworkDriverSchema = z.enum(['macvlan', 'ipvlan']);
export type NetworkDriver = z.infer<typeof NetworkDriverSchema>;

/** `move`: the decky's base container and IP taken to another LAN network driver on the same engine. */
export const OperationSchema = z.enum(['deploy', 'mutate', 'teardown', 'heal', 'move']);
export type Operation = z.infer<typeof OperationSchema>;
/**
 * `reconciler`: the master itself, e.g. an automatic heal of a degraded decky; `failover`: the
 * master re-homing the deckies of a host silent past the failover delay; `driver_change`: a
 * host's `use_ipvlan` or the master's LAN driver changed under running deckies, which are moved.
 */
export const TriggerSchema = z.enum(['operator', 'scheduled', 'cli', 'reconciler', 'failover', 'driver_change']);
export type Trigger = z.infer<typeof TriggerSchema>;
export const LifecycleStatusSchema = z.enum(['pending', 'running', 'succeeded', 'failed']);
export type LifecycleStatus = z.infer<typeof LifecycleStatusSchema>;
/** A row in one of these has its operation in flight (at most one per decky: a partial unique index). */
export const IN_FLIGHT_STATUSES = ['pending', 'running'] as const satisfies readonly LifecycleStatus[];
export const DeckyStateSchema = z.enum(['pending', 'running', 'degraded', 'failed', 'tearing_down', 'torn_down']);
export type DeckyState = z.infer<typeof DeckyStateSchema>;

/** An ISO 8601 instant as Date#toISOString writes it; `format` only documents it. */
const IsoTimestamp = z.string().meta({ format: 'date-time' });

export const StepSchema = z
  .object({
    name: z.string(),
    started_at: z.string(),
    finished_at: z.string(),
    ok: z.boolean(),
    detail: z.string().optional(),
  })
  .meta({ id: 'Step' });
export type Step = z.infer<typeof StepSchema>;

export const LifecycleRowSchema = z
  .object({
    id: z.string().uuid(),
    decky_name: z.string(),
    host_uuid: z.string().nullable(),
    operation: OperationSchema,
    trigger: TriggerSchema,
    status: LifecycleStatusSchema,
    error: z.string().nullable(),
    steps: z.array(StepSchema),
    workflow_id: z.string(),
    run_id: z.string().nullable(),
    network_driver: NetworkDriverSchema.nullable().meta({ description: 'A `move` row: the LAN driver it moves the decky to; null for other operations' }),
    started_at: IsoTimestamp,
    updated_at: IsoTimestamp,
    completed_at: IsoTimestamp.nullable(),
  })
  .meta({ id: 'LifecycleRow', description: 'One operation on one decky, driven by one workflow' });
export type LifecycleRow = z.infer<typeof LifecycleRowSchema>;

export const LifecycleQuerySchema = z.object({
  ids: z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().uuid('each id must be a lifecycle uuid')).min(1, 'ids is required').max(200, 'at most 200 ids')),
});

export const RoleSchema = z.enum(['admin', 'viewer']);
export type Role = z.infer<typeof RoleSchema>;

/** Where an API token came from: DECNET_ADMIN_TOKEN, the one printed at first start, `decnet token create`. */
export const TokenSourceSchema = z.enum(['env', 'first_start', 'cli']);
export type TokenSource = z.infer<typeof TokenSourceSchema>;

/** An API token as listed: never its secret (only a hash of it is stored). */
export const ApiTokenViewSchema = z
  .object({
    id: z.uuid(),
    name: z.string().meta({ description: 'What the token is for (its label)' }),
    role: RoleSchema,
    source: TokenSourceSchema.meta({ description: '`env`: DECNET_ADMIN_TOKEN; `first_start`: printed by the first `decnet up`; `cli`: `decnet token create`' }),
    created_at: IsoTimestamp,
    last_used_at: IsoTimestamp.nullable().meta({ description: 'Written at most once a minute per token' }),
    revoked_at: IsoTimestamp.nullable().meta({ description: 'null while the token is valid' }),
  })
  .meta({ id: 'ApiTokenView' });
export type ApiTokenView = z.infer<typeof ApiTokenViewSchema>;

export const ApiTokensResponseSchema = z.object({ tokens: z.array(ApiTokenViewSchema) }).meta({ id: 'ApiTokensResponse' });

export const TokenIdSchema = z.uuid('must be a token id (a uuid, from GET /tokens)');

/** GET /catalog: the per-decky services with their ports, the archetypes, and where the Temporal Web UI is. */
export const CatalogResponseSchema = z
  .object({
    services: z.array(z.object({ name: z.string(), ports: z.array(z.number().int()) })),
    archetypes: z.array(z.object({ name: z.string(), services: z.array(z.string()), nmap_os: NmapOsSchema })),
    temporal_ui: z
      .object({
        url: z.string().meta({ description: 'Base URL of the Temporal Web UI' }),
        namespace: z.string(),
      })
      .nullable()
      .meta({ description: 'A workflow is at `{url}/namespaces/{namespace}/workflows/{workflow_id}`; null when unknown' }),
  })
  .meta({ id: 'Catalog', description: 'The services a decky may run (fleet-wide ones left out) and the archetypes, in catalogue order' });
export type CatalogResponse = z.infer<typeof CatalogResponseSchema>;

export const DeploymentModeSchema = z
  .object({
    mode: z.enum(['swarm', 'unihost']),
    role: z.enum(['master', 'agent']),
    swarm_host_count: z.number().int(),
    message: z.string(),
  })
  .meta({ id: 'DeploymentMode' });
export type DeploymentMode = z.infer<typeof DeploymentModeSchema>;

export const ErrorBodySchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  })
  .meta({ id: 'ErrorBody', description: 'Every refusal: a stable code, a message for people, and details (zod issues, the INI line, …)' });

/** POST /deckies/{name}/mutate: explicit services, or none to let pickNewServices choose. */
export const MutateRequestSchema = z
  .object({
    services: z.array(z.string().min(1)).min(1, 'must list at least one service').max(10).optional(),
  })
  .strict()
  .meta({ id: 'MutateRequest', examples: [{ services: ['ssh', 'ftp'] }, {}] });
export type MutateRequest = z.infer<typeof MutateRequestSchema>;

/** PUT /deckies/{name}/mutate-interval: the same shape the wizard and the CLI send. */
export const MutateIntervalRequestSchema = z
  .object({ mutate_interval: MutateIntervalSchema })
  .strict()
  .meta({ id: 'MutateIntervalRequest', examples: [{ mutate_interval: '2h' }, { mutate_interval: 90 }, { mutate_interval: null }] });
export type MutateIntervalRequest = z.infer<typeof MutateIntervalRequestSchema>;

/** 202 body of every operation that starts lifecycle rows (mutate, teardown). */
export const LifecycleIdsResponseSchema = z.object({ lifecycle_ids: z.array(z.string().uuid()) }).meta({ id: 'LifecycleIdsResponse' });

/**
 * What a driver change answers (202) when deckies must move: their `move` rows. The driver it
 * names is recorded where it applies (the host's `use_ipvlan`, the LAN's `driver`) once a move
 * has succeeded; until then that still names the driver the deckies are on.
 */
export const DriverMoveFields = {
  lifecycle_ids: z.array(z.uuid()).meta({ description: 'One `move` row (trigger `driver_change`) per running or degraded decky' }),
  moving_to: NetworkDriverSchema.meta({ description: 'The driver the deckies are being moved to' }),
};
export type DriverMove = z.infer<z.ZodObject<typeof DriverMoveFields>>;

/** A decky's own auto-heal switch: null follows the fleet's (GET /system/healing). */
export const AutoHealSettingSchema = z.boolean().nullable().meta({ description: 'true/false for this decky; null follows the fleet-wide setting' });

// Response bodies: what the routes answer, typed by these (src/entities/mappers.ts) and documented from them.

/**
 * The LAN network as a Docker engine makes it: what the master's network step, a swarm job's
 * `network` and the runtime's memory of it (lan.json) hold.
 */
export const LanNetworkSpecSchema = z
  .object({
    driver: NetworkDriverSchema,
    parent: NetworkSchema.shape.interface,
    subnet: z.string().min(1),
    gateway: z.string().min(1),
    ipRange: z.string().min(1).nullable().optional(),
  })
  .strict();
export type LanNetworkSpec = z.infer<typeof LanNetworkSpecSchema>;

const PlanHostSchema = z.object({ uuid: z.string(), name: z.string() }).meta({ id: 'PlanHost', description: 'A swarm host' });

/** One decky as a deploy places it: its resolved identity, its host and the network driver that host is sent. */
export const PlannedDeckySchema = z
  .object({
    name: DeckyNameSchema,
    ip: Ipv4Schema,
    services: z.array(z.string()),
    distro: z.string(),
    archetype: z.string().nullable(),
    hostname: z.string(),
    host: PlanHostSchema.nullable().meta({ description: 'The swarm host that runs it; null: the master runs it' }),
    driver: NetworkDriverSchema,
    ipvlan_forced: z.boolean().meta({ description: "true when the swarm host's use_ipvlan turns the LAN's macvlan into ipvlan" }),
  })
  .meta({ id: 'PlannedDecky' });

/**
 * What a deploy does (src/operations/deploy.ts): the answer of POST /deckies/deploy?dry_run=true,
 * and the `plan` of the real deploy's 202.
 */
export const DeployPlanSchema = z
  .object({
    mode: z.enum(['swarm', 'unihost']),
    message: z.string(),
    network: NetworkSchema,
    deckies: z.array(PlannedDeckySchema).meta({ description: 'The deckies of the request, in its order' }),
    rehomed: z
      .array(z.object({ name: DeckyNameSchema, from_host: PlanHostSchema, to_host: PlanHostSchema }))
      .meta({ description: 'Deckies of decommissioned or silent swarm hosts that move to a live one' }),
    teardowns: z.array(DeckyNameSchema).meta({ description: 'replace_fleet: the deckies the new definition drops' }),
    warnings: z
      .array(z.string())
      .meta({ description: 'What the definition holds but the deploy skips, e.g. an INI subsection of a decky the file does not define (line-numbered)' }),
  })
  .meta({ id: 'DeployPlan', description: 'What a deploy does: the LAN, each decky with its IP, host and network driver, re-homed orphans, teardowns' });
export type DeployPlan = z.infer<typeof DeployPlanSchema>;
export type PlannedDecky = z.infer<typeof PlannedDeckySchema>;

/** 202 of POST /deckies/deploy (src/operations/deploy.ts). */
export const DeployResponseSchema = z
  .object({
    message: z.string(),
    mode: z.enum(['swarm', 'unihost']),
    lifecycle_ids: z
      .array(z.string().uuid())
      .meta({ description: 'One per deployed decky, in the order of `deckies` (orphans re-homed to live swarm hosts come last)' }),
    deckies: z.array(z.string()),
    teardown_lifecycle_ids: z.array(z.string().uuid()).meta({ description: 'replace_fleet: the deckies the new definition drops' }),
    // Its `warnings` say what the definition holds but the deploy skipped.
    plan: DeployPlanSchema,
  })
  .meta({ id: 'DeployResponse' });
export type DeployResponseBody = z.infer<typeof DeployResponseSchema>;

export const LifecycleRowsResponseSchema = z.object({ rows: z.array(LifecycleRowSchema) }).meta({ id: 'LifecycleRowsResponse' });

/** A decky as GET /deckies and GET /deckies/{name} show it (deckyToView). */
export const DeckyViewSchema = DeckySpecSchema.extend({
  mutate_enabled: z.boolean().meta({ description: 'false once mutate-interval was set to null: no scheduled mutation' }),
  host_uuid: z.string().nullable(),
  state: DeckyStateSchema,
  last_error: z.string().nullable().meta({ description: 'Why the decky is `failed` or `degraded` (e.g. "container ssh exited (137)")' }),
  auto_heal: AutoHealSettingSchema,
  last_mutated: IsoTimestamp.nullable(),
  last_seen: IsoTimestamp.nullable(),
  created_at: IsoTimestamp,
  last_lifecycle: LifecycleRowSchema.nullable(),
}).meta({ id: 'DeckyView' });
export type DeckyView = z.infer<typeof DeckyViewSchema>;

export const FleetResponseSchema = z.object({ deckies: z.array(DeckyViewSchema) }).meta({ id: 'FleetResponse' });

/** GET /deckies/{name}: the decky and its recent lifecycle rows, newest first. */
export const DeckyDetailSchema = DeckyViewSchema.extend({ lifecycle: z.array(LifecycleRowSchema) }).meta({ id: 'DeckyDetail' });
export type DeckyDetail = z.infer<typeof DeckyDetailSchema>;

/** 200 of PUT /deckies/{name}/mutate-interval. */
export const MutateIntervalResponseSchema = z
  .object({
    name: DeckyNameSchema,
    mutate_interval: z
      .number()
      .int()
      .positive()
      .nullable()
      .meta({ description: 'Minutes set on this decky; null when the global interval applies or mutation is off' }),
    effective_interval: z
      .number()
      .int()
      .positive()
      .nullable()
      .meta({ description: "Minutes between scheduled mutations now; null when mutation is off (the decky's Schedule is removed)" }),
  })
  .meta({ id: 'MutateIntervalResponse' });
export type MutateIntervalResponse = z.infer<typeof MutateIntervalResponseSchema>;

export const HealthResponseSchema = z.object({ status: z.literal('ok') }).meta({ id: 'HealthResponse' });
export const ReadyResponseSchema = z.object({ status: z.literal('ready'), database: z.literal(true), temporal: z.literal(true) }).meta({ id: 'ReadyResponse' });

/** DELETE /deckies: the fleet size the operator saw, so a stale page cannot tear down more than it showed. */
export const FleetTeardownQuerySchema = z
  .object({
    // Missing is not a 400: the 409 that answers it tells the current fleet size.
    confirm: z
      .string()
      .regex(/^\d{1,9}$/, 'confirm must be the fleet size, a whole number')
      .transform(Number)
      .optional(),
  })
  .strict()
  .meta({ id: 'FleetTeardownQuery' });

/** 202 of DELETE /deckies and POST /swarm/hosts/{uuid}/teardown: one teardown row per decky. */
export const FleetTeardownResponseSchema = z
  .object({
    message: z.string(),
    lifecycle_ids: z.array(z.string().uuid()).meta({ description: 'One per decky, in the order of `deckies`' }),
    deckies: z.array(DeckyNameSchema),
  })
  .meta({ id: 'FleetTeardownResponse' });
export type FleetTeardownResponse = z.infer<typeof FleetTeardownResponseSchema>;

/** GET /deckies filters: `host_uuid` is a swarm host's uuid or `master` (deckies on the master's own engine). */
export const FleetQuerySchema = z
  .object({
    host_uuid: z.union([z.literal('master'), z.uuid('host_uuid must be a swarm host uuid or "master"')]).optional(),
    state: DeckyStateSchema.optional(),
  })
  .strict()
  .meta({ id: 'FleetQuery' });
export type FleetQuery = z.infer<typeof FleetQuerySchema>;

/** GET/PUT /system/healing: whether degraded deckies are healed without an operator. */
export const SystemHealingSchema = z
  .object({ auto_heal: z.boolean().meta({ description: "Fleet-wide default; a decky's own auto_heal overrides it" }) })
  .strict()
  .meta({ id: 'SystemHealing', examples: [{ auto_heal: true }] });
export type SystemHealing = z.infer<typeof SystemHealingSchema>;

/** PUT /deckies/{name}/auto-heal. */
export const DeckyAutoHealUpdateSchema = z
  .object({ auto_heal: AutoHealSettingSchema })
  .strict()
  .meta({ id: 'DeckyAutoHealUpdate', examples: [{ auto_heal: false }] });

/** 200 of PUT /deckies/{name}/auto-heal. */
export const DeckyAutoHealSchema = z
  .object({ name: z.string(), auto_heal: AutoHealSettingSchema, effective: z.boolean().meta({ description: 'Whether the decky is healed automatically now' }) })
  .meta({ id: 'DeckyAutoHeal' });
export type DeckyAutoHeal = z.infer<typeof DeckyAutoHealSchema>;

/** GET /system/limits. */
export const SystemLimitsSchema = z
  .object({
    deployment_limit: z.number().int().meta({ description: 'The most deckies the fleet may hold' }),
    deckies_used: z.number().int().meta({ description: 'Deckies in the fleet now' }),
  })
  .meta({ id: 'SystemLimits', examples: [{ deployment_limit: 50, deckies_used: 3 }] });
export type SystemLimits = z.infer<typeof SystemLimitsSchema>;

/** PUT /system/limits. */
export const SystemLimitsUpdateSchema = z
  .object({
    deployment_limit: z
      .number()
      .int(`deployment_limit must be a whole number 1–${DEPLOYMENT_LIMIT_MAX}`)
      .min(1, `deployment_limit must be 1–${DEPLOYMENT_LIMIT_MAX}`)
      .max(DEPLOYMENT_LIMIT_MAX, `deployment_limit must be 1–${DEPLOYMENT_LIMIT_MAX}`),
  })
  .strict()
  .meta({ id: 'SystemLimitsUpdate', examples: [{ deployment_limit: 100 }] });
export type SystemLimitsUpdate = z.infer<typeof SystemLimitsUpdateSchema>;
