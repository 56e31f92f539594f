/**
 * The drift watcher's Docker event stream reset under it (a dockerd restart: ECONNRESET,
 * "aborted"): the process lives on and the watcher opens a new stream. Pure wiring, so the engine
 * and the database are stand-ins; the comparison they make fail is logged and retried.
 */
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { startDriftWatcher, type DriftWatcherOptions } from '../../src/compose/drift-watcher';
import { waitFor } from '../support/http';

test('a reset event stream is survived and reopened', async () => {
  const streams: PassThrough[] = [];
  const docker = {
    getEvents: async () => {
      const stream = new PassThrough();
      streams.push(stream);
      return stream;
    },
  };
  const unavailable = () => {
    throw new Error('no database in this test');
  };
  const watcher = startDriftWatcher({
    docker,
    runtime: { networkName: 'lan', observe: unavailable },
    project: 'tdrift',
    operations: { logger: pino({ level: 'silent' }), orm: { em: { fork: unavailable } } },
    intervalMs: 60_000,
    healPolicy: {},
  } as unknown as DriftWatcherOptions);
  try {
    await waitFor('the event stream', async () => streams[0], 5_000);
    streams[0].destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    await waitFor('a second event stream', async () => streams[1], 10_000);
  } finally {
    await watcher.stop();
  }
});
