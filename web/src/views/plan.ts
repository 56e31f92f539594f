/**
 * The deploy plan in the wizard's Deploy step: the answer of POST /deckies/deploy?dry_run=true as
 * a table (name, IP, services, distro, host, driver), then what else the deploy moves. The same
 * validation and placement as the deploy, so the operator sees the IPs and hosts before clicking.
 */
import type { DeployPlan } from '../../../src/domain/schemas';
import { fill, h } from '../dom';

const COLUMNS = ['Name', 'IP', 'Services', 'Distro', 'Host', 'Driver'];

export interface PlanPanel {
  el: HTMLElement;
  loading(): void;
  show(plan: DeployPlan): void;
  /** The dry run was refused: the refusal shows where the deploy's would. */
  refused(): void;
  /** No dry run yet: the LAN is not set. */
  awaitingLan(): void;
}

export function planPanel(): PlanPanel {
  const status = h('p', { class: 'plan-status', role: 'status' });
  const body = h('div');
  const el = h(
    'section',
    { class: 'plan', id: 'deploy-plan', 'aria-labelledby': 'deploy-plan-title' },
    h('h3', { id: 'deploy-plan-title' }, 'Plan'),
    status,
    body,
  );
  return {
    el,
    loading() {
      status.textContent = 'Working out the IPs and hosts…';
      fill(body);
    },
    show(plan) {
      status.textContent = plan.message.replace(/^./, (c) => c.toUpperCase());
      fill(body, planTable(plan), planNotes(plan));
    },
    refused() {
      status.textContent = 'This deploy would be refused: see the message below.';
      fill(body);
    },
    awaitingLan() {
      status.textContent = 'The plan shows once the LAN above is set.';
      fill(body);
    },
  };
}

function planTable(plan: DeployPlan): HTMLTableElement {
  const cell = (label: string, ...content: (Node | string)[]) => h('td', { 'data-label': label }, ...content);
  return h(
    'table',
    { class: 'data-table plan-table', id: 'deploy-plan-table' },
    h('caption', { class: 'visually-hidden' }, 'Where each decky would go'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      plan.deckies.map((d) =>
        h(
          'tr',
          {},
          cell('Name', d.name),
          cell('IP', d.ip),
          cell('Services', d.services.join(', ')),
          cell('Distro', d.distro),
          cell('Host', d.host ? d.host.name : 'this master'),
          cell('Driver', d.driver, d.ipvlan_forced ? h('span', { class: 'sub' }, 'forced: the host uses ipvlan') : ''),
        ),
      ),
    ),
  );
}

function planNotes(plan: DeployPlan): HTMLElement | null {
  const notes = [
    ...plan.rehomed.map((r) => `${r.name} moves from swarm host ${r.from_host.name} to ${r.to_host.name} (its host is gone).`),
    ...(plan.teardowns.length ? [`Torn down: ${plan.teardowns.join(', ')}.`] : []),
    ...plan.warnings,
  ];
  return notes.length
    ? h(
        'ul',
        { class: 'notes plan-notes' },
        notes.map((n) => h('li', {}, n)),
      )
    : null;
}
