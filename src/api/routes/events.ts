/**
 * GET /events: the bus as Server-Sent Events, filtered by topic prefix (?topic=decky.web.).
 * Bounded: a few streams per API token at once, and a client that stops reading is dropped
 * rather than buffered for without end.
 */
import { z } from 'zod';
import type { Bus } from '../../bus/bus';
import { HttpError } from '../../http/errors';
import type { ApiDeps, EventStreamLimits } from '../deps';
import { RouteTable } from '../route';

export const EventsQuerySchema = z.object({ topic: z.string().max(300).default('') });
const KEEPALIVE_MS = 15_000;

export const DEFAULT_EVENT_STREAM_LIMITS: EventStreamLimits = { maxStreamsPerToken: 8, maxBufferedBytes: 1024 * 1024 };

/** How long a stream's backlog may stay over maxBufferedBytes before the client is dropped: a burst is fine, a stall is not. */
export const SLOW_CLIENT_GRACE_MS = 5_000;

/** What GET /events keeps for one app: its bounds, and the streams open by token id. */
interface EventStreams {
  bus: Bus;
  limits: EventStreamLimits;
  open: Map<string, number>;
}

export function eventStreams(deps: Pick<ApiDeps, 'bus' | 'eventStreams'>): EventStreams {
  return {
    bus: deps.bus,
    limits: {
      maxStreamsPerToken: deps.eventStreams?.maxStreamsPerToken ?? DEFAULT_EVENT_STREAM_LIMITS.maxStreamsPerToken,
      maxBufferedBytes: deps.eventStreams?.maxBufferedBytes ?? DEFAULT_EVENT_STREAM_LIMITS.maxBufferedBytes,
    },
    open: new Map(),
  };
}

export const eventsRoutes = new RouteTable<EventStreams>('system');

eventsRoutes.get(
  '/api/v1/events',
  {
    summary: 'Server-Sent Events of the bus',
    description: `Lifecycle and mutation events as \`event: <topic>\` / \`data: <json>\`, filtered by topic prefix (\`?topic=decky.web.\`). At most ${DEFAULT_EVENT_STREAM_LIMITS.maxStreamsPerToken} streams per API token at once by default (\`DECNET_SSE_MAX_STREAMS_PER_TOKEN\`); a client whose unsent backlog stays over ${DEFAULT_EVENT_STREAM_LIMITS.maxBufferedBytes / 1024 / 1024} MiB (\`DECNET_SSE_MAX_BUFFERED_BYTES\`) for ${SLOW_CLIENT_GRACE_MS / 1000} s is disconnected.`,
    access: 'viewer',
    request: { query: EventsQuerySchema },
    status: 200,
    success: { description: 'An endless event stream', content: { 'text/event-stream': { schema: z.string() } } },
    errors: [400, 429],
    errorDescriptions: { 429: 'This token has as many event streams open as it may (`too_many_streams`)' },
  },
  (req, res, { bus, limits, open }) => {
    const { topic } = EventsQuerySchema.parse(req.query);
    const tokenId = req.tokenId!;
    const count = open.get(tokenId) ?? 0;
    if (count >= limits.maxStreamsPerToken) {
      throw new HttpError(
        429,
        'too_many_streams',
        `this API token has ${count} event streams open, the most it may (DECNET_SSE_MAX_STREAMS_PER_TOKEN); close one first`,
        {
          max_streams_per_token: limits.maxStreamsPerToken,
        },
      );
    }
    open.set(tokenId, count + 1);

    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    const behind = () => res.writableLength > limits.maxBufferedBytes;
    let slowCheck: NodeJS.Timeout | undefined;
    const send = (chunk: string) => {
      res.write(chunk);
      if (!behind() || slowCheck) return;
      // A burst is fine; a client still behind after the grace has stopped reading, and goes.
      slowCheck = setTimeout(() => {
        slowCheck = undefined;
        if (!behind()) return;
        req.log?.warn({ token_id: tokenId, buffered_bytes: res.writableLength, topic }, 'event stream client too slow: disconnected');
        res.destroy();
      }, SLOW_CLIENT_GRACE_MS);
    };
    send(': connected\n\n');
    const unsubscribe = bus.subscribe(topic, (event) => send(`event: ${event.topic}\ndata: ${JSON.stringify(event)}\n\n`));
    const keepalive = setInterval(() => send(': keepalive\n\n'), KEEPALIVE_MS);
    res.on('close', () => {
      clearInterval(keepalive);
      clearTimeout(slowCheck);
      unsubscribe();
      const left = (open.get(tokenId) ?? 1) - 1;
      if (left > 0) open.set(tokenId, left);
      else open.delete(tokenId);
    });
  },
);
