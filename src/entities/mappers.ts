/** Entity ↔ wire shapes, so routes and activities agree on one representation. */
import type { DeckySpec, DeckyView, LifecycleRow } from '../domain/schemas';
import type { Decky } from './decky';
import type { DeckyLifecycle } from './decky-lifecycle';

export function deckyToSpec(d: Decky): DeckySpec {
  return {
    name: d.name,
    ip: d.ip,
    services: d.services,
    archetype: d.archetype,
    distro: d.distro,
    base_image: d.baseImage,
    hostname: d.hostname,
    nmap_os: d.nmapOs,
    service_config: d.serviceConfig,
    mutate_interval: d.mutateInterval,
    custom_services: d.customServices,
  };
}

export function specToDeckyFields(spec: DeckySpec): Partial<Decky> {
  return {
    name: spec.name,
    ip: spec.ip,
    services: spec.services,
    archetype: spec.archetype,
    distro: spec.distro,
    baseImage: spec.base_image,
    hostname: spec.hostname,
    nmapOs: spec.nmap_os,
    serviceConfig: spec.service_config,
    mutateInterval: spec.mutate_interval,
    customServices: spec.custom_services,
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function lifecycleToRow(l: DeckyLifecycle): LifecycleRow {
  return {
    id: l.id,
    decky_name: l.deckyName,
    host_uuid: l.hostUuid,
    operation: l.operation,
    trigger: l.trigger,
    status: l.status,
    error: l.error,
    steps: l.steps,
    workflow_id: l.workflowId,
    run_id: l.runId,
    network_driver: l.networkDriver,
    started_at: l.startedAt.toISOString(),
    updated_at: l.updatedAt.toISOString(),
    completed_at: iso(l.completedAt),
  };
}

/** The wire shape of DeckyViewSchema (the OpenAPI document's DeckyView). */
export function deckyToView(d: Decky, lastLifecycle?: DeckyLifecycle | null): DeckyView {
  return {
    ...deckyToSpec(d),
    mutate_enabled: d.mutateEnabled,
    host_uuid: d.hostUuid,
    state: d.state,
    last_error: d.lastError,
    auto_heal: d.autoHeal,
    last_mutated: iso(d.lastMutated),
    last_seen: iso(d.lastSeen),
    created_at: d.createdAt.toISOString(),
    last_lifecycle: lastLifecycle ? lifecycleToRow(lastLifecycle) : null,
  };
}
