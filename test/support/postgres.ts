/** An embedded PostgreSQL of a test's own, in a child process (see embedded-postgres-main.ts). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';

export interface PostgresProcess {
  url: string;
  /** The postmaster's. */
  pid: number;
  /** SIGTERM: the child stops PostgreSQL (fast shutdown), then exits. */
  stop(): Promise<void>;
}

export function startPostgresProcess(dataDir: string, port: number, logFile: string): Promise<PostgresProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'embedded-postgres-main.ts'), dataDir, String(port), logFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (!stdout.includes('\n')) return;
      const { url, pid } = JSON.parse(stdout) as { url: string; pid: number };
      resolve({
        url,
        pid,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL on port ${port} did not start (exit ${code}): ${stderr}`)));
  });
}

/** Logs in as `postgres` with `password` on 127.0.0.1:`port`: 'ok', or PostgreSQL's error code (28P01: wrong password). */
export async function tryPassword(port: number, password: string): Promise<string> {
  const client = new Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres` });
  try {
    await client.connect();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}
