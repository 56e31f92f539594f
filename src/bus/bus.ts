/**
 * The in-process event bus: workflows' activities publish after each row write, the SSE bridge
 * forwards to operators. All truth stays in PostgreSQL and Temporal; the bus only tells.
 */
import { EventEmitter } from 'node:events';

export interface BusEvent {
  topic: string;
  data: Record<string, unknown>;
  at: string;
}

export class Bus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every open SSE stream is a listener.
    this.emitter.setMaxListeners(0);
  }

  publish(topic: string, data: Record<string, unknown>): BusEvent {
    const event: BusEvent = { topic, data, at: new Date().toISOString() };
    this.emitter.emit('event', event);
    return event;
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
