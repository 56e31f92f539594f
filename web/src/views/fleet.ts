/**
 * The fleet (architecture.md §10): every decky with its state, IP, host, services, last mutation and interval;
 * mutate, heal (a degraded or failed one), edit the interval and tear down from its row, each action with its own progress line;
 * a link to the decky's latest workflow in the Temporal Web UI; tear the whole fleet down behind a
 * typed confirmation. Refreshed every 5 s in place, so focus, open editors and progress survive a
 * refresh.
 */
import { ApiError, errorMessage, type Api } from '../api';
import { confirmDialog, typedConfirmDialog } from '../confirm';
import { workflowUrl, type AppContext, type View } from '../context';
import { fill, fillIfChanged, formatMinutes, formatTime, h } from '../dom';
import { checkboxField, inputField, type Field } from '../forms';
import { lanText } from '../lan-panel';
import { ProgressLine, watchLifecycles, type Watch } from '../lifecycle';
import type { DeckyView, MutateIntervalResponse, SwarmHost, SystemNetwork } from '../types';

const REFRESH_MS = 5000;
const COLUMNS = ['Name', 'State', 'IP', 'OS', 'Host', 'Services', 'Last mutation', 'Interval', 'Actions'] as const;

export function intervalText(d: Pick<DeckyView, 'mutate_interval' | 'mutate_enabled'>): string {
  if (d.mutate_enabled === false) return 'off';
  return d.mutate_interval === null ? 'fleet default' : `every ${formatMinutes(d.mutate_interval)}`;
}

export const fleetView: View = (root, ctx) => {
  const rows = new Map<string, FleetRow>();
  const hostNames = new Map<string, string>();
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'data-table fleet-table', id: 'fleet-table' },
    h('caption', { class: 'visually-hidden' }, 'Deckies'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    tbody,
  );
  const empty = h('p', { class: 'empty', hidden: true }, 'No deckies yet. ', h('a', { href: '/deploy' }, 'Deploy some'), '.');
  const status = h('p', { class: 'refresh-status', role: 'status' });
  const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const refreshButton = h('button', { type: 'button', class: 'button' }, 'Refresh');
  const lan = h('p', { class: 'lead', id: 'fleet-lan' });
  const fleetTeardown = new FleetTeardown(ctx, () => void refresh());
  root.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Fleet'), h('div', { class: 'page-tools' }, status, refreshButton, fleetTeardown.button), lan),
    fleetTeardown.progress,
    announcer,
    h('div', { class: 'card table-card' }, table, empty),
  );

  let timer: number | undefined;
  let left = false;
  async function refresh() {
    window.clearTimeout(timer);
    try {
      const { deckies } = await ctx.api.get<{ deckies: DeckyView[] }>('/deckies');
      if (deckies.some((d) => d.host_uuid !== null && !hostNames.has(d.host_uuid))) await loadHostNames(ctx.api, hostNames);
      if (left) return;
      const seen = new Set<string>();
      for (const decky of deckies) {
        seen.add(decky.name);
        let row = rows.get(decky.name);
        if (!row) {
          row = new FleetRow(ctx, () => void refresh());
          rows.set(decky.name, row);
        }
        row.update(decky, hostNames);
      }
      // Keep the table in fleet order (by name), moving only the rows that are out of place.
      deckies.forEach((d, i) => {
        const tr = rows.get(d.name)!.tr;
        if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
      });
      for (const [name, row] of rows) {
        if (seen.has(name)) continue;
        row.dispose();
        rows.delete(name);
        announcer.textContent = `${name} is no longer in the fleet.`;
      }
      fleetTeardown.setFleetSize(deckies.length);
      empty.hidden = deckies.length > 0;
      table.hidden = deckies.length === 0;
      status.textContent = `${deckies.length} decky(ies) · updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (left) return;
      status.textContent = `Could not refresh: ${errorMessage(err)}`;
    }
    if (!left) timer = window.setTimeout(() => void refresh(), REFRESH_MS);
  }
  refreshButton.addEventListener('click', () => void refresh());
  void refresh();
  ctx.api.get<SystemNetwork>('/system/network').then(
    (network) =>
      fill(
        lan,
        network.configured ? ['LAN: ', lanText(network)] : ['LAN: not configured yet; ', h('a', { href: '/deploy' }, 'set it in the deploy wizard'), '.'],
      ),
    (err) => (lan.textContent = `LAN: could not read it (${errorMessage(err)})`),
  );
  return () => {
    left = true;
    window.clearTimeout(timer);
    for (const row of rows.values()) row.dispose();
    fleetTeardown.dispose();
  };
};

/**
 * "Tear down fleet": typed confirmation of the fleet size this page shows, which is also what the
 * API checks (a page gone stale gets a 409 instead of removing deckies nobody saw); then one
 * progress line per decky.
 */
class FleetTeardown {
  readonly button = h('button', { type: 'button', class: 'button button-danger', id: 'teardown-fleet', disabled: true }, 'Tear down fleet');
  readonly progress = h('ul', { class: 'progress-list', id: 'fleet-teardown-progress', 'aria-label': 'Fleet teardown' });
  private fleetSize = 0;
  private running = false;
  private watch: Watch | null = null;

  constructor(
    private readonly ctx: AppContext,
    private readonly refresh: () => void,
  ) {
    this.button.addEventListener('click', () => void this.start());
  }

  setFleetSize(size: number): void {
    this.fleetSize = size;
    this.button.disabled = this.running || size === 0;
  }

  dispose(): void {
    this.watch?.stop();
  }

  private async start() {
    const size = this.fleetSize;
    const ok = await typedConfirmDialog({
      title: `Tear down all ${size} deckies?`,
      message: 'Every decky loses its containers, its IP and its mutation schedule; the LAN network goes with the last one. This cannot be undone.',
      prompt: `Type ${size} or "teardown ${size}" to confirm`,
      accepted: [String(size), `teardown ${size}`],
      confirmLabel: 'Tear down fleet',
    });
    if (!ok) return this.button.focus();
    this.running = true;
    this.button.disabled = true;
    fill(this.progress);
    try {
      const res = await this.ctx.api.delete<{ lifecycle_ids: string[]; deckies: string[] }>(`/deckies?confirm=${size}`);
      const lines = res.deckies.map((name) => new ProgressLine(`teardown ${name}`));
      fill(
        this.progress,
        lines.map((l) => l.el),
      );
      this.watch = watchLifecycles(this.ctx.api, res.lifecycle_ids, (rows) => {
        for (const row of rows) lines[res.lifecycle_ids.indexOf(row.id)]?.update(row);
      });
      await this.watch.done;
    } catch (err) {
      const line = new ProgressLine('teardown fleet');
      fill(this.progress, line.el);
      line.fail(err instanceof ApiError && err.status === 409 ? `refused: ${err.message}` : errorMessage(err));
    }
    this.running = false;
    this.refresh();
  }
}

/** Host names for the Host column, asked only when a decky runs on a host not seen yet; only admins may list hosts. */
async function loadHostNames(api: Api, into: Map<string, string>): Promise<void> {
  try {
    const body = await api.get<{ hosts: SwarmHost[] } | SwarmHost[]>('/swarm/hosts');
    for (const host of Array.isArray(body) ? body : body.hosts) into.set(host.uuid, host.name);
  } catch {
    /* not an admin, or no swarm: the column shows host ids */
  }
}

class FleetRow {
  readonly tr = h('tr');
  private decky!: DeckyView;
  private readonly cells: Record<(typeof COLUMNS)[number], HTMLTableCellElement>;
  private readonly mutateButton = h('button', { type: 'button', class: 'button button-small' }, 'Mutate');
  /** Shown for a degraded or failed decky: its containers brought back to its desired state. */
  private readonly healButton = h('button', { type: 'button', class: 'button button-small', hidden: true }, 'Heal');
  private readonly intervalButton = h('button', { type: 'button', class: 'button button-small', 'aria-expanded': 'false' }, 'Edit interval');
  private readonly teardownButton = h('button', { type: 'button', class: 'button button-small button-danger' }, 'Tear down');
  private readonly workflow = h('span', { class: 'workflow' });
  private readonly progress = h('ul', { class: 'progress-list row-progress' });
  private readonly editor: IntervalEditor;
  private watch: Watch | null = null;
  private busy = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly refresh: () => void,
  ) {
    this.cells = Object.fromEntries(
      COLUMNS.map((c) => [c, h('td', { 'data-label': c, class: `col-${c.toLowerCase().replace(/ /g, '-')}` })]),
    ) as FleetRow['cells'];
    this.editor = new IntervalEditor(
      ctx.api,
      () => this.decky,
      (res) => this.intervalSaved(res),
      () => this.closeEditor(),
    );
    this.cells.Actions.append(
      h('div', { class: 'row-actions' }, this.healButton, this.mutateButton, this.intervalButton, this.teardownButton, this.workflow),
      this.editor.el,
      this.progress,
    );
    this.tr.append(...Object.values(this.cells));
    this.mutateButton.addEventListener(
      'click',
      () => void this.run('mutate', () => ctx.api.post(`/deckies/${encodeURIComponent(this.decky.name)}/mutate`, {})),
    );
    this.healButton.addEventListener('click', () => void this.run('heal', () => ctx.api.post(`/deckies/${encodeURIComponent(this.decky.name)}/heal`, {})));
    this.teardownButton.addEventListener('click', () => void this.teardown());
    this.intervalButton.addEventListener('click', () => (this.editor.el.hidden ? this.openEditor() : this.closeEditor()));
  }

  update(decky: DeckyView, hostNames: Map<string, string>): void {
    this.decky = decky;
    const { cells } = this;
    this.tr.dataset.decky = decky.name;
    fillIfChanged(cells.Name, `${decky.name}|${decky.archetype}`, () => [
      h('strong', { class: 'decky-name' }, decky.name),
      decky.archetype ? h('span', { class: 'sub' }, decky.archetype) : null,
    ]);
    fillIfChanged(cells.State, `${decky.state}|${decky.last_error}`, () => [
      h('span', { class: `state state-${decky.state}` }, decky.state.replace('_', ' ')),
      decky.last_error && (decky.state === 'failed' || decky.state === 'degraded') ? h('span', { class: 'sub error-text' }, decky.last_error) : null,
    ]);
    fillIfChanged(cells.IP, decky.ip, () => h('code', {}, decky.ip));
    fillIfChanged(cells.OS, decky.nmap_os, () => h('span', { title: `answers nmap like a ${decky.nmap_os} host (TTL, TCP options)` }, decky.nmap_os));
    const host = decky.host_uuid === null ? 'master (local)' : (hostNames.get(decky.host_uuid) ?? decky.host_uuid.slice(0, 8));
    fillIfChanged(cells.Host, host, () => host);
    const custom = Object.keys(decky.custom_services ?? {});
    fillIfChanged(cells.Services, `${decky.services.join(',')}|${custom.join(',')}`, () =>
      h('span', { class: 'services' }, decky.services.map((s) => (custom.includes(s) ? `${s} (custom)` : s)).join(', ')),
    );
    fillIfChanged(cells['Last mutation'], decky.last_mutated ?? '', () =>
      decky.last_mutated ? h('time', { datetime: decky.last_mutated }, formatTime(decky.last_mutated)) : 'never',
    );
    const interval = intervalText(decky);
    fillIfChanged(cells.Interval, interval, () => interval);
    const workflowId = decky.last_lifecycle?.workflow_id ?? '';
    fillIfChanged(this.workflow, workflowId, () => {
      const url = workflowId ? workflowUrl(this.ctx.catalog, workflowId) : null;
      return url
        ? h(
            'a',
            { class: 'workflow-link', href: url, target: '_blank', rel: 'noopener noreferrer' },
            'Workflow',
            h('span', { class: 'visually-hidden' }, ` of ${decky.name}'s last ${decky.last_lifecycle!.operation} in the Temporal Web UI (opens a new tab)`),
          )
        : null;
    });
    this.setBusy(this.busy);
  }

  dispose(): void {
    this.watch?.stop();
    this.tr.remove();
  }

  private setBusy(busy: boolean) {
    this.busy = busy;
    const gone = this.decky?.state === 'tearing_down' || this.decky?.state === 'torn_down';
    this.mutateButton.disabled = busy || gone;
    this.healButton.hidden = !(this.decky?.state === 'degraded' || this.decky?.state === 'failed');
    this.healButton.disabled = busy;
    this.intervalButton.disabled = busy || gone;
    this.teardownButton.disabled = busy || this.decky?.state === 'torn_down';
  }

  private async teardown() {
    const ok = await confirmDialog({
      title: `Tear down ${this.decky.name}?`,
      message: `Its containers are removed, its IP is freed and its mutation schedule deleted. This cannot be undone.`,
      confirmLabel: `Tear down ${this.decky.name}`,
    });
    if (ok) await this.run('teardown', () => this.ctx.api.delete(`/deckies/${encodeURIComponent(this.decky.name)}`));
    else this.teardownButton.focus();
  }

  /** Start an operation and show its own progress line until its lifecycle row is terminal. */
  private async run(operation: 'mutate' | 'teardown' | 'heal', request: () => Promise<unknown>) {
    this.closeEditor();
    this.setBusy(true);
    const line = new ProgressLine(`${operation} ${this.decky.name}`);
    fill(this.progress, line.el);
    try {
      const { lifecycle_ids: ids } = (await request()) as { lifecycle_ids: string[] };
      this.watch = watchLifecycles(this.ctx.api, ids, (rows) => rows[0] && line.update(rows[0]));
      await this.watch.done;
    } catch (err) {
      line.fail(err instanceof ApiError && err.status === 409 ? `refused: ${err.message}` : errorMessage(err));
    }
    this.setBusy(false);
    this.refresh();
  }

  private openEditor() {
    this.editor.open();
    this.intervalButton.setAttribute('aria-expanded', 'true');
  }

  private closeEditor() {
    if (this.editor.el.hidden) return;
    const hadFocus = this.editor.el.contains(document.activeElement);
    this.editor.el.hidden = true;
    this.intervalButton.setAttribute('aria-expanded', 'false');
    if (hadFocus) this.intervalButton.focus();
  }

  private intervalSaved(res: MutateIntervalResponse) {
    this.closeEditor();
    const text = res.effective_interval === null ? 'Scheduled mutation is off.' : `Mutates every ${formatMinutes(res.effective_interval)}.`;
    fill(
      this.progress,
      h('li', { class: 'progress-line', 'data-status': 'succeeded' }, h('span', { class: 'badge' }, '[OK]'), ` interval of ${res.name}: ${text}`),
    );
    this.refresh();
  }
}

/** Inline editor of a decky's interval: whole minutes, or off. Sends exactly `{mutate_interval: minutes | null}`. */
class IntervalEditor {
  readonly el: HTMLFormElement;
  private readonly minutes: Field;
  private readonly off: Field;

  constructor(
    private readonly api: Api,
    private readonly decky: () => DeckyView,
    private readonly saved: (res: MutateIntervalResponse) => void,
    cancel: () => void,
  ) {
    this.minutes = inputField('Minutes between mutations', { type: 'number', min: 1, step: 1, required: true, inputmode: 'numeric', class: 'input-small' });
    this.off = checkboxField('No scheduled mutation', {});
    this.off.control.addEventListener('change', () => {
      this.minutes.control.disabled = this.off.control.checked;
      this.minutes.setError(null);
    });
    this.el = h(
      'form',
      { class: 'interval-editor', hidden: true, novalidate: true },
      this.minutes.el,
      this.off.el,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'button button-small button-primary' }, 'Save interval'),
        h('button', { type: 'button', class: 'button button-small', onclick: cancel }, 'Cancel'),
      ),
    );
    this.el.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') cancel();
    });
    this.el.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
  }

  open() {
    const d = this.decky();
    this.el.setAttribute('aria-label', `Mutation interval of ${d.name}`);
    this.off.control.checked = d.mutate_enabled === false;
    this.minutes.control.disabled = this.off.control.checked;
    this.minutes.control.value = String(d.mutate_interval ?? 30);
    this.minutes.setError(null);
    this.el.hidden = false;
    (this.off.control.checked ? this.off.control : this.minutes.control).focus();
  }

  private async save() {
    const off = this.off.control.checked;
    const minutes = Number(this.minutes.control.value);
    if (!off && (!Number.isInteger(minutes) || minutes < 1)) {
      this.minutes.setError('Give whole minutes (1 or more), or tick "No scheduled mutation".');
      this.minutes.focus();
      return;
    }
    try {
      const res = await this.api.put<MutateIntervalResponse>(`/deckies/${encodeURIComponent(this.decky().name)}/mutate-interval`, {
        mutate_interval: off ? null : minutes,
      });
      this.saved(res);
    } catch (err) {
      this.minutes.setError(errorMessage(err));
      this.minutes.focus();
    }
  }
}
