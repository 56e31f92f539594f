/** Activities that touch the local Docker engine, through the shared compose runtime. */
import type { DeckySpec } from '../domain/schemas';
import type { ComposeRuntime } from '../compose/runtime';
import type { LanNetworkSpec } from '../domain/schemas';
import { withHeartbeat } from './heartbeat';

export function createComposeActivities(runtime: ComposeRuntime) {
  return {
    async renderComposeFile(decky: DeckySpec): Promise<string> {
      return withHeartbeat(async () => `wrote ${await runtime.writeComposeFile(decky)}`);
    },

    async ensureLanNetwork(spec: LanNetworkSpec): Promise<string> {
      return withHeartbeat(() => runtime.ensureLanNetwork(spec));
    },

    /** A driver change: the LAN network (and every container on it) taken to `spec.driver`, the decky's base on it. */
    async moveLanNetwork(spec: LanNetworkSpec, decky: DeckySpec, changeId: string): Promise<string> {
      return withHeartbeat(() => runtime.moveLanNetwork(spec, decky, changeId));
    },

    async composeUp(decky: DeckySpec, driver: LanNetworkSpec['driver']): Promise<string> {
      return withHeartbeat(async (signal) => {
        await runtime.checkImages(decky);
        return runtime.up(decky, driver, signal);
      });
    },

    /** Retryable until the containers settle; the workflow's retry budget bounds how long. */
    async verifyDecky(decky: DeckySpec): Promise<string> {
      return withHeartbeat(() => runtime.verifyHealthy(decky));
    },

    /** Returns the services that ran before, for the mutation event. */
    async removeStaleServices(decky: DeckySpec): Promise<{ running: string[]; removed: string[] }> {
      return withHeartbeat(() => runtime.removeStaleServices(decky));
    },

    /** The last decky gone from this engine takes the LAN network with it. */
    async composeDown(deckyName: string): Promise<string> {
      return withHeartbeat(async () => `${await runtime.down(deckyName)}; ${await runtime.removeLanNetworkIfUnused()}`);
    },
  };
}

export type ComposeActivities = ReturnType<typeof createComposeActivities>;
