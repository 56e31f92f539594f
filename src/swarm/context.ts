import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { SwarmPki } from './pki';

/** What enrollment, the hosts routes, the heartbeat and the sweep need. */
export interface SwarmContext {
  orm: MikroORM;
  pki: SwarmPki;
  /** Agent results are signalled to their workflows through it; absent, the workflows' polling finds them. */
  client?: Client;
  /** The operators' API port: it serves the downloads over plain HTTP only with `plainHttpEnrollment`. */
  apiPort: number;
  /** The enrollment HTTPS port: agent hosts download their script and bundle there, pinning the master's key. */
  enrollPort: number;
  /** DECNET_ENROLL_PLAIN_HTTP: printed commands and scripts download over plain HTTP from the API port. */
  plainHttpEnrollment: boolean;
  /** The swarm port agents heartbeat to (decnet.ini `master-port`). */
  swarmPort: number;
  heartbeatIntervalMs: number;
  /** The agent artefact agent hosts download (src/swarm/agent-artefact.ts). */
  agentArtefactPath: string;
  logger: Logger;
  /** The clock (tests may move it). */
  now?: () => Date;
}

export const nowOf = (ctx: Pick<SwarmContext, 'now'>) => (ctx.now ? ctx.now() : new Date());
