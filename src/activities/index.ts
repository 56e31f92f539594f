import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Bus } from '../bus/bus';
import type { ComposeRuntime } from '../compose/runtime';
import type { Catalogue } from '../domain/catalog';
import { createComposeActivities } from './compose';
import { createDbActivities } from './db';
import { createTemporalActivities } from './temporal';
import { createAgentActivities, type AgentActivityDeps } from './agent';

export interface ActivityDeps {
  orm: MikroORM;
  bus: Bus;
  runtime: ComposeRuntime;
  client: Client;
  catalogue: Catalogue;
  /** The master's task queue, which the mutation Schedules start their workflows on. */
  taskQueue: string;
  /** Swarm dispatch: the master's certificate for agents, and how long to wait on them. */
  swarm: Omit<AgentActivityDeps, 'orm'>;
}

/** Every activity the master's worker registers, grouped by what it touches. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDbActivities(deps.orm, deps.bus, deps.catalogue),
    ...createComposeActivities(deps.runtime),
    ...createTemporalActivities(deps.client, deps.orm, deps.taskQueue),
    ...createAgentActivities({ orm: deps.orm, ...deps.swarm }),
  };
}
