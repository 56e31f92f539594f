/**
 * GET /catalog: what the web UI (and any client) needs to offer choices without a copy of the
 * data: the per-decky services with their ports and the archetypes, straight from catalog/*.yaml,
 * plus where the Temporal Web UI is, for links to each decky's workflow.
 */
import { CatalogResponseSchema, type CatalogResponse } from '../../domain/schemas';
import type { ApiDeps } from '../deps';
import { json, RouteTable } from '../route';

export const catalogRoutes = new RouteTable<ApiDeps>('system');

catalogRoutes.get(
  '/api/v1/catalog',
  {
    summary: 'Services, archetypes and the Temporal Web UI',
    description: 'The catalogue (catalog/*.yaml) for clients that offer choices, such as the web UI, and where to link workflows.',
    access: 'viewer',
    status: 200,
    success: { description: 'The catalogue', content: json(CatalogResponseSchema) },
  },
  (_req, res, deps) => {
    const { catalogue } = deps.operations;
    const body: CatalogResponse = {
      services: [...catalogue.services.values()].filter((s) => !s.singleton).map((s) => ({ name: s.name, ports: s.ports })),
      archetypes: [...catalogue.archetypes.values()].map((a) => ({ name: a.name, services: a.services, nmap_os: a.nmap_os })),
      temporal_ui: deps.temporalUi ?? null,
    };
    res.json(body);
  },
);
