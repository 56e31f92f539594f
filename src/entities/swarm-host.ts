import { EntitySchema } from '@mikro-orm/core';
import type { NetworkDriver } from '../domain/schemas';
import { DEFAULT_AGENT_PORT, type SwarmHostStatus } from '../domain/swarm-schemas';

/**
 * A host running (or about to run) an agent (architecture.md §3, §8). `address` is where the master reaches
 * the agent: recorded when the enrollment bundle is fetched. A decommissioned host keeps its row
 * (its deckies keep its uuid until re-homed); its name may be enrolled again.
 */
export class SwarmHost {
  uuid!: string;
  name!: string;
  address: string | null = null;
  agentPort = DEFAULT_AGENT_PORT;
  status: SwarmHostStatus = 'enrolled';
  lastHeartbeat: Date | null = null;
  /** SHA-256 of the DER of the client certificate issued to the agent, lower-case hex. */
  clientCertFingerprint!: string;
  useIpvlan = false;
  /** The LAN drivers the host's kernel supports, from its agent's heartbeat; null until reported. */
  networkDrivers: NetworkDriver[] | null = null;
  enrolledAt: Date = new Date();
  notes: string | null = null;
  /** What the agent's heartbeats say it runs (`decnet agent --version`). */
  agentVersion: string | null = null;
}

export const SwarmHostSchema = new EntitySchema<SwarmHost>({
  class: SwarmHost,
  tableName: 'swarm_host',
  properties: {
    uuid: { type: 'uuid', primary: true },
    // Unique among hosts that are not decommissioned: a partial unique index in the migration.
    name: { type: 'string' },
    address: { type: 'string', nullable: true },
    agentPort: { type: 'integer', default: DEFAULT_AGENT_PORT },
    status: { type: 'string' },
    lastHeartbeat: { type: 'Date', nullable: true },
    clientCertFingerprint: { type: 'string' },
    useIpvlan: { type: 'boolean', default: false },
    networkDrivers: { type: 'json', nullable: true },
    enrolledAt: { type: 'Date' },
    notes: { type: 'text', nullable: true },
    agentVersion: { type: 'string', nullable: true },
  },
});
