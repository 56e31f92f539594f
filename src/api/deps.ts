/** What the operators' API is built from: createApp's argument, of which each router takes what it uses. */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus';
import type { OperationsContext } from '../operations/context';
import type { SwarmContext } from '../swarm/context';

export interface EventStreamLimits {
  /** Open streams per API token (DECNET_SSE_MAX_STREAMS_PER_TOKEN); one more is 429. */
  maxStreamsPerToken: number;
  /** Unsent bytes a stream may hold for longer than SLOW_CLIENT_GRACE_MS (DECNET_SSE_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
}

export interface ApiDeps {
  operations: OperationsContext;
  bus: Bus;
  logger: Logger;
  role: 'master' | 'agent';
  /** Throws UnavailableError when the Temporal frontend does not answer. */
  ensureTemporalReachable(): Promise<void>;
  /** Where the Temporal Web UI is, for the web UI's links to workflows (GET /catalog). */
  temporalUi?: { url: string; namespace: string };
  /** GET /events bounds; each one unset takes its default (DEFAULT_EVENT_STREAM_LIMITS). */
  eventStreams?: Partial<EventStreamLimits>;
  /** Enrollment and swarm hosts (/swarm); without it those routes are not served. */
  swarm?: SwarmContext;
  /** More Prometheus text for GET /metrics: the Temporal SDK runtime's, when this process runs a worker. */
  moreMetrics?: () => Promise<string>;
}
