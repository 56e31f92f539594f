/** GET /events: the bus as Server-Sent Events, filtered by topic prefix (?topic=decky.web.). */
import { Router } from 'express';
import { z } from 'zod';
import { requireRole } from '../auth';
import type { ApiDeps } from '../app';

export const EventsQuerySchema = z.object({ topic: z.string().max(300).default('') });
const KEEPALIVE_MS = 15_000;

export function eventsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', requireRole('viewer'), (req, res) => {
    const { topic } = EventsQuerySchema.parse(req.query);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write(': connected\n\n');
    const unsubscribe = deps.bus.subscribe(topic, (event) => {
      res.write(`event: ${event.topic}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    req.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
  });
  return router;
}
