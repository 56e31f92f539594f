/**
 * /swarm on the operators' API: enrolling hosts and managing them (architecture.md §5, §8). The enrollment
 * downloads are in src/swarm/enrollment-routes.ts; the agents' POST /api/v1/swarm/heartbeat is
 * served only on the mTLS swarm port (DECNET_SWARM_PORT), never here, and so is not documented here.
 */
import { z } from 'zod';
import {
  EnrollBundleRequestSchema,
  EnrollBundleResponseSchema,
  HostUuidSchema,
  SwarmHostDecommissionResponseSchema,
  SwarmHostDriverMoveSchema,
  SwarmHostPatchSchema,
  SwarmHostViewSchema,
  SwarmHostsResponseSchema,
} from '../../domain/swarm-schemas';
import { FleetTeardownResponseSchema } from '../../domain/schemas';
import { DECNET_VERSION } from '../../domain/version';
import { NotFoundError } from '../../operations/errors';
import { enrollHost } from '../../swarm/enrollment';
import { DECOMMISSION_AGENT_TIMEOUT_MS, decommissionHost, listHosts, patchHost } from '../../swarm/hosts';
import type { SwarmContext } from '../../swarm/context';
import { submitTeardown } from '../../operations/teardown';
import type { ApiDeps } from '../deps';
import { json, lifecycleLink, RouteTable } from '../route';
import { TriggerHeaders, triggerOf } from '../trigger';

const HostParams = z.object({ uuid: HostUuidSchema.meta({ description: 'The host uuid' }) });
const hostLinks = (uuid: string) => ({
  PatchHost: { operationId: 'patchSwarmHostsUuid', parameters: { uuid } },
  DecommissionHost: { operationId: 'deleteSwarmHostsUuid', parameters: { uuid } },
});
const noSuchHost = { 404: 'No such swarm host' } as const;

/** Served only where the API has a swarm (ApiDeps.swarm). */
type SwarmRouteDeps = Pick<ApiDeps, 'operations' | 'ensureTemporalReachable'> & { swarm: SwarmContext };

/** Enrollment and the hosts, behind the admin bearer token. */
export const swarmRoutes = new RouteTable<SwarmRouteDeps>('swarm');

swarmRoutes.post(
  '/api/v1/swarm/enroll-bundle',
  {
    summary: 'Enroll an agent host',
    description:
      "Issues the agent's certificate, creates the host `enrolled` (it turns `active`, and receives deckies, at its agent's first heartbeat) and a one-shot token valid for 5 minutes. Run `command` as root on the agent host: it fetches the install script, which downloads the bundle once. Both downloads (`GET /api/v1/swarm/enroll-bundle/{token}.sh` and `.tgz`, the token their credential; HEAD and other methods 405) are served over HTTPS on the enrollment port (`DECNET_ENROLL_PORT`, not this API port) with the master's certificate, and `command` pins its public key (`curl --pinnedpubkey sha256//…`). Only with `DECNET_ENROLL_PLAIN_HTTP=1` are they also served here over plain HTTP, and `command` uses that. The script checks the host's requirements, installs the agent artefact (checked against the sha256 it carries), starts it and waits for its first acknowledged heartbeat. With `reinstall: true`, a new command for a host already enrolled under that name (same uuid): run on the host, it upgrades the agent in place.",
    access: 'admin',
    request: { body: { required: true, content: json(EnrollBundleRequestSchema) } },
    status: 201,
    success: {
      description: 'Enrolled: the command to run on the agent host',
      content: json(EnrollBundleResponseSchema),
      links: hostLinks('$response.body#/host_uuid'),
    },
    errors: [400, 404, 409, 413],
    errorDescriptions: { 404: 'reinstall: no enrolled host of that name', 409: 'A host of that name is enrolled and not decommissioned (without reinstall)' },
  },
  async (req, res, { swarm }) => {
    const body = EnrollBundleRequestSchema.parse(req.body ?? {});
    res.status(201).json(await enrollHost(swarm, body));
  },
);

swarmRoutes.get(
  '/api/v1/swarm/hosts',
  {
    summary: 'Swarm hosts',
    description: 'Every host with its status and last heartbeat, decommissioned ones included.',
    access: 'admin',
    status: 200,
    success: { description: 'The hosts, oldest enrollment first', content: json(SwarmHostsResponseSchema), links: hostLinks('$response.body#/hosts/0/uuid') },
  },
  async (_req, res, { swarm }) => {
    res.json({ hosts: await listHosts(swarm), master_version: DECNET_VERSION });
  },
);

swarmRoutes.patch(
  '/api/v1/swarm/hosts/{uuid}',
  {
    summary: 'Change a swarm host',
    description:
      "`use_ipvlan` (the host then gets ipvlan for its deckies) and `notes`. A driver change never cuts running deckies off the LAN: it is refused when the host's agent reports a kernel without that driver (`network_drivers`), unless `force`; with running or degraded deckies on the host it moves them (202): one `move` lifecycle row each (trigger `driver_change`), base containers and IPs kept. `use_ipvlan` changes once a move has succeeded, so it always names the driver the host's deckies are on; a driver the engine refuses fails every row with `IpvlanUnsupported` and the deckies stay on the old driver's network, running, their `last_error` saying why.",
    access: 'admin',
    request: { params: HostParams, body: { required: true, content: json(SwarmHostPatchSchema) } },
    status: 200,
    success: { description: 'The host as it is now', content: json(SwarmHostViewSchema) },
    alternative: {
      status: 202,
      success: {
        description: "The host's deckies are being moved to the new driver; poll the lifecycle ids",
        content: json(SwarmHostDriverMoveSchema),
        links: lifecycleLink,
      },
    },
    errors: [400, 404, 409, 413],
    errorDescriptions: {
      ...noSuchHost,
      409: 'The driver change is refused, nothing changed: `driver_unsupported` (the agent reports its kernel lacks it; `force` overrides) or `operation_in_flight` (a decky on the host has an operation in flight, a move included)',
    },
  },
  async (req, res, deps) => {
    const uuid = parseHostUuid(String(req.params.uuid));
    const body = SwarmHostPatchSchema.parse(req.body ?? {});
    // A driver change may start moves: their workflows need Temporal.
    if (body.use_ipvlan !== undefined) await deps.ensureTemporalReachable();
    const answer = await patchHost(deps.swarm, deps.operations, uuid, body);
    res.status('lifecycle_ids' in answer ? 202 : 200).json(answer);
  },
);

swarmRoutes.delete(
  '/api/v1/swarm/hosts/{uuid}',
  {
    summary: 'Decommission a swarm host',
    description: `First the host's agent, if it answers within ${DECOMMISSION_AGENT_TIMEOUT_MS / 1000} s, removes its deckies and LAN network and stops taking jobs (\`agent_cleanup\` says what it did, or that it did not answer); no deploy places a decky meanwhile. Then the host's certificate is refused on the swarm port; its deckies keep their host (those the agent removed show \`degraded\`) and are re-homed by the next deploy. Asking twice answers the same without calling the agent again.`,
    access: 'admin',
    request: { params: HostParams },
    status: 200,
    success: { description: 'The host, decommissioned', content: json(SwarmHostDecommissionResponseSchema) },
    errors: [404],
    errorDescriptions: noSuchHost,
  },
  async (req, res, { swarm }) => {
    const uuid = parseHostUuid(String(req.params.uuid));
    res.json(await decommissionHost(swarm, uuid));
  },
);

swarmRoutes.post(
  '/api/v1/swarm/hosts/{uuid}/teardown',
  {
    summary: 'Tear down every decky of a swarm host',
    description:
      'One teardown lifecycle row per decky of the host, committed together; a decky already being torn down answers with its row. 409 when another operation is in flight on any of them.',
    access: 'admin',
    request: { params: HostParams, headers: TriggerHeaders },
    status: 202,
    success: { description: 'Accepted: poll the lifecycle ids', content: json(FleetTeardownResponseSchema), links: lifecycleLink },
    errors: [400, 404, 409],
    errorDescriptions: {
      ...noSuchHost,
      400: '`X-Decnet-Trigger` is neither `operator` nor `cli`',
      409: 'An operation other than a teardown is in flight on some of its deckies (named in `error.details.deckies`)',
    },
  },
  async (req, res, deps) => {
    const uuid = parseHostUuid(String(req.params.uuid));
    await deps.ensureTemporalReachable();
    res.status(202).json(await submitTeardown(deps.operations, { kind: 'host', hostUuid: uuid }, triggerOf(req)));
  },
);

function parseHostUuid(raw: string): string {
  const parsed = HostUuidSchema.safeParse(raw);
  if (!parsed.success) throw new NotFoundError(`swarm host "${raw}" does not exist (not a host uuid)`);
  return parsed.data;
}
