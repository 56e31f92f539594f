/**
 * The OpenAPI 3.1 document of the API, assembled from the routes' own declarations (src/api/route.ts:
 * each beside its handler, with the zod schemas that validate its requests): no hand-written copy.
 * Served at GET /openapi.json and browsable at GET /docs (swagger-ui-dist, no CDN).
 */
import path from 'node:path';
import express, { type Router } from 'express';
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ErrorBodySchema } from '../domain/schemas';
import { MAX_JSON_DEPTH } from './input-guards';
import { json, RouteTable, type DocumentedRoute, type ErrorStatus } from './route';
import { catalogRoutes } from './routes/catalog';
import { deckiesRoutes } from './routes/deckies';
import { eventsRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { swarmRoutes } from './routes/swarm';
import { systemRoutes } from './routes/system';
import { tokensRoutes } from './routes/tokens';

const API_VERSION = '0.1.0';
const BEARER = 'bearerAuth';

const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: `Invalid input: the zod issues (or the INI line) in \`error.details\`; a JSON body nested more than ${MAX_JSON_DEPTH} levels deep is refused before authentication (\`json_too_deep\`)`,
  401: 'No bearer token, or an unknown one',
  403: 'The token lacks the role this needs',
  404: 'No such decky',
  409: 'Conflict with the current state',
  413: 'Request body over 1 MB',
  429: 'Too many requests of this kind at once',
  503: 'PostgreSQL or Temporal is unreachable; retry after `Retry-After` seconds',
};

/** GET /openapi.json; the page at /docs is not an operation of the document. */
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

/** Every route of the API, router by router, in the document's order (the specification's, §5). */
const ROUTES: DocumentedRoute[] = [
  ...deckiesRoutes.documented,
  ...systemRoutes.documented,
  ...eventsRoutes.documented,
  ...catalogRoutes.documented,
  ...healthRoutes.documented,
  ...metricsRoutes.documented,
  ...documentRoutes.documented,
  ...swarmRoutes.documented,
  ...tokensRoutes.documented,
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
      description: 'The control plane of a honeypot fleet: deploy, mutate and tear down deckies.',
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

/**
 * swagger-ui-dist's files, found without loading its index, which would evaluate its 1.7 MB browser
 * bundle in this process (10 MB of heap and 40 MB of resident memory, kept for nothing).
 */
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

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
  router.use('/docs', express.static(SWAGGER_UI_DIR, { index: false, fallthrough: true, maxAge: '1h' }));
  return router;
}
