/** Signals the master sends to decky workflows; imported by the swarm port's heartbeat too. */
import { defineSignal } from '@temporalio/workflow';
import type { AgentJobResult } from '../domain/swarm-schemas';

/** An agent reported the job of this workflow's lifecycle row (job id = lifecycle id). */
export const agentResultSignal = defineSignal<[AgentJobResult]>('agentResult');
