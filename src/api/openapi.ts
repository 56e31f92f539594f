/**
 * The OpenAPI 3.1 document of the API, generated from the zod schemas that validate the requests
 * (src/domain/schemas.ts and the routes' own small schemas): no hand-written copy. Served at
 * GET /openapi.json and browsable at GET /docs (swagger-ui-dist, no CDN).
 */
import path from 'node:path';
import express, { type Router } from 'express';
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { getAbsoluteFSPath } from 'swagger-ui-dist';
import { z } from 'zod';
import { ErrorBodySchema, FleetTeardownResponseSchema, ApiTokenViewSchema, ApiTokensResponseSchema, TokenIdSchema } from '../domain/schemas';
import { catalogRoutes } from './routes/catalog';
import { TriggerHeaders } from './trigger';
import { json, lifecycleLink, RouteTable, type DocumentedRoute, type ErrorStatus } from './route';
import { deckiesRoutes } from './routes/deckies';
import { DECOMMISSION_AGENT_TIMEOUT_MS } from '../swarm/hosts';
import { eventsRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { systemRoutes } from './routes/system';
import {
  EnrollBundleRequestSchema,
  EnrollBundleResponseSchema,
  HostUuidSchema,
  SwarmHostDecommissionResponseSchema,
  SwarmHostDriverMoveSchema,
  SwarmHostPatchSchema,
  SwarmHostViewSchema,
  SwarmHostsResponseSchema,
} from '../domain/swarm-schemas';

const API_VERSION = '0.1.0';
const BEARER = 'bearerAuth';

const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'Invalid input: the zod issues (or the INI line) in `error.details`; a JSON body nested more than 32 levels deep is refused before authentication (`json_too_deep`)',
  401: 'No bearer token, or an unknown one',
  403: 'The token lacks the role this needs',
  404: 'No such decky',
  409: 'Conflict with the current state',
  413: 'Request body over 1 MB',
  429: 'Too many requests of this kind at once',
  503: 'PostgreSQL or Temporal is unreachable; retry after `Retry-After` seconds',
};

/**
 * /swarm (SPEC §5, §8): enrollment and hosts. The agents' POST /api/v1/swarm/heartbeat is not in
 * this document: it is served only on the mTLS swarm port (DECNET_SWARM_PORT), never here.
 */
function swarmRoutes(): DocumentedRoute[] {
  const HostParams = z.object({ uuid: HostUuidSchema.meta({ description: 'The host uuid' }) });
  const hostLinks = (uuid: string) => ({
    PatchHost: { operationId: 'patchSwarmHostsUuid', parameters: { uuid } },
    DecommissionHost: { operationId: 'deleteSwarmHostsUuid', parameters: { uuid } },
  });
  const noSuchHost = { 404: 'No such swarm host' } as const;
  return [
    {
      method: 'post',
      path: '/api/v1/swarm/enroll-bundle',
      summary: 'Enroll an agent host',
      description:
        "Issues the agent's certificate, creates the host `enrolled` (it turns `active`, and receives deckies, at its agent's first heartbeat) and a one-shot token valid for 5 minutes. Run `command` as root on the agent host: it fetches the install script, which downloads the bundle once. Both downloads (`GET /api/v1/swarm/enroll-bundle/{token}.sh` and `.tgz`, the token their credential; HEAD and other methods 405) are served over HTTPS on the enrollment port (`DECNET_ENROLL_PORT`, not this API port) with the master's certificate, and `command` pins its public key (`curl --pinnedpubkey sha256//…`). Only with `DECNET_ENROLL_PLAIN_HTTP=1` are they also served here over plain HTTP, and `command` uses that. The script checks the host's requirements, installs the agent artefact (checked against the sha256 it carries), starts it and waits for its first acknowledged heartbeat. With `reinstall: true`, a new command for a host already enrolled under that name (same uuid): run on the host, it upgrades the agent in place.",
      tag: 'swarm',
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
    {
      method: 'get',
      path: '/api/v1/swarm/hosts',
      summary: 'Swarm hosts',
      description: 'Every host with its status and last heartbeat, decommissioned ones included.',
      tag: 'swarm',
      access: 'admin',
      status: 200,
      success: { description: 'The hosts, oldest enrollment first', content: json(SwarmHostsResponseSchema), links: hostLinks('$response.body#/hosts/0/uuid') },
    },
    {
      method: 'patch',
      path: '/api/v1/swarm/hosts/{uuid}',
      summary: 'Change a swarm host',
      description:
        "`use_ipvlan` (the host then gets ipvlan for its deckies) and `notes`. A driver change never cuts running deckies off the LAN: it is refused when the host's agent reports a kernel without that driver (`network_drivers`), unless `force`; with running or degraded deckies on the host it moves them (202): one `move` lifecycle row each (trigger `driver_change`), base containers and IPs kept. `use_ipvlan` changes once a move has succeeded, so it always names the driver the host's deckies are on; a driver the engine refuses fails every row with `IpvlanUnsupported` and the deckies stay on the old driver's network, running, their `last_error` saying why.",
      tag: 'swarm',
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
    {
      method: 'delete',
      path: '/api/v1/swarm/hosts/{uuid}',
      summary: 'Decommission a swarm host',
      description: `First the host's agent, if it answers within ${DECOMMISSION_AGENT_TIMEOUT_MS / 1000} s, removes its deckies and LAN network and stops taking jobs (\`agent_cleanup\` says what it did, or that it did not answer); no deploy places a decky meanwhile. Then the host's certificate is refused on the swarm port; its deckies keep their host (those the agent removed show \`degraded\`) and are re-homed by the next deploy. Asking twice answers the same without calling the agent again.`,
      tag: 'swarm',
      access: 'admin',
      request: { params: HostParams },
      status: 200,
      success: { description: 'The host, decommissioned', content: json(SwarmHostDecommissionResponseSchema) },
      errors: [404],
      errorDescriptions: noSuchHost,
    },
    {
      method: 'post',
      path: '/api/v1/swarm/hosts/{uuid}/teardown',
      summary: 'Tear down every decky of a swarm host',
      description:
        'One teardown lifecycle row per decky of the host, committed together; a decky already being torn down answers with its row. 409 when another operation is in flight on any of them.',
      tag: 'swarm',
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
  ];
}

/** The operators' API tokens (admin): listed without their secrets, revoked. */
function tokenRoutes(): DocumentedRoute[] {
  const TokenParams = z.object({ id: TokenIdSchema.meta({ description: 'The token id (from GET /tokens)' }) });
  return [
    {
      method: 'get',
      path: '/api/v1/tokens',
      summary: 'API tokens',
      description:
        'Every token, revoked ones included, oldest first: id, name, role, source, created, last used, revoked. Never the secret: only its hash is stored.',
      tag: 'tokens',
      access: 'admin',
      status: 200,
      success: { description: 'The tokens', content: json(ApiTokensResponseSchema) },
    },
    {
      method: 'delete',
      path: '/api/v1/tokens/{id}',
      summary: 'Revoke an API token',
      description:
        'The token is refused (401) from the next request on and stays listed with `revoked_at`. Revoking it again answers the same. The last valid admin token cannot be revoked.',
      tag: 'tokens',
      access: 'admin',
      request: { params: TokenParams },
      status: 200,
      success: { description: 'The token, revoked', content: json(ApiTokenViewSchema) },
      errors: [404, 409],
      errorDescriptions: { 404: 'No such token', 409: 'It is the last valid admin token (`last_admin_token`)' },
    },
  ];
}

const documentRoutes = new RouteTable('operations');

documentRoutes.get(
  '/openapi.json',
  {
    summary: 'This document',
    access: 'public',
    status: 200,
    success: { description: 'OpenAPI 3.1', content: json(z.record(z.string(), z.unknown())) },
  },
  (_req, res) => {
    res.json(openApiDocument());
  },
);

/** Every route of the API, in the order of SPEC §5. */
const ROUTES: DocumentedRoute[] = [
  ...deckiesRoutes.documented,
  ...systemRoutes.documented,
  ...eventsRoutes.documented,
  ...catalogRoutes.documented,
  ...healthRoutes.documented,
  ...metricsRoutes.documented,
  ...documentRoutes.documented,
  ...swarmRoutes(),
  ...tokenRoutes(),
];

function errorStatuses(route: DocumentedRoute): ErrorStatus[] {
  const implied: ErrorStatus[] = route.access === 'public' ? [] : route.access === 'admin' ? [401, 403, 503] : [401, 503];
  return [...new Set([...(route.errors ?? []), ...implied])].sort((a, b) => a - b);
}

function buildRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER, {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (`decnet token create`); `admin` may change things, `viewer` may read.',
  });
  for (const route of ROUTES) {
    const responses: RouteConfig['responses'] = { [route.status]: route.success };
    if (route.alternative) responses[route.alternative.status] = route.alternative.success;
    for (const status of errorStatuses(route)) {
      responses[status] = {
        description: route.errorDescriptions?.[status] ?? ERROR_DESCRIPTIONS[status],
        content: json(ErrorBodySchema),
        ...(status === 503 ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } } } : {}),
      };
    }
    const roleNote = route.access === 'public' ? 'No authentication.' : `Role: \`${route.access}\`.`;
    registry.registerPath({
      method: route.method,
      path: route.path,
      summary: route.summary,
      description: route.description ? `${route.description}\n\n${roleNote}` : roleNote,
      tags: [route.tag],
      operationId: operationId(route),
      security: route.access === 'public' ? [] : [{ [BEARER]: [] }],
      request: route.request,
      responses,
    });
  }
  return registry;
}

/** getDeckiesName, postDeckiesDeploy, …; the probes that also answer under /api/v1 get a V1 suffix there. */
function operationId(route: DocumentedRoute): string {
  const versioned = route.path.startsWith('/api/v1/');
  const words = route.path
    .replace(/^\/api\/v1/, '')
    .split(/[/{}.-]+/)
    .filter(Boolean);
  const id = [route.method, ...words].map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');
  const alias = versioned && ROUTES.some((r) => r.method === route.method && r.path === route.path.replace(/^\/api\/v1/, ''));
  return alias ? `${id}V1` : id;
}

let document: ReturnType<OpenApiGeneratorV31['generateDocument']> | undefined;

/** The document, generated once per process. */
export function openApiDocument() {
  document ??= new OpenApiGeneratorV31(buildRegistry().definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'decnet-deployer API',
      version: API_VERSION,
      description: 'The control plane of a honeypot fleet: deploy, mutate and tear down deckies (SPEC §5).',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'deckies', description: 'Deploy, watch, mutate and tear down deckies' },
      { name: 'system', description: 'Deployment mode, the LAN and the event stream' },
      { name: 'operations', description: 'Probes, metrics and this document; no authentication' },
      { name: 'swarm', description: 'Enrolling agent hosts and managing them (the agents themselves use the mTLS swarm port)' },
      { name: 'tokens', description: "The operators' API tokens (`decnet token list|revoke`)" },
    ],
  });
  return document;
}

const templates = ROUTES.map((r) => ({
  path: r.path,
  regex: new RegExp(`^${r.path.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
}));

/**
 * The route pattern of a request path, for metric labels and logs: the documented template
 * (`/api/v1/deckies/{name}`), `/docs` for the API page, else `unmatched` (cardinality stays bounded).
 */
export function routePattern(requestPath: string): string {
  if (requestPath === '/docs' || requestPath.startsWith('/docs/')) return '/docs';
  // Static routes first: /api/v1/deckies/lifecycle is not /api/v1/deckies/{name}.
  const exact = templates.find((t) => !t.path.includes('{') && t.regex.test(requestPath));
  return exact?.path ?? templates.find((t) => t.regex.test(requestPath))?.path ?? 'unmatched';
}

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>decnet-deployer API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>
`;

// persistAuthorization: false: a pasted token lives only in the page, never in localStorage; the
// copy an earlier version of this page kept there ('authorized') is removed.
const INITIALIZER = `window.onload = function () {
  try { window.localStorage.removeItem('authorized'); } catch (e) { /* storage disabled: nothing kept either */ }
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: false });
};
`;

/** GET /openapi.json and the browsable page at /docs, from swagger-ui-dist's files: works offline. */
export function openApiRouter(): Router {
  const router = express.Router();
  documentRoutes.register(router);
  router.get(['/docs', '/docs/', '/docs/index.html'], (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/docs/swagger-initializer.js', (_req, res) => {
    res.type('application/javascript').send(INITIALIZER);
  });
  router.use('/docs', express.static(path.resolve(getAbsoluteFSPath()), { index: false, fallthrough: true, maxAge: '1h' }));
  return router;
}
