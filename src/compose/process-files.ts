/**
 * Which compose process works on a decky, on disk beside its compose file (`<decky>.pid`). A worker
 * killed with SIGKILL leaves its compose child running (the child is re-parented, not killed), and
 * the activity's retry, in this process or another, must not run compose for the decky beside it:
 * two `up`s of one file race for the same container names and the same LAN address.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, terminatePid } from '../infra/pid';

interface ProcessRecord {
  pid: number;
  /** Epoch ms when the process was started. */
  started: number;
}

const POLL_MS = 250;

export class ComposeProcessFiles {
  /**
   * @param dir where the deckies' compose files are
   * @param timeoutMs how long a compose process may run: its parent would have stopped it then
   */
  constructor(
    private readonly dir: string,
    private readonly timeoutMs: number,
  ) {}

  private file(decky: string): string {
    return path.join(this.dir, `${decky}.pid`);
  }

  /** Records `pid` as the compose process of these deckies (one batch runs several). */
  async record(deckies: string[], pid: number): Promise<void> {
    const record: ProcessRecord = { pid, started: Date.now() };
    await fs.mkdir(this.dir, { recursive: true });
    await Promise.all(deckies.map((decky) => fs.writeFile(this.file(decky), JSON.stringify(record))));
  }

  /** Forgets `pid` for these deckies, leaving alone a file a later process wrote. */
  async clear(deckies: string[], pid: number): Promise<void> {
    await Promise.all(deckies.map(async (decky) => ((await this.read(decky))?.pid === pid ? fs.rm(this.file(decky), { force: true }) : undefined)));
  }

  /**
   * Resolves once no compose process works on the decky: waits for a running one (heartbeats go
   * on meanwhile), and stops one that outlived the compose timeout. Returns what it waited for.
   */
  async settled(decky: string, signal?: AbortSignal): Promise<string | undefined> {
    const record = await this.read(decky);
    if (!record) return undefined;
    const composeFile = path.join(this.dir, `${decky}.yml`);
    let waited = false;
    while (await this.isComposeOf(record.pid, composeFile)) {
      signal?.throwIfAborted();
      if (Date.now() - record.started > this.timeoutMs) {
        await terminatePid(record.pid, 'SIGTERM', 10_000);
        break;
      }
      waited = true;
      await sleep(POLL_MS, undefined, signal ? { signal } : undefined);
    }
    await this.clear([decky], record.pid);
    return waited ? `waited for compose process ${record.pid} of an earlier attempt` : undefined;
  }

  private async read(decky: string): Promise<ProcessRecord | undefined> {
    const text = await fs.readFile(this.file(decky), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as Partial<ProcessRecord>;
      return typeof parsed.pid === 'number' && typeof parsed.started === 'number' ? { pid: parsed.pid, started: parsed.started } : undefined;
    } catch {
      return undefined; // torn by a crash mid-write: no process to wait for
    }
  }

  /** Alive and still the compose process of this file: a reused pid belongs to something else. */
  private async isComposeOf(pid: number, composeFile: string): Promise<boolean> {
    if (!isProcessAlive(pid)) return false;
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.split('\0').includes(composeFile);
  }
}
