/** Running the real `decnet` CLI as a child process, and killing it by pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO = path.join(__dirname, '..', '..');

export interface DecnetProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Where its stdout and stderr go. */
  logFile: string;
}

/** `node --import tsx src/cli/main.ts …`: the CLI in this very process, so a SIGKILL kills the master itself. */
export function spawnDecnet(args: string[], env: NodeJS.ProcessEnv, logFile: string): DecnetProcess {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/main.ts'), ...args], {
    cwd: REPO,
    env,
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, logFile };
}

export async function waitForHttp(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * waitForHttp on a URL a spawned `decnet` serves: fails as soon as the process exits instead, and
 * either failure quotes the end of its log, which the test's cleanup is about to delete.
 */
export async function waitForServing(proc: DecnetProcess, url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const fail = (why: string): never => {
    const tail = fs.readFileSync(proc.logFile, 'utf8').split('\n').slice(-40).join('\n');
    throw new Error(`${why}\n--- the end of ${proc.logFile} ---\n${tail}`);
  };
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    const { exitCode, signalCode } = proc.child;
    if (exitCode !== null || signalCode !== null) fail(`decnet exited (${exitCode ?? signalCode}) before ${url} answered`);
    if (Date.now() > deadline) fail(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function sigkill(proc: DecnetProcess): Promise<void> {
  proc.child.kill('SIGKILL');
  await proc.exited;
}

export async function stop(proc: DecnetProcess): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  await proc.exited;
  clearTimeout(timer);
}

export interface DecnetRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a short `decnet` command to its end (no TTY: stdout and stderr are pipes) and collects its output. */
export function runDecnet(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 240_000): Promise<DecnetRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/main.ts'), ...args], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`decnet ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment of a CLI run against a test stack: its API, its admin token, a private HOME. */
export function cliEnvFor(stack: { config: { apiPort: number }; adminToken: string }, home: string, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    DECNET_API_URL: `http://127.0.0.1:${stack.config.apiPort}`,
    DECNET_API_TOKEN: stack.adminToken,
    ...overrides,
  };
  delete env.XDG_CONFIG_HOME;
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return env;
}
