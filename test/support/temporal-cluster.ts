/**
 * The real Temporal server (go.temporal.io/server, built by scripts/setup-cluster.sh) with
 * PostgreSQL persistence and visibility, for the tests and benchmarks that run decnet against a
 * Temporal cluster rather than the CLI's dev server: schemas set up by the server's own
 * temporal-sql-tool, a config file written here, the namespace created and the product's search
 * attributes registered through the operator API, as an operator's cluster would have them.
 *
 * Ports: the server takes `portBase` … `portBase + 8` on 127.0.0.1 (frontend gRPC and HTTP,
 * then gRPC and membership for the frontend, history, matching and worker services). The tests
 * use 7400 (test/cluster), the benchmark 7420 (bench/scale-out): clear of the dev servers on
 * 7233 (`decnet up`), 7244 (jest) and 7255–7275 (benchmarks) and of their UIs (8233+).
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { stringify } from 'yaml';
import { namespaceAnswers, registerSearchAttributes, startTemporalProcess, type RunningTemporal } from '../../src/infra/temporal-cli';
import { createDatabase } from '../../src/infra/embedded-postgres';
import { SEARCH_ATTRIBUTE_KINDS } from '../../src/domain/workflow-ids';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(__dirname, '../..');

export interface TemporalServerBuild {
  /** The cache directory holding temporal-server, temporal-sql-tool and schema/. */
  dir: string;
  server: string;
  sqlTool: string;
}

/**
 * Runs scripts/setup-cluster.sh: at once when this machine built the pinned server before,
 * about 3 minutes the first time.
 */
export async function installTemporalServer(): Promise<TemporalServerBuild> {
  // Its progress (stderr) shows, as the first run is long; stdout names the directory.
  const child = spawn('bash', [path.join(REPO, 'scripts/setup-cluster.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('exit', resolve));
  if (code !== 0) throw new Error(`scripts/setup-cluster.sh exited with ${code} (its output is above)`);
  return temporalServerBuild(stdout.trim().split('\n').pop()!);
}

/** The files of a build in `dir` (TEMPORAL_SERVER_DIR in test:cluster). */
export function temporalServerBuild(dir: string): TemporalServerBuild {
  return { dir, server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool') };
}

/** `temporal-server --version`'s version, e.g. `1.32.1`. */
export async function temporalServerVersion(build: TemporalServerBuild): Promise<string> {
  const { stdout } = await execFileAsync(build.server, ['--version']);
  const match = /(\d+\.\d+\.\d+)/.exec(stdout);
  if (!match) throw new Error(`temporal-server --version printed no version: ${stdout}`);
  return match[1];
}

export interface TemporalClusterOptions {
  build: TemporalServerBuild;
  /** A superuser's URL on the PostgreSQL that keeps Temporal's two databases. */
  postgresAdminUrl: string;
  /** Config file and log go here. */
  dataDir: string;
  portBase: number;
  namespace?: string;
  /** History shards: fixed for the life of the cluster's database. */
  numHistoryShards?: number;
}

/** The databases of the persistence store and of visibility, and the schema directory of each. */
const DATABASES = [
  { name: 'temporal', schema: 'temporal' },
  { name: 'temporal_visibility', schema: 'visibility' },
] as const;

/**
 * Sets up both schemas on the given PostgreSQL (idempotent: setup-schema -v 0.0 tolerates an
 * existing version table, update-schema applies what is missing) and starts the server, resolving
 * once the namespace answers with the product's search attributes registered.
 */
export async function startTemporalCluster(options: TemporalClusterOptions): Promise<RunningTemporal> {
  const namespace = options.namespace ?? 'default';
  const pg = new URL(options.postgresAdminUrl);
  const sqlEnv = { ...process.env, SQL_PASSWORD: decodeURIComponent(pg.password) };
  const sql = async (database: string, ...args: string[]) => {
    const base = ['--plugin', 'postgres12', '--endpoint', pg.hostname, '--port', pg.port, '--user', decodeURIComponent(pg.username), '--database', database];
    try {
      await execFileAsync(options.build.sqlTool, [...base, ...args], { env: sqlEnv });
    } catch (err) {
      const { stderr, stdout } = err as { stderr?: string; stdout?: string };
      throw new Error(`temporal-sql-tool ${args.join(' ')} on ${database} failed: ${stderr || stdout || String(err)}`, { cause: err });
    }
  };
  for (const db of DATABASES) {
    await createDatabase(options.postgresAdminUrl, db.name);
    await sql(db.name, 'setup-schema', '-v', '0.0');
    await sql(db.name, 'update-schema', '-d', path.join(options.build.dir, 'schema/postgresql/v12', db.schema, 'versioned'));
  }

  await fs.mkdir(options.dataDir, { recursive: true });
  const port = (offset: number) => options.portBase + offset;
  const address = `127.0.0.1:${port(0)}`;
  const dynamicConfigFile = path.join(options.dataDir, 'dynamicconfig.yaml');
  // Custom search attributes are visible at once to the frontend that registered them, as on the dev server.
  await fs.writeFile(dynamicConfigFile, stringify({ 'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true, constraints: {} }] }));
  const store = (database: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `${pg.hostname}:${pg.port}`,
      connectProtocol: 'tcp',
      user: decodeURIComponent(pg.username),
      password: decodeURIComponent(pg.password),
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpc: number, membership: number) => ({ rpc: { grpcPort: port(grpc), membershipPort: port(membership), bindOnLocalHost: true } });
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.numHistoryShards ?? 4,
      // Per service: the frontend, history, matching and worker services each open these pools, so
      // at most 4 × 10 connections of PostgreSQL's 100 (the decnet processes share the server).
      datastores: { 'postgres-default': store('temporal', 8), 'postgres-visibility': store('temporal_visibility', 2) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: { rpc: { ...rpc(0, 2).rpc, httpPort: port(1) } },
      history: rpc(3, 4),
      matching: rpc(5, 6),
      worker: rpc(7, 8),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: address } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
  const configFile = path.join(options.dataDir, 'temporal-server.yaml');
  await fs.writeFile(configFile, stringify(config), { mode: 0o600 });

  return startTemporalProcess({
    binary: options.build.server,
    args: ['--config-file', configFile, '--allow-no-auth', 'start'],
    what: 'Temporal server',
    address,
    ports: Array.from({ length: 9 }, (_, i) => port(i)),
    logFile: path.join(options.dataDir, 'temporal-server.log'),
    readyTimeoutMs: 120_000,
    ready: () => namespaceReady(address, namespace),
  });
}

/**
 * A real server has no namespace at first: register it once the frontend answers, then the
 * product's search attributes once every service knows the namespace (their caches refresh every
 * few seconds, so a describe may answer while the operator API still says "not found").
 */
async function namespaceReady(address: string, namespace: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '2s' });
    if (!(await namespaceAnswers(address, namespace))) {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('7d') }).catch((err: unknown) => {
        if (!/already exists|already registered/i.test(String((err as Error).message))) throw err;
      });
      return false;
    }
    await registerSearchAttributes(connection, namespace, SEARCH_ATTRIBUTE_KINDS);
    return true;
  } catch {
    // Frontend not serving yet, or the namespace not in every cache yet: the next poll tries again.
    return false;
  } finally {
    await connection?.close();
  }
}
