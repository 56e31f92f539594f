/**
 * The zod schemas of the product's concepts: the single source of truth for request
 * validation, TypeScript types and (later) the OpenAPI document.
 */
import { z } from 'zod';

export const DECKY_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const INI_MAX_BYTES = 512 * 1024;

const ipv4Octets = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const Ipv4Schema = z.string().regex(ipv4Octets, 'must be an IPv4 address like 192.168.1.50');
export const CidrSchema = z
  .string()
  .regex(/^[0-9.]+\/(\d|[12]\d|3[0-2])$/, 'must be an IPv4 CIDR like 192.168.1.0/24')
  .refine((s) => ipv4Octets.test(s.split('/')[0]), 'must be an IPv4 CIDR like 192.168.1.0/24');

export const DeckyNameSchema = z
  .string()
  .regex(DECKY_NAME_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$ (lower-case letters, digits, dashes)');

/** Mutation interval: whole minutes, or a string such as "30m", "2h", "2d", "1w", "1M", "1y"; null switches it off. */
export const MutateIntervalSchema = z.union([
  z.number().int().min(1).max(525_600 * 10),
  z.string().regex(/^\d+\s*(m|h|d|w|M|y)?$/, 'must be minutes or a duration like "30m", "2d", "1M", "1y"'),
  z.null(),
]);

export const NetworkSchema = z
  .object({
    subnet: CidrSchema,
    gateway: Ipv4Schema,
    interface: z.string().min(1).max(15).regex(/^[A-Za-z0-9_.:@-]+$/, 'must be a network interface name'),
    ip_range: CidrSchema.optional(),
    ipvlan: z.boolean().optional(),
  })
  .strict();
export type Network = z.infer<typeof NetworkSchema>;

export const ServiceConfigSchema = z.record(z.string(), z.record(z.string(), z.string()));

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
    hostname: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'must be a valid host name').optional(),
    service_config: ServiceConfigSchema.optional(),
  })
  .strict()
  .refine((d) => !(d.amount !== undefined && d.amount > 1 && d.ip !== undefined), {
    message: 'amount cannot be combined with ip',
    path: ['amount'],
  });
export type DeckyRequest = z.infer<typeof DeckyRequestSchema>;

export const FleetDefinitionSchema = z
  .object({
    network: NetworkSchema.partial().optional(),
    deckies: z.array(DeckyRequestSchema).min(1, 'at least one decky is required'),
  })
  .strict();
export type FleetDefinition = z.infer<typeof FleetDefinitionSchema>;

export const DeployRequestSchema = z.union([
  z
    .object({
      ini_content: z.string().min(1).max(INI_MAX_BYTES, 'INI content is limited to 512 KB'),
      replace_fleet: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      deckies: FleetDefinitionSchema.shape.deckies,
      network: FleetDefinitionSchema.shape.network,
      replace_fleet: z.boolean().default(false),
    })
    .strict(),
]);
export type DeployRequest = z.infer<typeof DeployRequestSchema>;

export const NmapOsSchema = z.enum(['linux', 'windows', 'embedded', 'bsd', 'macos']);
export type NmapOs = z.infer<typeof NmapOsSchema>;

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
});
export type DeckySpec = z.infer<typeof DeckySpecSchema>;

export const OperationSchema = z.enum(['deploy', 'mutate', 'teardown']);
export type Operation = z.infer<typeof OperationSchema>;
export const TriggerSchema = z.enum(['operator', 'scheduled', 'cli']);
export type Trigger = z.infer<typeof TriggerSchema>;
export const LifecycleStatusSchema = z.enum(['pending', 'running', 'succeeded', 'failed']);
export type LifecycleStatus = z.infer<typeof LifecycleStatusSchema>;
export const DeckyStateSchema = z.enum(['pending', 'running', 'degraded', 'failed', 'tearing_down', 'torn_down']);
export type DeckyState = z.infer<typeof DeckyStateSchema>;

export const StepSchema = z.object({
  name: z.string(),
  started_at: z.string(),
  finished_at: z.string(),
  ok: z.boolean(),
  detail: z.string().optional(),
});
export type Step = z.infer<typeof StepSchema>;

export const LifecycleRowSchema = z.object({
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
  started_at: z.string(),
  updated_at: z.string(),
  completed_at: z.string().nullable(),
});
export type LifecycleRow = z.infer<typeof LifecycleRowSchema>;

export const LifecycleQuerySchema = z.object({
  ids: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().uuid('each id must be a lifecycle uuid')).min(1, 'ids is required').max(200, 'at most 200 ids')),
});

export const RoleSchema = z.enum(['admin', 'viewer']);
export type Role = z.infer<typeof RoleSchema>;

export const DeploymentModeSchema = z.object({
  mode: z.enum(['swarm', 'unihost']),
  role: z.enum(['master', 'agent']),
  swarm_host_count: z.number().int(),
  message: z.string(),
});
export type DeploymentMode = z.infer<typeof DeploymentModeSchema>;

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** POST /deckies/{name}/mutate: explicit services, or none to let pickNewServices choose. */
export const MutateRequestSchema = z
  .object({
    services: z.array(z.string().min(1)).min(1, 'must list at least one service').max(10).optional(),
  })
  .strict();
export type MutateRequest = z.infer<typeof MutateRequestSchema>;

/** PUT /deckies/{name}/mutate-interval: the same shape the wizard and the CLI send. */
export const MutateIntervalRequestSchema = z.object({ mutate_interval: MutateIntervalSchema }).strict();
export type MutateIntervalRequest = z.infer<typeof MutateIntervalRequestSchema>;

/** 202 body of every operation that starts lifecycle rows (mutate, teardown). */
export const LifecycleIdsResponseSchema = z.object({ lifecycle_ids: z.array(z.string().uuid()) });
