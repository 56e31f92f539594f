/**
 * Lifecycle progress: poll GET /deckies/lifecycle every 2 s until every row is terminal, and render
 * each row as one line that turns `[OK]` or `[FAIL] <message>`, with its steps' timing on demand.
 */
import type { Api } from './api';
import { errorMessage } from './api';
import { formatDuration, formatTime, h, fill } from './dom';
import type { LifecycleRow, LifecycleStatus } from './types';

export const POLL_MS = 2000;

export const isTerminal = (status: LifecycleStatus) => status === 'succeeded' || status === 'failed';

export interface Watch {
  stop(): void;
  /** Every row, once each is terminal (never resolves if stopped first). */
  done: Promise<LifecycleRow[]>;
}

/**
 * Poll the rows of `ids`; `onRows` gets every answer, `onError` every failed poll (polling goes on:
 * a master restarting must not stop the progress display for good).
 */
export function watchLifecycles(
  api: Api,
  ids: string[],
  onRows: (rows: LifecycleRow[]) => void,
  onError: (message: string | null) => void = () => undefined,
): Watch {
  let stopped = false;
  let timer: number | undefined;
  let resolveDone!: (rows: LifecycleRow[]) => void;
  const done = new Promise<LifecycleRow[]>((resolve) => (resolveDone = resolve));
  const poll = async () => {
    if (stopped) return;
    try {
      const { rows } = await api.get<{ rows: LifecycleRow[] }>(`/deckies/lifecycle?ids=${ids.map(encodeURIComponent).join(',')}`);
      if (stopped) return;
      onError(null);
      onRows(rows);
      if (rows.length === ids.length && rows.every((r) => isTerminal(r.status))) {
        resolveDone(ids.map((id) => rows.find((r) => r.id === id)!));
        return;
      }
    } catch (err) {
      if (stopped) return;
      onError(`Progress unavailable, retrying: ${errorMessage(err)}`);
    }
    timer = window.setTimeout(poll, POLL_MS);
  };
  void poll();
  return {
    stop() {
      stopped = true;
      window.clearTimeout(timer);
    },
    done,
  };
}

const BADGE: Record<LifecycleStatus, string> = { pending: '[WAIT]', running: '[RUN]', succeeded: '[OK]', failed: '[FAIL]' };

/**
 * One line of progress: `[OK] web-01` / `[FAIL] web-02 MissingImage: …`, and a disclosure with each
 * step's start, duration and outcome. `label` names the line (a decky, or an operation).
 */
export class ProgressLine {
  readonly el: HTMLLIElement;
  private readonly badge = h('span', { class: 'badge' }, BADGE.pending);
  private readonly message = h('span', { class: 'line-message' });
  private readonly steps = h('details', { class: 'steps', hidden: true });
  private readonly stepsBody = h('tbody');
  private readonly duration = h('span', { class: 'line-duration' });

  constructor(readonly label: string) {
    const table = h(
      'table',
      { class: 'steps-table' },
      h('caption', { class: 'visually-hidden' }, `Steps of ${label}`),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Step'),
          h('th', { scope: 'col' }, 'Started'),
          h('th', { scope: 'col' }, 'Took'),
          h('th', { scope: 'col' }, 'Result'),
        ),
      ),
      this.stepsBody,
    );
    this.steps.append(h('summary', {}, 'Step timings'), table);
    this.el = h(
      'li',
      { class: 'progress-line', 'data-status': 'pending', 'data-label': label },
      h('div', { class: 'line-head' }, this.badge, ' ', h('span', { class: 'line-label' }, label), ' ', this.message, this.duration),
      this.steps,
    );
    this.message.textContent = 'waiting to start';
  }

  update(row: LifecycleRow): void {
    this.el.dataset.status = row.status;
    this.badge.textContent = BADGE[row.status];
    this.message.textContent =
      row.status === 'failed'
        ? (row.error ?? 'failed')
        : row.status === 'succeeded'
          ? ''
          : row.status === 'running'
            ? `${row.operation} running…`
            : 'waiting to start';
    this.duration.textContent = row.completed_at ? ` (${formatDuration(Date.parse(row.completed_at) - Date.parse(row.started_at))})` : '';
    this.steps.hidden = row.steps.length === 0;
    fill(
      this.stepsBody,
      row.steps.map((step) =>
        h(
          'tr',
          { class: step.ok ? 'step-ok' : 'step-failed' },
          h('th', { scope: 'row' }, step.name),
          h('td', {}, h('time', { datetime: step.started_at, title: formatTime(step.started_at) }, new Date(step.started_at).toLocaleTimeString())),
          h('td', {}, formatDuration(Date.parse(step.finished_at) - Date.parse(step.started_at))),
          h('td', {}, step.ok ? 'ok' : 'failed', step.detail ? h('span', { class: 'step-detail' }, ` — ${step.detail}`) : null),
        ),
      ),
    );
  }

  /** A request that never produced a lifecycle row (refused by the API). */
  fail(message: string): void {
    this.el.dataset.status = 'failed';
    this.badge.textContent = BADGE.failed;
    this.message.textContent = message;
  }
}
