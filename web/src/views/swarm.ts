/**
 * Swarm (architecture.md §8, §10): enroll an agent (name, master host, ipvlan instead of macvlan) → the
 * one-line install command with a countdown to its expiry; the hosts with status, heartbeat age,
 * the per-host ipvlan toggle and decommissioning.
 */
import { ApiError, errorMessage, isMissingRoute, type Api } from '../api';
import { confirmDialog } from '../confirm';
import type { View } from '../context';
import { countdown, fill, fillIfChanged, formatAge, formatTime, h } from '../dom';
import { alertBox, checkboxField, inputField, showFieldErrors, type Field } from '../forms';
import type { DriverMove, EnrollBundle, SwarmHost, SwarmHostsResponse } from '../types';

const REFRESH_MS = 5000;
const HOST_COLUMNS = ['Name', 'Address', 'Status', 'Last heartbeat', 'Agent', 'ipvlan', 'Notes', 'Actions'] as const;

export const swarmView: View = (root, ctx) => {
  const { api } = ctx;
  const timers: number[] = [];
  let left = false;

  // Enrollment.
  const agentName = inputField(
    'Agent name',
    { id: 'enroll-name', name: 'agent_name', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' },
    'A unique name for the host, e.g. lab-pi-2.',
  );
  const masterHost = inputField(
    'Master host',
    { id: 'enroll-master', name: 'master_host', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', value: location.hostname },
    'The address at which the agent reaches this master (its swarm port).',
  );
  const ipvlan = checkboxField(
    'Use ipvlan instead of macvlan',
    { id: 'enroll-ipvlan', name: 'use_ipvlan' },
    'For hosts on Wi-Fi or bridged VMs, where macvlan deckies get no traffic.',
  );
  const agentPort = inputField('Agent port (optional)', {
    id: 'enroll-port',
    name: 'agent_port',
    type: 'number',
    min: 1,
    max: 65535,
    placeholder: '8765',
    inputmode: 'numeric',
  });
  const fields: Record<string, Field> = { agent_name: agentName, master_host: masterHost, use_ipvlan: ipvlan, agent_port: agentPort };
  const enrollAlert = alertBox();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Create install command');
  const result = h('div', { class: 'enroll-result', hidden: true });
  const form = h(
    'form',
    { class: 'enroll-form', novalidate: true, 'aria-labelledby': 'enroll-title' },
    agentName.el,
    masterHost.el,
    ipvlan.el,
    agentPort.el,
    enrollAlert.el,
    h('div', { class: 'actions' }, submit),
  );

  // Hosts.
  const hostRows = new Map<string, HostRow>();
  const tbody = h('tbody');
  const hostsTable = h(
    'table',
    { class: 'data-table hosts-table', id: 'hosts-table' },
    h('caption', { class: 'visually-hidden' }, 'Swarm hosts'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        HOST_COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    tbody,
  );
  const hostsState = h('p', { class: 'empty' }, 'Loading hosts…');
  const hostsStatus = h('p', { class: 'refresh-status', role: 'status' });

  root.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'Swarm'),
      h('p', { class: 'lead' }, 'Enroll agents on other hosts; new deckies are spread round-robin over the live ones.'),
    ),
    h(
      'div',
      { class: 'swarm-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'enroll-title' }, h('h2', { id: 'enroll-title' }, 'Enroll an agent'), form, result),
    ),
    h(
      'section',
      { class: 'card table-card', 'aria-labelledby': 'hosts-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'hosts-title' }, 'Hosts'), hostsStatus),
      hostsTable,
      hostsState,
    ),
  );
  hostsTable.hidden = true;

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    enrollAlert.clear();
    for (const f of Object.values(fields)) f.setError(null);
    const body: Record<string, unknown> = {
      agent_name: agentName.control.value.trim(),
      master_host: masterHost.control.value.trim(),
      use_ipvlan: ipvlan.control.checked,
    };
    if (!body.agent_name) return invalid(agentName, 'Give the agent a name.');
    if (!body.master_host) return invalid(masterHost, 'Give the address of this master.');
    if (agentPort.control.value.trim()) {
      const port = Number(agentPort.control.value);
      if (!Number.isInteger(port) || port < 1 || port > 65535) return invalid(agentPort, 'Give a port from 1 to 65535, or leave it empty for 8765.');
      body.agent_port = port;
    }
    submit.disabled = true;
    try {
      showBundle(await api.post<EnrollBundle>('/swarm/enroll-bundle', body), String(body.agent_name));
      void refreshHosts();
    } catch (err) {
      showEnrollError(err);
    } finally {
      submit.disabled = false;
    }
  });

  function invalid(field: Field, message: string) {
    field.setError(message);
    field.focus();
  }

  function showEnrollError(err: unknown) {
    if (showFieldErrors(err, fields, enrollAlert)) return;
    if (isMissingRoute(err)) return enrollAlert.show('This master has no enrollment endpoint yet (POST /api/v1/swarm/enroll-bundle).');
    if (err instanceof ApiError && err.status === 409) return enrollAlert.show([h('strong', {}, 'Conflict: '), err.message]);
    enrollAlert.show([h('strong', {}, 'Enrollment failed: '), errorMessage(err)]);
  }

  let countdownTimer: number | undefined;
  function showBundle(bundle: EnrollBundle, name: string) {
    window.clearInterval(countdownTimer);
    const remaining = h('strong', { id: 'enroll-countdown-value' });
    const clock = h('p', { class: 'countdown', id: 'enroll-countdown', role: 'timer' }, 'Expires in ', remaining, ` (at ${formatTime(bundle.expires_at)}).`);
    const code = h('code', { id: 'enroll-command' }, bundle.command);
    const copied = h('span', { class: 'copied', role: 'status' });
    const copy = h('button', { type: 'button', class: 'button button-small' }, 'Copy command');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(bundle.command);
        copied.textContent = 'Copied.';
      } catch {
        // No clipboard (plain http on another host): select the command for Ctrl+C.
        getSelection()?.selectAllChildren(code);
        copied.textContent = 'Selected: press Ctrl+C.';
      }
    });
    fill(
      result,
      h('h3', { id: 'enroll-result-title', tabindex: '-1' }, `Install command for ${name}`),
      h('p', {}, 'Run it as root on the agent host:'),
      h('pre', { class: 'command', tabindex: '0', 'aria-labelledby': 'enroll-result-title' }, code),
      h('div', { class: 'actions' }, copy, copied),
      clock,
      h(
        'p',
        { class: 'note' },
        h('strong', {}, 'The bundle downloads once. '),
        'Its certificates and key are handed out to the first fetch only; if the install fails after that, create a new command.',
      ),
    );
    result.hidden = false;
    const tick = () => {
      const left = countdown(bundle.expires_at);
      if (left) remaining.textContent = left;
      else {
        window.clearInterval(countdownTimer);
        clock.classList.add('expired');
        fill(clock, h('strong', {}, 'Expired'), ` at ${formatTime(bundle.expires_at)}: create a new command.`);
      }
    };
    tick();
    countdownTimer = window.setInterval(tick, 1000);
    result.querySelector<HTMLElement>('h3')!.focus();
  }

  let hostsTimer: number | undefined;
  async function refreshHosts() {
    window.clearTimeout(hostsTimer);
    try {
      const body = await api.get<SwarmHostsResponse | SwarmHost[]>('/swarm/hosts');
      if (left) return;
      const hosts = Array.isArray(body) ? body : body.hosts;
      const masterVersion = Array.isArray(body) ? undefined : body.master_version;
      const seen = new Set<string>();
      hosts.forEach((host, i) => {
        seen.add(host.uuid);
        let row = hostRows.get(host.uuid);
        if (!row) hostRows.set(host.uuid, (row = new HostRow(api, () => void refreshHosts())));
        row.update(host, masterVersion);
        if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] ?? null);
      });
      for (const [uuid, row] of hostRows) {
        if (!seen.has(uuid)) {
          row.tr.remove();
          hostRows.delete(uuid);
        }
      }
      hostsTable.hidden = hosts.length === 0;
      hostsState.hidden = hosts.length > 0;
      hostsState.textContent = 'No hosts enrolled: this master deploys locally.';
      hostsStatus.textContent = `${hosts.length} host(s) · updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (left) return;
      hostsTable.hidden = hostRows.size === 0;
      hostsState.hidden = false;
      if (isMissingRoute(err)) {
        hostsState.textContent = 'This master has no swarm endpoints yet (GET /api/v1/swarm/hosts).';
        return; // nothing to poll
      }
      hostsState.textContent =
        err instanceof ApiError && err.status === 403 ? 'Listing hosts needs an admin token.' : `Could not load the hosts: ${errorMessage(err)}`;
      if (err instanceof ApiError && err.status === 403) return;
    }
    if (!left) hostsTimer = window.setTimeout(() => void refreshHosts(), REFRESH_MS);
  }
  void refreshHosts();
  // Heartbeat ages move every second between refreshes.
  timers.push(window.setInterval(() => hostRows.forEach((r) => r.tick()), 1000));

  return () => {
    left = true;
    window.clearTimeout(hostsTimer);
    window.clearInterval(countdownTimer);
    timers.forEach((t) => window.clearInterval(t));
  };
};

/** The agent's version; flagged when older than the master (or too old to say), `-` before its first heartbeat. */
function agentVersionCell(host: SwarmHost, masterVersion: string | undefined): Node {
  const version = host.agent_version ?? (host.agent_outdated ? 'unknown' : '-');
  if (!host.agent_outdated) return document.createTextNode(version);
  const older = masterVersion ? `older than this master (${masterVersion})` : 'older than this master';
  return h('span', {}, `${version} `, h('span', { class: 'state agent-outdated', title: `The agent runs ${version}, ${older}` }, 'outdated'));
}

class HostRow {
  readonly tr = h('tr');
  private host!: SwarmHost;
  private masterVersion?: string;
  private readonly cells: Record<(typeof HOST_COLUMNS)[number], HTMLTableCellElement>;
  private readonly toggle = h('input', { type: 'checkbox', class: 'ipvlan-toggle' });
  private readonly toggleLabel = h('label', { class: 'toggle' });
  private readonly decommission = h('button', { type: 'button', class: 'button button-small button-danger' }, 'Decommission');
  private readonly message = h('p', { class: 'row-message', role: 'status' });
  private saving = false;

  constructor(
    private readonly api: Api,
    private readonly refresh: () => void,
  ) {
    this.cells = Object.fromEntries(
      HOST_COLUMNS.map((c) => [c, h('td', { 'data-label': c, class: `col-${c.toLowerCase().replace(/ /g, '-')}` })]),
    ) as HostRow['cells'];
    this.toggleLabel.append(this.toggle, h('span', { class: 'toggle-text' }));
    this.cells.ipvlan.append(this.toggleLabel);
    this.cells.Actions.append(this.decommission, this.message);
    this.tr.append(...Object.values(this.cells));
    this.toggle.addEventListener('change', () => void this.setIpvlan(this.toggle.checked));
    this.decommission.addEventListener('click', () => void this.decommissionHost());
  }

  update(host: SwarmHost, masterVersion = this.masterVersion) {
    this.host = host;
    this.masterVersion = masterVersion;
    this.tr.dataset.host = host.name;
    const { cells } = this;
    fillIfChanged(cells.Agent, `${host.agent_version}|${host.agent_outdated}|${masterVersion}`, () => agentVersionCell(host, masterVersion));
    fillIfChanged(cells.Name, host.name, () => h('strong', {}, host.name));
    fillIfChanged(cells.Address, `${host.address}|${host.agent_port}`, () =>
      host.address ? h('code', {}, host.agent_port ? `${host.address}:${host.agent_port}` : host.address) : h('span', { class: 'sub' }, 'not yet known'),
    );
    fillIfChanged(cells.Status, host.status, () => h('span', { class: `state host-${host.status}` }, host.status));
    fillIfChanged(cells.Notes, host.notes ?? '', () => host.notes ?? '');
    const gone = host.status === 'decommissioned';
    if (!this.saving) this.toggle.checked = host.use_ipvlan;
    this.toggle.disabled = gone || this.saving;
    this.toggle.setAttribute('aria-label', `Use ipvlan instead of macvlan on ${host.name}`);
    this.toggleLabel.querySelector('.toggle-text')!.textContent = host.use_ipvlan ? 'ipvlan' : 'macvlan';
    this.toggleLabel.title = host.network_drivers
      ? `Its kernel supports: ${host.network_drivers.join(', ') || 'no LAN driver'}`
      : 'Its agent has not reported which drivers its kernel supports yet';
    this.decommission.disabled = gone;
    this.tick();
  }

  tick() {
    const age = formatAge(this.host.last_heartbeat);
    fillIfChanged(this.cells['Last heartbeat'], age, () =>
      this.host.last_heartbeat ? h('time', { datetime: this.host.last_heartbeat, title: formatTime(this.host.last_heartbeat) }, age) : age,
    );
  }

  private async setIpvlan(value: boolean) {
    this.saving = true;
    this.toggle.disabled = true;
    this.message.textContent = 'Saving…';
    try {
      const res = await this.api.patch<SwarmHost & Partial<DriverMove>>(`/swarm/hosts/${encodeURIComponent(this.host.uuid)}`, { use_ipvlan: value });
      this.host = { ...this.host, use_ipvlan: res.use_ipvlan };
      // 202: its deckies are being moved; the host switches once a move succeeded.
      this.message.textContent = res.lifecycle_ids
        ? `Moving ${res.lifecycle_ids.length} decky(ies) to ${res.moving_to}, base containers and IPs kept; the host says ${res.moving_to} once a move succeeded (the fleet page shows each decky's outcome).`
        : `Saved: ${this.host.use_ipvlan ? 'ipvlan' : 'macvlan'} from the next deploy on.`;
    } catch (err) {
      this.message.textContent = `Not saved: ${errorMessage(err)}`;
    }
    this.saving = false;
    this.update(this.host);
    this.toggle.focus();
    this.refresh();
  }

  private async decommissionHost() {
    const ok = await confirmDialog({
      title: `Decommission ${this.host.name}?`,
      message:
        'Its agent, if it answers, removes its deckies and stops taking jobs; then the master stops accepting it. Its deckies become orphans that the next deploy places on another host.',
      confirmLabel: `Decommission ${this.host.name}`,
    });
    if (!ok) return this.decommission.focus();
    this.decommission.disabled = true;
    try {
      const res = await this.api.delete<{ agent_cleanup: { message: string } | null }>(`/swarm/hosts/${encodeURIComponent(this.host.uuid)}`);
      this.message.textContent = res.agent_cleanup ? `Decommissioned: ${res.agent_cleanup.message}.` : 'Decommissioned.';
    } catch (err) {
      this.decommission.disabled = false;
      this.message.textContent = `Not decommissioned: ${errorMessage(err)}`;
    }
    this.refresh();
  }
}
