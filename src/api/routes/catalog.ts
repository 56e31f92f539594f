/**
 * GET /catalog: what the web UI (and any client) needs to offer choices without a copy of the
 * data: the per-decky services with their ports and the archetypes, straight from catalog/*.yaml,
 * plus where the Temporal Web UI is, for links to each decky's workflow.
 */
import { Router } from 'express';
import { z } from 'zod';
import { NmapOsSchema } from '../../domain/schemas';
import { requireRole } from '../auth';
import type { ApiDeps } from '../deps';

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

export function catalogRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', requireRole('viewer'), (_req, res) => {
    const { catalogue } = deps.operations;
    const body: CatalogResponse = {
      services: [...catalogue.services.values()].filter((s) => !s.singleton).map((s) => ({ name: s.name, ports: s.ports })),
      archetypes: [...catalogue.archetypes.values()].map((a) => ({ name: a.name, services: a.services, nmap_os: a.nmap_os })),
      temporal_ui: deps.temporalUi ?? null,
    };
    res.json(body);
  });
  return router;
}
