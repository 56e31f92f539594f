/**
 * Watches the master's Docker engine for drift: the engine's event stream triggers a comparison
 * within moments of a container dying or leaving the LAN, and a periodic full comparison is the
 * safety net for events missed while the stream was down. Each comparison ends with an auto-heal
 * pass over the fleet's degraded deckies (the master's and, from their agents' status, swarm ones).
 */
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { LABELS } from '../domain/compose-render';
import type { HealPolicy } from '../domain/heal';
import { applyLocalDrift } from '../operations/drift';
import { autoHeal } from '../operations/heal';
import type { OperationsContext } from '../operations/context';
import type { ComposeRuntime } from './runtime';

export interface DriftWatcherOptions {
  docker: Docker;
  runtime: ComposeRuntime;
  project: string;
  operations: OperationsContext;
  /** The full comparison's period. */
  intervalMs: number;
  healPolicy: HealPolicy;
}

/** Events come in bursts (a compose run is dozens): one comparison per burst. */
const DEBOUNCE_MS = 200;
const RECONNECT_MAX_MS = 30_000;

export function startDriftWatcher(opts: DriftWatcherOptions): { stop(): Promise<void> } {
  const logger = opts.operations.logger.child({ component: 'drift' });
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let debounce: NodeJS.Timeout | undefined;
  let stream: Readable | undefined;
  let reconnectDelay = 1000;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const compare = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          const changes = await applyLocalDrift(opts.operations.orm.em.fork(), () => opts.runtime.observe());
          for (const change of changes) {
            logger[change.state === 'degraded' ? 'warn' : 'info']({ decky: change.name, reason: change.reason }, `decky ${change.state}`);
          }
          await autoHeal(opts.operations, opts.healPolicy);
        } catch (err) {
          logger.warn({ err }, 'drift comparison failed; the next event or period retries it');
        }
      } while (again && !stopped);
    })().finally(() => (running = undefined));
    return running;
  };

  const onEvent = (line: string) => {
    let event: { Type?: string; Actor?: { Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    const attributes = event.Actor?.Attributes ?? {};
    const ours = event.Type === 'container' ? attributes[LABELS.project] === opts.project : attributes.name === opts.runtime.networkName;
    if (!ours || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      void compare();
    }, DEBOUNCE_MS);
  };

  const connect = async () => {
    if (stopped) return;
    try {
      stream = (await opts.docker.getEvents({ filters: { type: ['container', 'network'] } })) as unknown as Readable;
      reconnectDelay = 1000;
      // A dockerd restart resets the stream: readline re-emits the input's error, and an unheard
      // 'error' would end the process. 'close' follows and reconnects.
      const failed = (err: Error) => logger.warn({ err }, 'Docker event stream failed');
      readline.createInterface({ input: stream }).on('line', onEvent).on('error', failed);
      stream.once('close', reconnect);
      stream.on('error', failed);
      // What happened while no stream was open is found by comparing now.
      void compare();
    } catch (err) {
      logger.warn({ err }, 'Docker event stream not opened');
      reconnect();
    }
  };
  const reconnect = () => {
    stream = undefined;
    if (stopped || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void connect();
    }, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
  };

  void connect();
  const period = setInterval(() => void compare(), opts.intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(period);
      clearTimeout(debounce);
      clearTimeout(reconnectTimer);
      stream?.destroy();
      await running;
    },
  };
}
