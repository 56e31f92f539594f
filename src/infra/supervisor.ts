/**
 * Keeps a child server of `decnet up` (embedded PostgreSQL, the Temporal dev server) running: when
 * it exits unexpectedly it is started again, with back-off, until it runs or a bound has passed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/** A started server: its pid, a promise that settles when it exits, and a clean stop. */
export interface SupervisedServer {
  pid: number;
  exited: Promise<void>;
  stop(): Promise<void>;
}

export interface SuperviseOptions<S extends SupervisedServer> {
  /** Names the part in logs, the metric label and the give-up reason. */
  component: string;
  /** Starts the server again with the same data and port; rejects when it cannot. */
  restart(): Promise<S>;
  /** How long a part may stay down, restarts included, before the supervisor gives up. */
  giveUpAfterMs: number;
  logger: Logger;
  /** Each successful restart, with the new server (the caller records its pid and counts it). */
  onRestarted(server: S): void | Promise<void>;
}

export interface Supervision {
  /** Settles with the reason once a restart did not succeed within the bound; never settles otherwise. */
  readonly gaveUp: Promise<Error>;
  /** Stops supervising, then the server. */
  stop(): Promise<void>;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;

export function supervise<S extends SupervisedServer>(first: S, options: SuperviseOptions<S>): Supervision {
  const { component, logger } = options;
  let current: S = first;
  const stopping = new AbortController();
  let giveUp!: (reason: Error) => void;
  const gaveUp = new Promise<Error>((resolve) => (giveUp = resolve));

  const restartUntilUp = async (downSince: number): Promise<S | undefined> => {
    let delay = FIRST_DELAY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await options.restart();
      } catch (err) {
        if (stopping.signal.aborted) return undefined;
        const reason = err instanceof Error ? err.message : String(err);
        const remaining = options.giveUpAfterMs - (Date.now() - downSince);
        if (remaining <= 0) {
          giveUp(new Error(`${component} exited and could not be restarted within ${options.giveUpAfterMs / 1000}s (${attempt} attempts): ${reason}`));
          return undefined;
        }
        // The last attempt falls on the bound itself.
        const wait = Math.min(delay, remaining);
        logger.warn({ component, attempt, retryInMs: wait, reason }, 'restart failed; retrying');
        await sleep(wait, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
      if (stopping.signal.aborted) return undefined;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  };

  const watch = async (): Promise<void> => {
    for (;;) {
      await current.exited;
      if (stopping.signal.aborted) return;
      logger.error({ component, pid: current.pid }, 'exited unexpectedly; restarting it');
      // Releases what the dead server held in this process (exit hooks, log stream).
      await current.stop();
      const next = await restartUntilUp(Date.now());
      if (!next) return;
      // Stopped while it was starting: it must not outlive `decnet up`.
      if (stopping.signal.aborted) return next.stop();
      current = next;
      logger.warn({ component, pid: next.pid }, 'restarted');
      await options.onRestarted(next);
    }
  };
  const watching = watch().catch((err: unknown) => giveUp(err instanceof Error ? err : new Error(String(err))));

  return {
    gaveUp,
    async stop() {
      stopping.abort();
      await current.stop();
      await watching;
    },
  };
}
