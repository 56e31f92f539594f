/**
 * The event bus: the SSE bridge forwards its events to operators. All truth stays in PostgreSQL and
 * Temporal; the bus only tells. Lifecycle statuses and drift's verdicts are announced by
 * PostgreSQL at the commit of their rows and delivered by startPgRelay (./pg-relay), which also
 * carries what a process publishes (mutation events) to the other processes of its fleet.
 */
import { EventEmitter } from 'node:events';

export interface BusEvent {
  topic: string;
  data: Record<string, unknown>;
  at: string;
}

export class Bus {
  private readonly emitter = new EventEmitter();
  private readonly outbound = new Set<(event: BusEvent) => void>();

  constructor() {
    // Every open SSE stream is a listener.
    this.emitter.setMaxListeners(0);
  }

  /** An event of this process: to its own subscribers, and to the other processes (when relayed). */
  publish(topic: string, data: Record<string, unknown>): BusEvent {
    const event: BusEvent = { topic, data, at: new Date().toISOString() };
    for (const send of this.outbound) send(event);
    this.deliver(event);
    return event;
  }

  /** An event another process published (or one re-read after a disconnect): to this process's subscribers only. */
  deliver(event: BusEvent): void {
    this.emitter.emit('event', event);
  }

  /** Every event this process publishes also goes to `send`; returns the function that stops it. */
  relayOutbound(send: (event: BusEvent) => void): () => void {
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
