/**
 * The event bus: workflows' activities and the drift watcher publish after each row write, the SSE
 * bridge forwards to operators. All truth stays in PostgreSQL and Temporal; the bus only tells.
 * In-process by itself; startPgRelay (./pg-relay) carries it between the processes of one fleet.
 */
import { EventEmitter } from 'node:events';

export interface BusEvent {
  topic: string;
  data: Record<string, unknown>;
  at: string;
}

export class Bus {
  private readonly emitter = new EventEmitter();
  private readonly outbound = new Set<(event: BusEvent) => boolean>();

  constructor() {
    // Every open SSE stream is a listener.
    this.emitter.setMaxListeners(0);
  }

  /**
   * An event of this process: to the other processes (when relayed), and to its own subscribers
   * unless the relay brings it to them itself (lifecycle events come back from PostgreSQL, in
   * commit order).
   */
  publish(topic: string, data: Record<string, unknown>): BusEvent {
    const event: BusEvent = { topic, data, at: new Date().toISOString() };
    let fresh = true;
    for (const send of this.outbound) if (!send(event)) fresh = false;
    if (fresh) this.deliver(event);
    return event;
  }

  /** An event another process published (or one re-read after a disconnect): to this process's subscribers only. */
  deliver(event: BusEvent): void {
    this.emitter.emit('event', event);
  }

  /**
   * Every event this process publishes also goes to `send`, which returns false when it delivers
   * the event to this process's subscribers itself; returns the function that stops it.
   */
  relayOutbound(send: (event: BusEvent) => boolean): () => void {
    this.outbound.add(send);
    return () => this.outbound.delete(send);
  }

  /** Subscribe to every topic that starts with `prefix` ('' for all); returns the unsubscribe function. */
  subscribe(prefix: string, listener: (event: BusEvent) => void): () => void {
    const filtered = (event: BusEvent) => {
      if (event.topic.startsWith(prefix)) listener(event);
    };
    this.emitter.on('event', filtered);
    return () => this.emitter.off('event', filtered);
  }
}
