/** /system: where a deploy would go, the LAN, the deployment limit and the fleet-wide auto-heal switch. */
import { ConfiguredLanSchema, LanDriverMoveSchema, LanRequestSchema, lanRequestOnHost, SystemNetworkSchema, type SystemNetwork } from '../../domain/lan';
import { DeploymentModeSchema, SystemHealingSchema, SystemLimitsSchema, SystemLimitsUpdateSchema } from '../../domain/schemas';
import { readHealing, setHealing } from '../../operations/heal';
import { deploymentMode } from '../../operations/deployment-mode';
import { readLimits, setDeploymentLimit } from '../../operations/limits';
import { currentLan, setLan } from '../../operations/network';
import { detectLan, hostInterfaces } from '../host-network';
import type { ApiDeps } from '../deps';
import { json, lifecycleLink, RouteTable } from '../route';

export const systemRoutes = new RouteTable<ApiDeps>('system');

systemRoutes.get(
  '/api/v1/system/deployment-mode',
  {
    summary: 'Where a deploy would go',
    access: 'viewer',
    status: 200,
    success: { description: 'The mode rule that deploy uses', content: json(DeploymentModeSchema) },
  },
  async (_req, res, deps) => {
    const { hosts: _hosts, ...mode } = await deploymentMode(deps.operations.orm.em.fork(), deps.role);
    res.json(mode);
  },
);

systemRoutes.get(
  '/api/v1/system/network',
  {
    summary: 'The LAN the deckies join',
    description:
      "The LAN in use, or `configured: false` with a `suggestion` detected on this host: its default-route interface (the kernel's routing table), that interface's IPv4 subnet and the route's gateway. Nothing is set until an admin PUTs it.",
    access: 'viewer',
    status: 200,
    success: { description: 'The LAN, or a suggestion for it', content: json(SystemNetworkSchema) },
  },
  async (_req, res, deps) => {
    const lan = await currentLan(deps.operations.orm.em.fork());
    const suggestion = lan ? null : await detectLan();
    const body: SystemNetwork = lan ?? { configured: false, ...(suggestion ? { suggestion } : {}) };
    res.json(body);
  },
);

systemRoutes.put(
  '/api/v1/system/network',
  {
    summary: 'Set the LAN',
    description:
      "The whole LAN: the interface must exist on this host, the subnet be a network address, the gateway a host inside it, `ip_range` a network inside it. The same values again change nothing; other values are refused while deckies are deployed, except the `driver` alone: the master's own running and degraded deckies are then moved to it (202), one `move` lifecycle row each (trigger `driver_change`), base containers and IPs kept. The LAN's `driver` changes once a move has succeeded; a driver the engine refuses (ipvlan on a kernel without it) fails every row with `IpvlanUnsupported`, and the deckies stay on the old driver's network, running, their `last_error` saying why.",
    access: 'admin',
    request: { body: { required: true, content: json(LanRequestSchema) } },
    status: 200,
    success: { description: 'The LAN now in use', content: json(ConfiguredLanSchema) },
    alternative: {
      status: 202,
      success: {
        description: "The driver alone changed under the master's deckies: they are being moved; poll the lifecycle ids",
        content: json(LanDriverMoveSchema),
        links: lifecycleLink,
      },
    },
    errors: [400, 409, 413],
    errorDescriptions: {
      409: "`network_mismatch`: deckies are deployed on the current LAN (`error.details.deckies` lists them), or swarm deckies follow the LAN's driver; `operation_in_flight`: a driver change while one of the master's deckies has an operation in flight",
    },
  },
  async (req, res, deps) => {
    const lan = lanRequestOnHost(await hostInterfaces()).parse(req.body ?? {});
    const current = await currentLan(deps.operations.orm.em.fork());
    // A driver change may start moves: their workflows need Temporal.
    if (current && current.driver !== lan.driver) await deps.ensureTemporalReachable();
    const answer = await setLan(deps.operations, lan);
    res.status('lifecycle_ids' in answer ? 202 : 200).json(answer);
  },
);

systemRoutes.get(
  '/api/v1/system/limits',
  {
    summary: 'The deployment limit and how much of it is used',
    access: 'viewer',
    status: 200,
    success: { description: 'The limit and the fleet size', content: json(SystemLimitsSchema) },
  },
  async (_req, res, deps) => {
    res.json(await readLimits(deps.operations));
  },
);

systemRoutes.put(
  '/api/v1/system/limits',
  {
    summary: 'Set the deployment limit',
    description: 'A deploy whose deckies (each `amount`) would take the fleet over the limit is refused with 409 before anything is allocated.',
    access: 'admin',
    request: { body: { required: true, content: json(SystemLimitsUpdateSchema) } },
    status: 200,
    success: { description: 'The limit now in force', content: json(SystemLimitsSchema) },
    errors: [400, 409, 413],
    errorDescriptions: { 409: 'The new limit is below the number of deckies deployed now' },
  },
  async (req, res, deps) => {
    const body = SystemLimitsUpdateSchema.parse(req.body ?? {});
    res.json(await setDeploymentLimit(deps.operations, body.deployment_limit));
  },
);

systemRoutes.get(
  '/api/v1/system/healing',
  {
    summary: 'Whether degraded deckies are healed automatically',
    access: 'viewer',
    status: 200,
    success: { description: 'The fleet-wide auto-heal switch', content: json(SystemHealingSchema) },
  },
  async (_req, res, deps) => {
    res.json(await readHealing(deps.operations));
  },
);

systemRoutes.put(
  '/api/v1/system/healing',
  {
    summary: 'Switch auto-heal fleet-wide',
    description:
      "A decky's own setting (PUT /deckies/{name}/auto-heal) overrides it. After repeated failed heals a decky waits longer each time, then stays degraded and says so until healed by hand.",
    access: 'admin',
    request: { body: { required: true, content: json(SystemHealingSchema) } },
    status: 200,
    success: { description: 'The switch now in force', content: json(SystemHealingSchema) },
    errors: [400, 413],
  },
  async (req, res, deps) => {
    res.json(await setHealing(deps.operations, SystemHealingSchema.parse(req.body ?? {})));
  },
);
