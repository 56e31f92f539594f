/** The deploy plan as the operator commands print it: one table row per decky, then what else moves. */
import type { DeployPlan } from '../domain/schemas';
import { formatTable } from './output';

export function formatPlan(plan: DeployPlan): string {
  const { network } = plan;
  const lan = `LAN ${network.subnet} (gateway ${network.gateway}) on ${network.interface}${network.ip_range ? `, IPs from ${network.ip_range}` : ''}\n`;
  const table = formatTable(
    ['NAME', 'IP', 'SERVICES', 'DISTRO', 'HOST', 'DRIVER'],
    plan.deckies.map((d) => [
      d.name,
      d.ip,
      d.services.join(','),
      d.distro,
      d.host ? d.host.name : 'master',
      d.ipvlan_forced ? `${d.driver} (forced: the host uses ipvlan)` : d.driver,
    ]),
  );
  const moves = [
    ...plan.rehomed.map((r) => `re-homed: ${r.name} from swarm host "${r.from_host.name}" to "${r.to_host.name}"\n`),
    ...(plan.teardowns.length ? [`torn down: ${plan.teardowns.join(', ')}\n`] : []),
  ];
  return lan + table + moves.join('') + formatWarnings(plan);
}

/** What the definition holds but the deploy skips (e.g. an INI subsection of an undefined decky). */
export function formatWarnings(plan: Pick<DeployPlan, 'warnings'>): string {
  return plan.warnings.map((w) => `warning: ${w}\n`).join('');
}
