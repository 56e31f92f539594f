/**
 * Carries the bus between the processes of one fleet through PostgreSQL LISTEN/NOTIFY, so every
 * API process streams what every worker does.
 *
 * Lifecycle and state events are announced by PostgreSQL itself, not published by any process:
 * triggers notify each status a lifecycle row reaches (Migration20261206000000LifecycleNotify) and
 * each verdict of drift on a decky (Migration20261206010000DeckyStateNotify) at the commit of the
 * write, so a process killed right after its commit loses nothing, and every write streams,
 * whoever made it (a worker, a swarm heartbeat, the reconciler). They reach every stream, the
 * writer's included, in commit order. A lifecycle notice carries ids and the status, a failed
 * row's error (up to 2,000 characters) is read from the row; a state notice carries the reason
 * unless it is too long for one. Mutation events are published by the process whose activity
 * made them: it delivers them at once, sends them whole and skips its own notices of them.
 *
 * Each process delivers an event once (a decky's verdict again only after its state changed). A listener that lost its connection
 * reconnects (pg-listen) and re-reads the lifecycle and decky rows written since shortly before
 * the loss, so what was published meanwhile still reaches its subscribers; what it had delivered
 * is not delivered again.
 *
 * The notices changed with the trigger: the processes of a fleet run one version (docs/operations.md).
 */
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import createPostgresSubscriber from 'pg-listen';
import type { Logger } from 'pino';
import { deckyStateEventData, deckyTopic, deckyTopicKind, lifecycleEventData } from '../domain/topics';
import { withoutHealNote } from '../domain/heal';
import type { Bus, BusEvent } from './bus';

export const EVENTS_CHANNEL = 'decnet_events';

/** A process's event: who sent it, the topic, when, the data. */
interface EventNotice {
  origin: string;
  topic: string;
  at: string;
  data: Record<string, unknown>;
}

/** The lifecycle trigger's notice: the row, the status it reached, its decky, its `updated_at`. */
interface LifecycleNotice {
  lifecycle: { id: string; status: string; operation: string };
  decky: string;
  at: string;
}

/**
 * The decky state trigger's notice: the decky, its state, whether that changed (or only the reason
 * did), and its `last_error` as written unless longer than 1,000 characters (`reason_long`).
 */
interface DeckyStateNotice {
  decky_state: { name: string; state: string; changed: boolean; reason: string | null; reason_long: boolean };
  at: string;
}

type Notice = EventNotice | LifecycleNotice | DeckyStateNotice;

export interface PgRelayOptions {
  orm: MikroORM;
  logger: Logger;
  /** How often the listening connection is checked with a query (a dead one is replaced); default 10 s. */
  livenessCheckMs?: number;
}

export interface PgRelay {
  /** The listening connection's application_name (pg_stat_activity), unique per relay. */
  applicationName: string;
  stop(): Promise<void>;
}

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_999;
/** Row timestamps come from several hosts' clocks: the re-read reaches this much further back. */
const CLOCK_MARGIN_MS = 10_000;
/** Delivered lifecycle statuses remembered, so a re-read does not repeat them. */
const REMEMBERED_EVENTS = 50_000;
const RECONNECT_MAX_MS = 10_000;
const TERMINAL = new Set(['succeeded', 'failed']);

export async function startPgRelay(bus: Bus, opts: PgRelayOptions): Promise<PgRelay> {
  const logger = opts.logger.child({ component: 'event-relay' });
  const origin = randomUUID();
  const applicationName = `decnet-events-${origin.slice(0, 8)}`;
  const livenessCheckMs = opts.livenessCheckMs ?? 10_000;
  const connection = () => opts.orm.em.getConnection();

  // Lifecycle statuses (`id:status`) and decky states (with their reason, by `decky.<name>`) this
  // process has delivered. An operation's status forgets its decky's state: what drift says after
  // it (a redeploy that degrades again for the same reason, say) is news again.
  const delivered = new Set<string>();
  const deckyStates = new Map<string, string>();
  const deckyOf = (topic: string) => topic.slice(0, topic.lastIndexOf('.'));
  const stateKey = (data: Record<string, unknown>) => JSON.stringify([data.state, data.reason ?? null]);
  /** False when `event` was delivered already; a decky's verdict repeats only when its state changed in between. */
  const remember = (event: BusEvent, stateChanged = false): boolean => {
    const kind = deckyTopicKind(event.topic);
    if (kind === 'lifecycle') {
      const key = `${String(event.data.lifecycle_id)}:${String(event.data.status)}`;
      if (delivered.has(key)) return false;
      delivered.add(key);
      // A Set iterates in insertion order: the oldest goes first.
      if (delivered.size > REMEMBERED_EVENTS) delivered.delete(delivered.values().next().value!);
      deckyStates.delete(deckyOf(event.topic));
    } else if (kind === 'state') {
      // The same verdict again (auto-heal's note added to the reason, say) is not news.
      const key = stateKey(event.data);
      if (!stateChanged && deckyStates.get(deckyOf(event.topic)) === key) return false;
      deckyStates.set(deckyOf(event.topic), key);
    }
    return true;
  };

  // In order: NOTIFYs sent from pooled connections could otherwise overtake each other.
  let sending = Promise.resolve();
  const stopOutbound = bus.relayOutbound((event) => {
    const payload = JSON.stringify({ origin, topic: event.topic, at: event.at, data: event.data } satisfies EventNotice);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
      logger.warn({ topic: event.topic, bytes: Buffer.byteLength(payload) }, 'event too large for NOTIFY: only this process streams it');
      return;
    }
    sending = sending
      .then(() => connection().execute('select pg_notify(?, ?)', [EVENTS_CHANNEL, payload]))
      .then(
        () => undefined,
        (err: unknown) => logger.warn({ err, topic: event.topic }, 'event not sent to the other processes'),
      );
  });

  // In order too: a lifecycle notice waits for its row read, and the next one must not overtake it.
  let receiving = Promise.resolve();
  const receive = (notice: Notice) => {
    if ('origin' in notice && notice.origin === origin) return;
    // Already delivered (a re-read after a reconnect got there first): no row read.
    if ('lifecycle' in notice && delivered.has(`${notice.lifecycle.id}:${notice.lifecycle.status}`)) return;
    receiving = receiving
      .then(async () => {
        const event = await eventOf(notice);
        if (event && remember(event, 'decky_state' in notice && notice.decky_state.changed)) bus.deliver(event);
      })
      .catch((err: unknown) => logger.warn({ err, notice }, 'event not delivered'));
  };
  const eventOf = async (notice: Notice): Promise<BusEvent | undefined> => {
    if ('origin' in notice) return { topic: notice.topic, data: notice.data, at: notice.at };
    if ('decky_state' in notice) {
      const { name, state } = notice.decky_state;
      let lastError = notice.decky_state.reason;
      // Too long for a notice: read from the row (already newer, perhaps; the next notice tells).
      if (state === 'degraded' && notice.decky_state.reason_long) {
        const [row] = await connection().execute<{ last_error: string | null }[]>('select last_error from decky where name = ?', [name]);
        lastError = row?.last_error ?? null;
      }
      const reason = state === 'degraded' ? withoutHealNote(lastError) : null;
      return { topic: deckyTopic(name, 'state'), at: new Date(notice.at).toISOString(), data: deckyStateEventData({ name, state, reason }) };
    }
    const { id, status, operation } = notice.lifecycle;
    // Only a failed row has an error, up to 2,000 characters: too long for some notices, so it is read.
    let error: string | null = null;
    if (status === 'failed') {
      const [row] = await connection().execute<{ error: string | null }[]>('select error from decky_lifecycle where id = ?', [id]);
      error = row?.error ?? null;
    }
    return { topic: deckyTopic(notice.decky, 'lifecycle'), at: new Date(notice.at).toISOString(), data: lifecycleEventData({ id, status, operation, error }) };
  };

  /** Rows written since `since`: their lifecycle statuses and decky states not delivered yet. */
  const catchUp = async (since: Date) => {
    const rows = await connection().execute<{ id: string; decky_name: string; operation: string; status: string; error: string | null; updated_at: Date }[]>(
      `select id, decky_name, operation, status, error, updated_at from decky_lifecycle
        where updated_at >= ? and status in ('running', 'succeeded', 'failed') order by updated_at`,
      [since],
    );
    const deckies = await connection().execute<{ name: string; state: string; last_error: string | null; updated_at: Date }[]>(
      `select name, state, last_error, updated_at from decky where updated_at >= ? and state in ('running', 'degraded') order by updated_at`,
      [since],
    );
    let count = 0;
    for (const row of rows) {
      const event = {
        topic: deckyTopic(row.decky_name, 'lifecycle'),
        at: new Date(row.updated_at).toISOString(),
        data: lifecycleEventData({ ...row, error: TERMINAL.has(row.status) ? row.error : null }),
      };
      if (!remember(event)) continue;
      bus.deliver(event);
      count++;
    }
    for (const decky of deckies) {
      // Drift's judgement changed: a decky is `running` unless a state event said otherwise (a row
      // written by an operation that ended running is its lifecycle event's business, not drift's).
      const reason = decky.state === 'degraded' ? withoutHealNote(decky.last_error) : null;
      const data = deckyStateEventData({ name: decky.name, state: decky.state, reason });
      const topic = deckyTopic(decky.name, 'state');
      if ((deckyStates.get(deckyOf(topic)) ?? stateKey({ state: 'running' })) === stateKey(data)) continue;
      const event = { topic, at: new Date(decky.updated_at).toISOString(), data };
      remember(event);
      bus.deliver(event);
      count++;
    }
    logger.info({ since: since.toISOString(), events: count }, 'event listener reconnected: re-read what it missed');
  };

  const subscriber = createPostgresSubscriber<{ [EVENTS_CHANNEL]: Notice }>(
    { connectionString: opts.orm.config.getClientUrl(), application_name: applicationName },
    {
      paranoidChecking: livenessCheckMs,
      // Retry without end (0 = no timeout), backing off to RECONNECT_MAX_MS.
      retryTimeout: 0,
      retryInterval: (attempt) => Math.min(500 * 2 ** attempt, RECONNECT_MAX_MS),
    },
  );
  // A dead connection is noticed at once when closed, or by the next liveness check: the re-read reaches back past both.
  let lostAt: number | undefined;
  subscriber.events.on('reconnect', (attempt) => {
    if (attempt === 1) {
      lostAt = Date.now();
      logger.warn('event listener lost its connection; reconnecting');
    }
  });
  subscriber.events.on('connected', () => {
    if (lostAt === undefined) return;
    const since = new Date(lostAt - livenessCheckMs - CLOCK_MARGIN_MS);
    lostAt = undefined;
    // After the notices that arrived before this reconnect; the next ones queue behind it.
    receiving = receiving.then(() => catchUp(since)).catch((err: unknown) => logger.warn({ err }, 'event listener: missed events not re-read'));
  });
  subscriber.events.on('error', (err) => logger.warn({ err }, 'event listener failed'));
  subscriber.notifications.on(EVENTS_CHANNEL, receive);
  try {
    await subscriber.connect();
    await subscriber.listenTo(EVENTS_CHANNEL);
  } catch (err) {
    stopOutbound();
    await subscriber.close().catch(() => undefined);
    throw err;
  }

  return {
    applicationName,
    async stop() {
      stopOutbound();
      await subscriber.close();
      await sending;
      await receiving;
    },
  };
}
