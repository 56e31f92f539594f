/** /deckies: deploy, lifecycle polling, fleet view (filtered), mutation, heal, teardown of one decky or of the fleet. Thin: validation here, work in operations/. */
import { z } from 'zod';
import {
  DeckyAutoHealSchema,
  DeckyAutoHealUpdateSchema,
  DeckyDetailSchema,
  DeckyNameSchema,
  DeployPlanSchema,
  DeployRequestSchema,
  DeployResponseSchema,
  FleetQuerySchema,
  FleetResponseSchema,
  FleetTeardownQuerySchema,
  FleetTeardownResponseSchema,
  LifecycleIdsResponseSchema,
  LifecycleQuerySchema,
  LifecycleRowsResponseSchema,
  MutateIntervalRequestSchema,
  MutateIntervalResponseSchema,
  MutateRequestSchema,
  parseDeployRequest,
} from '../../domain/schemas';
import { previewDeploy, submitDeploy } from '../../operations/deploy';
import { submitTeardown } from '../../operations/teardown';
import { setMutateInterval, submitMutation } from '../../operations/mutate';
import { setDeckyAutoHeal, submitHeal } from '../../operations/heal';
import { deckyDetail, fleetView, lifecycleRows } from '../../operations/fleet-view';
import { TriggerHeaders, triggerOf } from '../trigger';
import { HttpError } from '../../http/errors';
import type { ApiDeps } from '../deps';
import { json, lifecycleLink, RouteTable } from '../route';

const IdempotencyKeySchema = z.string().min(1).max(255);
export const DeployQuerySchema = z.object({
  dry_run: z.enum(['true', 'false']).optional().meta({ description: 'true: answer 200 with the plan; nothing is written, no workflow starts' }),
});
const NameParams = z.object({ name: DeckyNameSchema.meta({ description: 'The decky name' }) });

/** OpenAPI links from an answer naming a decky to what can be done with it. */
function deckyLinks(name: string) {
  return {
    GetDecky: { operationId: 'getDeckiesName', parameters: { name } },
    MutateDecky: { operationId: 'postDeckiesNameMutate', parameters: { name } },
    SetMutateInterval: { operationId: 'putDeckiesNameMutateInterval', parameters: { name } },
    TearDownDecky: { operationId: 'deleteDeckiesName', parameters: { name } },
  };
}

export const deckiesRoutes = new RouteTable<ApiDeps>('deckies');

deckiesRoutes.post(
  '/api/v1/deckies/deploy',
  {
    summary: 'Deploy deckies',
    description:
      'Validates, allocates IPs, commits the desired state and one `pending` lifecycle row per decky, starts the workflows and answers at once. Additive unless `replace_fleet`. The same `Idempotency-Key` returns the same ids. With `dry_run=true` the same validation and planning run in a transaction that is rolled back: 200 with the plan, every refusal the deploy would give, nothing written or started.',
    access: 'admin',
    request: {
      query: DeployQuerySchema,
      headers: TriggerHeaders.extend({ 'Idempotency-Key': IdempotencyKeySchema.optional() }),
      body: { required: true, content: json(DeployRequestSchema) },
    },
    status: 202,
    success: {
      description: 'Accepted: poll the lifecycle ids',
      content: json(DeployResponseSchema),
      links: { ...deckyLinks('$response.body#/deckies/0'), ...lifecycleLink },
    },
    alternative: { status: 200, success: { description: 'dry_run=true: the plan; nothing was written or started', content: json(DeployPlanSchema) } },
    errors: [400, 409, 413],
  },
  async (req, res, deps) => {
    const { dry_run: dryRun } = DeployQuerySchema.parse(req.query);
    const body = parseDeployRequest(req.body ?? {});
    const key = req.header('Idempotency-Key');
    const idempotencyKey = key === undefined ? undefined : IdempotencyKeySchema.parse(key);
    await deps.ensureTemporalReachable();
    const opts = { trigger: triggerOf(req), idempotencyKey };
    if (dryRun === 'true') {
      res.json(await previewDeploy(deps.operations, body, opts));
      return;
    }
    res.status(202).json(await submitDeploy(deps.operations, body, opts));
  },
);

deckiesRoutes.get(
  '/api/v1/deckies/lifecycle',
  {
    summary: 'Lifecycle rows by id',
    description: '1–200 ids, repeated (`ids=a&ids=b`) or comma-separated (`ids=a,b`); unknown ids are left out.',
    access: 'viewer',
    request: { query: LifecycleQuerySchema },
    status: 200,
    success: { description: 'The known rows', content: json(LifecycleRowsResponseSchema) },
    errors: [400],
  },
  async (req, res, deps) => {
    const { ids } = LifecycleQuerySchema.parse({ ids: req.query.ids ?? [] });
    res.json({ rows: await lifecycleRows(deps.operations.orm.em.fork(), ids) });
  },
);

deckiesRoutes.get(
  '/api/v1/deckies',
  {
    summary: 'The fleet',
    description: 'Optionally filtered by host (`host_uuid`: a swarm host uuid, or `master` for the deckies on the master itself) and by `state`.',
    access: 'viewer',
    request: { query: FleetQuerySchema },
    status: 200,
    success: {
      description: 'Every decky with its state and last lifecycle row',
      content: json(FleetResponseSchema),
      links: deckyLinks('$response.body#/deckies/0/name'),
    },
    errors: [400],
  },
  async (req, res, deps) => {
    const query = FleetQuerySchema.parse(req.query);
    res.json({ deckies: await fleetView(deps.operations.orm.em.fork(), query) });
  },
);

deckiesRoutes.delete(
  '/api/v1/deckies',
  {
    summary: 'Tear down the whole fleet',
    description:
      '`confirm` must be the current fleet size (GET /system/limits `deckies_used`), so a stale page cannot remove more than it showed. One teardown lifecycle row per decky, committed together; a decky already being torn down answers with its row. The last teardown on an engine removes the LAN network.',
    access: 'admin',
    request: { query: FleetTeardownQuerySchema, headers: TriggerHeaders },
    status: 202,
    success: { description: 'Accepted: poll the lifecycle ids', content: json(FleetTeardownResponseSchema), links: lifecycleLink },
    errors: [400, 409],
    errorDescriptions: {
      400: '`confirm` is not a whole number, or `X-Decnet-Trigger` is neither `operator` nor `cli`',
      409: '`confirm` is missing or is not the fleet size (`error.details.fleet_size`), or an operation other than a teardown is in flight on some deckies (`error.details.deckies`)',
    },
  },
  async (req, res, deps) => {
    const { confirm } = FleetTeardownQuerySchema.parse(req.query);
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitTeardown(deps.operations, { kind: 'fleet', confirm }, triggerOf(req)));
  },
);

deckiesRoutes.get(
  '/api/v1/deckies/{name}',
  {
    summary: 'One decky',
    access: 'viewer',
    request: { params: NameParams },
    status: 200,
    success: { description: 'The decky and its recent lifecycle rows, newest first', content: json(DeckyDetailSchema) },
    errors: [404],
  },
  async (req, res, deps) => {
    const name = parseName(String(req.params.name));
    res.json(await deckyDetail(deps.operations.orm.em.fork(), name));
  },
);

deckiesRoutes.post(
  '/api/v1/deckies/{name}/mutate',
  {
    summary: 'Mutate a decky now',
    description: 'Gives the decky new services: the ones listed, or a fresh pick when the body names none.',
    access: 'admin',
    request: { params: NameParams, headers: TriggerHeaders, body: { required: false, content: json(MutateRequestSchema) } },
    status: 202,
    success: { description: 'Accepted: poll the lifecycle id', content: json(LifecycleIdsResponseSchema), links: lifecycleLink },
    errors: [400, 404, 409, 413],
  },
  async (req, res, deps) => {
    const name = parseName(String(req.params.name));
    const body = MutateRequestSchema.parse(req.body ?? {});
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitMutation(deps.operations, name, body, triggerOf(req)));
  },
);

deckiesRoutes.post(
  '/api/v1/deckies/{name}/heal',
  {
    summary: 'Heal a decky now',
    description:
      "Brings the decky's containers back to its desired state, like its deploy: a base container that still runs keeps its IP, a missing one is created again with it. Degraded deckies are healed without this when auto-heal is on (GET /system/healing, PUT /deckies/{name}/auto-heal); this also starts over after auto-heal gave up.",
    access: 'admin',
    request: { params: NameParams, headers: TriggerHeaders },
    status: 202,
    success: { description: 'Accepted: poll the lifecycle id', content: json(LifecycleIdsResponseSchema), links: lifecycleLink },
    errors: [400, 404, 409],
    errorDescriptions: { 409: 'Another operation is in flight on the decky (`operation_in_flight`), or it is being deployed or torn down (`not_healable`)' },
  },
  async (req, res, deps) => {
    const name = parseName(String(req.params.name));
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitHeal(deps.operations, name, triggerOf(req)));
  },
);

deckiesRoutes.put(
  '/api/v1/deckies/{name}/auto-heal',
  {
    summary: "Switch a decky's auto-heal",
    description: 'true or false for this decky; null follows the fleet-wide setting.',
    access: 'admin',
    request: { params: NameParams, body: { required: true, content: json(DeckyAutoHealUpdateSchema) } },
    status: 200,
    success: { description: "The decky's setting and whether it is healed automatically now", content: json(DeckyAutoHealSchema) },
    errors: [400, 404, 413],
  },
  async (req, res, deps) => {
    const name = parseName(String(req.params.name));
    const body = DeckyAutoHealUpdateSchema.parse(req.body ?? {});
    res.json(await setDeckyAutoHeal(deps.operations, name, body.auto_heal));
  },
);

deckiesRoutes.put(
  '/api/v1/deckies/{name}/mutate-interval',
  {
    summary: "Set a decky's mutation interval",
    description: 'Minutes, or a duration such as "30m", "2d"; null switches scheduled mutation off. Updates the decky\'s Temporal Schedule.',
    access: 'admin',
    request: { params: NameParams, body: { required: true, content: json(MutateIntervalRequestSchema) } },
    status: 200,
    success: { description: 'The interval now in force', content: json(MutateIntervalResponseSchema) },
    errors: [400, 404, 413],
  },
  async (req, res, deps) => {
    const name = parseName(String(req.params.name));
    const body = MutateIntervalRequestSchema.parse(req.body ?? {});
    await deps.ensureTemporalReachable();
    res.json(await setMutateInterval(deps.operations, name, body.mutate_interval));
  },
);

deckiesRoutes.delete(
  '/api/v1/deckies/{name}',
  {
    summary: 'Tear a decky down',
    description: 'Cancels an operation in flight on the decky first; asking twice answers with the first teardown.',
    access: 'admin',
    request: { params: NameParams, headers: TriggerHeaders },
    status: 202,
    success: { description: 'Accepted: poll the lifecycle id', content: json(LifecycleIdsResponseSchema), links: lifecycleLink },
    errors: [400, 404],
  },
  async (req, res, deps) => {
    const name = parseName(String(req.params.name));
    await deps.ensureTemporalReachable();
    const { lifecycle_ids } = await submitTeardown(deps.operations, { kind: 'decky', name }, triggerOf(req));
    res.status(202).json({ lifecycle_ids });
  },
);

function parseName(raw: string): string {
  const parsed = DeckyNameSchema.safeParse(raw);
  if (!parsed.success) throw new HttpError(404, 'not_found', `decky "${raw}" does not exist (not a valid decky name)`);
  return parsed.data;
}
