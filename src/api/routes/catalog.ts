/**
 * GET /catalog: what the web UI (and any client) needs to offer choices without a copy of the
 * data: the per-decky services with their ports and the archetypes, straight from catalog/*.yaml,
 * plus where the Temporal Web UI is, for links to each decky's workflow.
 */
import { z } from 'zod';
import { NmapOsSchema } from '../../domain/schemas';
import type { ApiDeps } from '../deps';
import { json, RouteTable } from '../route';

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
