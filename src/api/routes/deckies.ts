/** /deckies: deploy, lifecycle polling, fleet view (filtered), mutation, heal, teardown of one decky or of the fleet. Thin: validation here, work in operations/. */
import { Router } from 'express';
import { z } from 'zod';
import { Decky, DeckyLifecycle } from '../../entities';
import { deckyToView, lifecycleToRow } from '../../entities/mappers';
import {
  DeckyAutoHealUpdateSchema,
  DeckyNameSchema,
  FleetQuerySchema,
  FleetTeardownQuerySchema,
  LifecycleQuerySchema,
  MutateIntervalRequestSchema,
  MutateRequestSchema,
  parseDeployRequest,
} from '../../domain/schemas';
import { previewDeploy, submitDeploy } from '../../operations/deploy';
import { submitTeardown } from '../../operations/teardown';
import { setMutateInterval, submitMutation } from '../../operations/mutate';
import { setDeckyAutoHeal, submitHeal } from '../../operations/heal';
import { NotFoundError } from '../../operations/errors';
import { requireRole } from '../auth';
import { triggerOf } from '../trigger';
import { HttpError } from '../../http/errors';
import type { ApiDeps } from '../deps';

export const IdempotencyKeySchema = z.string().min(1).max(255);
export const DeployQuerySchema = z.object({
  dry_run: z.enum(['true', 'false']).optional().meta({ description: 'true: answer 200 with the plan; nothing is written, no workflow starts' }),
});

export function deckiesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/deploy', requireRole('admin'), async (req, res) => {
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
  });

  router.get('/lifecycle', requireRole('viewer'), async (req, res) => {
    const { ids } = LifecycleQuerySchema.parse({ ids: req.query.ids ?? [] });
    const rows = await deps.operations.orm.em.fork().find(DeckyLifecycle, { id: { $in: ids } });
    res.json({ rows: rows.map(lifecycleToRow) });
  });

  router.get('/', requireRole('viewer'), async (req, res) => {
    const query = FleetQuerySchema.parse(req.query);
    const em = deps.operations.orm.em.fork();
    const where = {
      ...(query.host_uuid === undefined ? {} : { hostUuid: query.host_uuid === 'master' ? null : query.host_uuid }),
      ...(query.state === undefined ? {} : { state: query.state }),
    };
    const deckies = await em.find(Decky, where, { orderBy: { name: 'asc' } });
    const latest = await latestLifecycles(
      em,
      deckies.map((d) => d.name),
    );
    res.json({ deckies: deckies.map((d) => deckyToView(d, latest.get(d.name))) });
  });

  router.get('/:name', requireRole('viewer'), async (req, res) => {
    const name = parseName(String(req.params.name));
    const em = deps.operations.orm.em.fork();
    const decky = await em.findOne(Decky, { name });
    if (!decky) throw new NotFoundError(`decky "${name}" does not exist`);
    const recent = await em.find(DeckyLifecycle, { deckyName: name }, { orderBy: { startedAt: 'desc' }, limit: 20 });
    res.json({ ...deckyToView(decky, recent[0]), lifecycle: recent.map(lifecycleToRow) });
  });

  router.post('/:name/mutate', requireRole('admin'), async (req, res) => {
    const name = parseName(String(req.params.name));
    const body = MutateRequestSchema.parse(req.body ?? {});
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitMutation(deps.operations, name, body, triggerOf(req)));
  });

  router.post('/:name/heal', requireRole('admin'), async (req, res) => {
    const name = parseName(String(req.params.name));
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitHeal(deps.operations, name, triggerOf(req)));
  });

  router.put('/:name/auto-heal', requireRole('admin'), async (req, res) => {
    const name = parseName(String(req.params.name));
    const body = DeckyAutoHealUpdateSchema.parse(req.body ?? {});
    res.json(await setDeckyAutoHeal(deps.operations, name, body.auto_heal));
  });

  router.put('/:name/mutate-interval', requireRole('admin'), async (req, res) => {
    const name = parseName(String(req.params.name));
    const body = MutateIntervalRequestSchema.parse(req.body ?? {});
    await deps.ensureTemporalReachable();
    res.json(await setMutateInterval(deps.operations, name, body.mutate_interval));
  });

  router.delete('/', requireRole('admin'), async (req, res) => {
    const { confirm } = FleetTeardownQuerySchema.parse(req.query);
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitTeardown(deps.operations, { kind: 'fleet', confirm }, triggerOf(req)));
  });

  router.delete('/:name', requireRole('admin'), async (req, res) => {
    const name = parseName(String(req.params.name));
    await deps.ensureTemporalReachable();
    const { lifecycle_ids } = await submitTeardown(deps.operations, { kind: 'decky', name }, triggerOf(req));
    res.status(202).json({ lifecycle_ids });
  });

  return router;
}

function parseName(raw: string): string {
  const parsed = DeckyNameSchema.safeParse(raw);
  if (!parsed.success) throw new HttpError(404, 'not_found', `decky "${raw}" does not exist (not a valid decky name)`);
  return parsed.data;
}

async function latestLifecycles(em: ReturnType<ApiDeps['operations']['orm']['em']['fork']>, names: string[]) {
  if (names.length === 0) return new Map<string, DeckyLifecycle>();
  const rows: Record<string, unknown>[] = await em
    .getConnection()
    .execute('select distinct on (decky_name) * from decky_lifecycle where decky_name in (?) order by decky_name, started_at desc', [names]);
  return new Map(rows.map((r) => [r.decky_name as string, em.map(DeckyLifecycle, r)]));
}
