import { Bus, type BusEvent } from '../../src/bus/bus';

describe('bus', () => {
  test("a published event reaches this process's subscribers once, by topic prefix, and goes to the relay", () => {
    const bus = new Bus();
    const all: BusEvent[] = [];
    const web: BusEvent[] = [];
    const relayed: BusEvent[] = [];
    bus.subscribe('', (e) => all.push(e));
    bus.subscribe('decky.web.', (e) => web.push(e));
    const stopRelay = bus.relayOutbound((e) => void relayed.push(e));
    const event = bus.publish('decky.web.lifecycle', { status: 'running' });
    bus.publish('decky.db.lifecycle', { status: 'running' });
    expect(all).toHaveLength(2);
    expect(web).toEqual([event]);
    expect(relayed.map((e) => e.topic)).toEqual(['decky.web.lifecycle', 'decky.db.lifecycle']);
    stopRelay();
    bus.publish('decky.web.state', { state: 'running' });
    expect(relayed).toHaveLength(2);
    expect(web).toHaveLength(2);
  });

  test('an event delivered from another process reaches the subscribers and is not relayed back', () => {
    const bus = new Bus();
    const seen: BusEvent[] = [];
    const relayed: BusEvent[] = [];
    bus.subscribe('decky.', (e) => seen.push(e));
    bus.relayOutbound((e) => void relayed.push(e));
    const remote = { topic: 'decky.web.lifecycle', data: { status: 'succeeded' }, at: new Date().toISOString() };
    bus.deliver(remote);
    expect(seen).toEqual([remote]);
    expect(relayed).toEqual([]);
  });

  test('an unsubscribed listener hears nothing more', () => {
    const bus = new Bus();
    const seen: BusEvent[] = [];
    const unsubscribe = bus.subscribe('', (e) => seen.push(e));
    unsubscribe();
    bus.publish('decky.web.lifecycle', {});
    expect(seen).toEqual([]);
  });
});
