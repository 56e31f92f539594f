/** The operator CLI's pure parts: settings, fleet files, the shared waiting/progress code. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ApiError, ApiUnreachableError, UsageError, loadCliSettings, type LifecycleSource } from '../../src/cli/api-client';
import { readFleetFile } from '../../src/cli/commands/deploy';
import { parseIntervalArgument } from '../../src/cli/commands/mutate-interval';
import { formatFleet } from '../../src/cli/commands/status';
import { followOperation, summaryLines, waitForLifecycle } from '../../src/cli/wait';
import type { Io } from '../../src/cli/output';
import type { LifecycleRow } from '../../src/domain/schemas';

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY = false) {
    super();
  }
  columns = 120;
  _write(chunk: Buffer, _enc: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

const io = (tty = false) => {
  const stdout = new Capture(tty);
  const stderr = new Capture(tty);
  return { io: { stdout, stderr } as Io, stdout, stderr };
};

let n = 0;
function row(decky: string, status: LifecycleRow['status'], steps: string[] = [], error: string | null = null): LifecycleRow {
  const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  const at = new Date(0).toISOString();
  return {
    id,
    decky_name: decky,
    host_uuid: null,
    network_driver: null,
    operation: 'deploy',
    trigger: 'cli',
    status,
    error,
    steps: steps.map((name) => ({ name, started_at: at, finished_at: at, ok: !(status === 'failed' && name === steps.at(-1)) })),
    workflow_id: `decky-${decky}-deploy-${id}`,
    run_id: null,
    started_at: at,
    updated_at: at,
    completed_at: null,
  };
}

/** Answers each poll with the next snapshot of the rows (the last one repeats). */
function scripted(snapshots: Array<LifecycleRow[] | Error>): LifecycleSource & { polls: number } {
  const source = {
    polls: 0,
    async lifecycle(ids: string[]) {
      const snap = snapshots[Math.min(source.polls++, snapshots.length - 1)];
      if (snap instanceof Error) throw snap;
      return snap.filter((r) => ids.includes(r.id));
    },
  };
  return source;
}

/** The same ids moving through statuses. */
function timeline(deckies: string[], phases: Array<Array<[LifecycleRow['status'], string[], string?]>>): { ids: string[]; snapshots: LifecycleRow[][] } {
  const base = deckies.map((d) => row(d, 'pending'));
  const snapshots = phases.map((phase) =>
    phase.map(([status, steps, error], i) => ({ ...row(deckies[i], status, steps, error ?? null), id: base[i].id, decky_name: deckies[i] })),
  );
  return { ids: base.map((r) => r.id), snapshots };
}

describe('cli settings', () => {
  let home: string;
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'decnet-cli-'));
  });
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));
  const writeConfig = (content: string) => {
    fs.mkdirSync(path.join(home, '.config', 'decnet'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config', 'decnet', 'cli.json'), content);
  };

  test('defaults, the config file, and the environment winning over it', () => {
    expect(loadCliSettings({ HOME: home })).toMatchObject({ apiUrl: 'http://127.0.0.1:8080', apiToken: undefined });
    writeConfig(JSON.stringify({ api_url: 'http://10.0.0.1:9000/api/v1/', api_token: 'from-file' }));
    expect(loadCliSettings({ HOME: home })).toMatchObject({ apiUrl: 'http://10.0.0.1:9000', apiToken: 'from-file' });
    expect(loadCliSettings({ HOME: home, DECNET_API_URL: 'http://127.0.0.1:1234', DECNET_API_TOKEN: 'from-env' })).toMatchObject({
      apiUrl: 'http://127.0.0.1:1234',
      apiToken: 'from-env',
    });
    expect(loadCliSettings({ HOME: '/nowhere', XDG_CONFIG_HOME: path.join(home, '.config') }).apiToken).toBe('from-file');
  });

  test('a broken config file or URL is a usage error naming it', () => {
    writeConfig('{not json');
    expect(() => loadCliSettings({ HOME: home })).toThrow(UsageError);
    expect(() => loadCliSettings({ HOME: home })).toThrow(/cli\.json is not valid JSON/);
    writeConfig(JSON.stringify({ api_token: 42 }));
    expect(() => loadCliSettings({ HOME: home })).toThrow(/api_token/);
    expect(() => loadCliSettings({ HOME: '/nowhere', DECNET_API_URL: 'ftp://x' })).toThrow(/http/);
  });
});

describe('fleet files and arguments', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decnet-fleet-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('INI is sent as ini_content, JSON as its object', () => {
    fs.writeFileSync(path.join(dir, 'f.ini'), '[web]\nservices=http\n');
    fs.writeFileSync(path.join(dir, 'f.json'), '{"deckies":[{"name":"web"}]}');
    fs.writeFileSync(path.join(dir, 'fleet'), ' {"deckies":[{"name":"db"}]}');
    expect(readFleetFile(path.join(dir, 'f.ini'))).toEqual({ ini_content: '[web]\nservices=http\n' });
    expect(readFleetFile(path.join(dir, 'f.json'))).toEqual({ deckies: [{ name: 'web' }] });
    expect(readFleetFile(path.join(dir, 'fleet'))).toEqual({ deckies: [{ name: 'db' }] });
  });

  test('unreadable, empty or malformed files are usage errors', () => {
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"deckies": [');
    fs.writeFileSync(path.join(dir, 'list.json'), '[]');
    fs.writeFileSync(path.join(dir, 'empty.ini'), '\n');
    expect(() => readFleetFile(path.join(dir, 'missing.ini'))).toThrow(/no such file/);
    expect(() => readFleetFile(path.join(dir, 'bad.json'))).toThrow(/not valid JSON/);
    expect(() => readFleetFile(path.join(dir, 'list.json'))).toThrow(UsageError);
    expect(() => readFleetFile(path.join(dir, 'empty.ini'))).toThrow(/empty/);
  });

  test('mutate-interval arguments', () => {
    expect(parseIntervalArgument('off')).toBeNull();
    expect(parseIntervalArgument('45')).toBe(45);
    expect(parseIntervalArgument('2d')).toBe('2d');
  });
});

describe('waiting for lifecycle rows', () => {
  test('plain lines off a terminal: each decky, each step, each status change; rows in id order', async () => {
    const { ids, snapshots } = timeline(
      ['web', 'ws-01'],
      [
        [
          ['pending', []],
          ['pending', []],
        ],
        [
          ['running', ['render']],
          ['running', ['render', 'network']],
        ],
        [
          ['succeeded', ['render', 'network', 'compose_up', 'verify']],
          ['failed', ['render', 'network', 'compose_up'], 'MissingImage: decnet/vnc:latest'],
        ],
      ],
    );
    const out = new Capture();
    const rows = await waitForLifecycle(scripted(snapshots), ids, { display: { kind: 'lines', stream: out }, stderr: out, intervalMs: 1, handleSigint: false });
    expect(rows.map((r) => [r.decky_name, r.status])).toEqual([
      ['web', 'succeeded'],
      ['ws-01', 'failed'],
    ]);
    expect(out.text.split('\n')).toEqual([
      'web: deploy pending',
      'ws-01: deploy pending',
      'web: running',
      'web: render ok',
      'ws-01: running',
      'ws-01: render ok',
      'ws-01: network ok',
      'web: network ok',
      'web: compose_up ok',
      'web: verify ok',
      'web: succeeded',
      'ws-01: compose_up failed',
      'ws-01: failed',
      '',
    ]);
    expect(summaryLines(rows)).toEqual(['[OK] web', '[FAIL] ws-01: MissingImage: decnet/vnc:latest']);
  });

  test('progress bars on a terminal name each decky', async () => {
    const { ids, snapshots } = timeline(
      ['alpha', 'a-much-longer-name'],
      [
        [
          ['running', ['render']],
          ['pending', []],
        ],
        [
          ['succeeded', ['render', 'network', 'compose_up', 'verify']],
          ['succeeded', ['render', 'network', 'compose_up', 'verify']],
        ],
      ],
    );
    const tty = new Capture(true);
    await waitForLifecycle(scripted(snapshots), ids, { display: { kind: 'bars', stream: tty }, stderr: tty, intervalMs: 1, handleSigint: false });
    expect(tty.text).toContain('alpha');
    expect(tty.text).toContain('a-much-longer-name');
    expect(tty.text).toContain('verify done');
  });

  test('an unreachable API is retried; another refusal ends the wait', async () => {
    const { ids, snapshots } = timeline(['web'], [[['succeeded', ['render']]]]);
    const out = new Capture();
    const source = scripted([new ApiUnreachableError('cannot reach the API'), new ApiError(503, 'unavailable', 'retry shortly'), ...snapshots]);
    const rows = await waitForLifecycle(source, ids, { display: { kind: 'lines', stream: out }, stderr: out, intervalMs: 1, handleSigint: false });
    expect(rows[0].status).toBe('succeeded');
    expect(out.text).toContain('warning: cannot reach the API; still polling');
    await expect(
      waitForLifecycle(scripted([new ApiError(401, 'unauthorized', 'invalid token')]), ids, {
        display: { kind: 'none' },
        stderr: out,
        intervalMs: 1,
        handleSigint: false,
      }),
    ).rejects.toThrow('invalid token');
  });

  test('followOperation: --json prints one document with the final rows; exit 1 when any failed', async () => {
    const { ids, snapshots } = timeline(
      ['a', 'b'],
      [
        [
          ['succeeded', ['render']],
          ['failed', ['render'], 'boom'],
        ],
      ],
    );
    const json = io();
    const code = await followOperation(
      scripted(snapshots),
      { message: 'accepted', mode: 'unihost', lifecycle_ids: ids },
      { wait: true, json: true, io: json.io, intervalMs: 1 },
    );
    expect(code).toBe(1);
    const doc = JSON.parse(json.stdout.text);
    expect(doc).toMatchObject({ mode: 'unihost', lifecycle_ids: ids });
    expect(doc.rows.map((r: LifecycleRow) => r.status)).toEqual(['succeeded', 'failed']);

    const plain = io();
    const ok = await followOperation(
      scripted([snapshots[0].slice(0, 1)]),
      { lifecycle_ids: ids.slice(0, 1) },
      { wait: true, json: false, io: plain.io, intervalMs: 1 },
    );
    expect(ok).toBe(0);
    expect(plain.stdout.text).toMatch(/\[OK\] a\n$/);

    const noWait = io();
    expect(await followOperation(scripted([]), { lifecycle_ids: ids }, { wait: false, json: true, io: noWait.io })).toBe(0);
    expect(JSON.parse(noWait.stdout.text)).toEqual({ lifecycle_ids: ids });
  });
});

test('the fleet table', () => {
  const last = row('web', 'failed', ['render'], 'MissingImage: x');
  const text = formatFleet([
    { name: 'web', state: 'failed', ip: '10.0.0.5', services: ['http', 'ftp'], last_lifecycle: last } as any,
    { name: 'db', state: 'running', ip: '10.0.0.6', services: ['mysql'], last_lifecycle: null } as any,
    { name: 'ftp', state: 'degraded', last_error: 'container ftp exited (137)', ip: '10.0.0.7', services: ['ftp'], last_lifecycle: null } as any,
  ]);
  expect(text.split('\n')[0]).toMatch(/^NAME\s+STATE\s+IP\s+SERVICES\s+LAST OPERATION$/);
  expect(text).toContain('deploy failed: MissingImage: x');
  expect(text).toMatch(/db\s+running\s+10\.0\.0\.6\s+mysql\s+-/);
  expect(text).toMatch(/ftp\s+degraded: container ftp exited \(137\)\s+10\.0\.0\.7/);
  expect(formatFleet([])).toBe('no deckies\n');
});
