/**
 * The LAN the deckies join (GET/PUT /system/network), on the wizard's Deploy step. Configured: shown
 * read-only with a "Change LAN" button. Not configured: a form filled with what the master detected
 * on its host, which is used only once the operator clicks "Use this LAN" (nothing detected is
 * ever applied unseen). The API validates; its messages show next to the field they name.
 */
import { ApiError, errorMessage, type Api } from './api';
import { h } from './dom';
import { alertBox, checkboxField, inputField, showFieldErrors, type Field } from './forms';
import type { ConfiguredLan, LanSuggestion, SystemNetwork } from './types';

/** "eth0 · 192.168.1.0/24 · gateway 192.168.1.1 · macvlan" (and the address range when there is one). */
export function lanText(lan: ConfiguredLan): string {
  return [lan.interface, lan.subnet, `gateway ${lan.gateway}`, lan.ip_range ? `addresses from ${lan.ip_range}` : null, lan.driver].filter(Boolean).join(' · ');
}

export interface LanPanel {
  el: HTMLElement;
  /** Ask the API again, unless the operator is editing. */
  refresh(): void;
  /**
   * Whether a deploy may go: the LAN is set and its form is not open (once the reading in flight
   * is in). If not, says so in the panel and puts the focus where it is fixed.
   */
  confirmed(): Promise<boolean>;
  /** Whether a LAN is set (once the reading in flight is in); says nothing in the panel. */
  isSet(): Promise<boolean>;
}

type FieldName = 'interface' | 'subnet' | 'gateway' | 'ip_range' | 'driver';

export function createLanPanel(api: Api, opts: { onSaved?: () => void } = {}): LanPanel {
  let lan: ConfiguredLan | null = null;
  let editing = false;
  let loaded = false;
  let loading: Promise<void> = Promise.resolve();

  const iface = inputField(
    'Interface',
    { id: 'lan-interface', name: 'interface', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' },
    'The network card on the master host that is plugged into the LAN.',
  );
  const subnet = inputField(
    'Subnet',
    { id: 'lan-subnet', name: 'subnet', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '192.168.1.0/24' },
    'The LAN as its network address and prefix.',
  );
  const gateway = inputField(
    'Gateway',
    { id: 'lan-gateway', name: 'gateway', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '192.168.1.1' },
    "The LAN's router.",
  );
  const ipRange = inputField(
    'Address range (optional)',
    { id: 'lan-ip-range', name: 'ip_range', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '192.168.1.128/25' },
    'Hand out decky addresses only from this part of the subnet; empty for the whole subnet.',
  );
  const ipvlan = checkboxField(
    'Use ipvlan instead of macvlan',
    { id: 'lan-ipvlan', name: 'driver' },
    'For a master on Wi-Fi or in a bridged VM, where macvlan deckies get no traffic.',
  );
  const fields: Record<FieldName, Field> = { interface: iface, subnet, gateway, ip_range: ipRange, driver: ipvlan };

  const explanation = h('p', { class: 'hint lan-explanation', id: 'lan-explanation' });
  const intro = h('p', { id: 'lan-intro' });
  const alert = alertBox();
  const saved = h('p', { class: 'visually-hidden', role: 'status' });
  const useButton = h('button', { type: 'button', class: 'button button-primary', id: 'lan-use' }, 'Use this LAN');
  const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
  const change = h('button', { type: 'button', class: 'button button-small', id: 'lan-change' }, 'Change LAN');
  const summary = h('p', { class: 'lan-summary', id: 'lan-summary' });
  const shown = h('div', { class: 'lan-shown' }, summary, change);
  const form = h(
    'div',
    { class: 'lan-form' },
    intro,
    iface.el,
    subnet.el,
    gateway.el,
    ipRange.el,
    ipvlan.el,
    explanation,
    h('div', { class: 'actions' }, useButton, cancel),
  );
  const el = h(
    'section',
    { class: 'lan-panel', id: 'wizard-lan', 'aria-labelledby': 'lan-title' },
    h('h3', { id: 'lan-title' }, 'LAN'),
    shown,
    form,
    alert.el,
    saved,
  );

  const explain = () => {
    const name = iface.control.value.trim() || 'that interface';
    explanation.textContent = ipvlan.control.checked
      ? `With ipvlan on ${name}, each decky gets its own IP on that LAN but shares the MAC address of ${name}. The master itself cannot reach its deckies through ${name}; test them from another machine.`
      : `With macvlan on ${name}, each decky gets its own MAC address and IP on that LAN, like another machine plugged into it. The master itself cannot reach its deckies through ${name}; test them from another machine.`;
  };
  iface.control.addEventListener('input', explain);
  ipvlan.control.addEventListener('change', explain);
  for (const f of [iface, subnet, gateway, ipRange]) {
    // Enter here means "use this LAN", not "submit the wizard" (which would deploy).
    f.control.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      void save();
    });
  }

  function render() {
    shown.hidden = editing;
    form.hidden = !editing;
    change.hidden = cancel.hidden = !lan;
    if (lan) summary.textContent = lanText(lan);
  }

  function edit(values: { interface: string; subnet: string; gateway: string; ip_range?: string | null; driver?: string } | null, introText: string) {
    iface.control.value = values?.interface ?? '';
    subnet.control.value = values?.subnet ?? '';
    gateway.control.value = values?.gateway ?? '';
    ipRange.control.value = values?.ip_range ?? '';
    ipvlan.control.checked = values?.driver === 'ipvlan';
    for (const f of Object.values(fields)) f.setError(null);
    intro.textContent = introText;
    explain();
    editing = true;
    render();
  }

  function showNetwork(network: SystemNetwork) {
    if (network.configured) {
      lan = network;
      editing = false;
      return render();
    }
    lan = null;
    const s: LanSuggestion | undefined = network.suggestion;
    edit(
      s ?? null,
      s
        ? `No LAN is set yet. The master detected ${s.interface} (${s.subnet}, gateway ${s.gateway}) as its default route: check it, correct what is wrong, and use it.`
        : 'No LAN is set yet, and the master found no default route to suggest one: give the interface, subnet and gateway of the LAN the deckies join.',
    );
  }

  async function save() {
    alert.clear();
    for (const f of Object.values(fields)) f.setError(null);
    const body: Record<string, unknown> = {
      interface: iface.control.value.trim(),
      subnet: subnet.control.value.trim(),
      gateway: gateway.control.value.trim(),
      driver: ipvlan.control.checked ? 'ipvlan' : 'macvlan',
    };
    if (ipRange.control.value.trim()) body.ip_range = ipRange.control.value.trim();
    useButton.disabled = true;
    try {
      lan = await api.put<ConfiguredLan>('/system/network', body);
      editing = false;
      render();
      saved.textContent = `LAN set: ${lanText(lan)}.`;
      change.focus();
      opts.onSaved?.();
    } catch (err) {
      showError(err);
    } finally {
      useButton.disabled = false;
    }
  }

  function showError(err: unknown) {
    if (showFieldErrors(err, fields, alert)) return;
    if (err instanceof ApiError && err.status === 409) return alert.show([h('strong', {}, 'The LAN cannot change now: '), err.message]);
    if (err instanceof ApiError && err.status === 403)
      return alert.show([h('strong', {}, 'Not allowed: '), `${err.message}. Sign in with an admin token to set the LAN.`]);
    alert.show([h('strong', {}, 'The LAN was not saved: '), errorMessage(err)]);
  }

  function refresh() {
    if (editing) return;
    if (!loaded) summary.textContent = 'Checking the LAN…';
    loading = api.get<SystemNetwork>('/system/network').then(
      (network) => {
        loaded = true;
        showNetwork(network);
      },
      (err) => alert.show([h('strong', {}, 'Could not read the LAN: '), errorMessage(err)]),
    );
  }

  useButton.addEventListener('click', () => void save());
  change.addEventListener('click', () => {
    alert.clear();
    edit(lan, 'Change the LAN. It can change only while no decky is deployed.');
    iface.focus();
  });
  cancel.addEventListener('click', () => {
    alert.clear();
    editing = false;
    render();
    change.focus();
  });
  render();

  return {
    el,
    refresh,
    async isSet() {
      await loading;
      return lan !== null;
    },
    async confirmed() {
      await loading;
      if (lan !== null && !editing) return true;
      if (!loaded) return false; // the reading failed: the panel says why
      alert.show(
        lan
          ? 'Finish changing the LAN first: "Use this LAN", or Cancel to keep the current one.'
          : 'Set the LAN before deploying: check the values and click "Use this LAN".',
      );
      iface.focus();
      return false;
    },
  };
}
