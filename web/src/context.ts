/** What every view gets: the signed-in API client, the catalogue, and navigation. */
import type { Api } from './api';
import type { Catalog } from './types';

export interface AppContext {
  api: Api;
  catalog: Catalog;
  navigate(path: string): void;
}

/** A view renders into `root` and returns what stops its timers when the operator leaves it. */
export type View = (root: HTMLElement, ctx: AppContext) => () => void;

/** The Temporal Web UI page of a workflow, or null when the master did not say where that UI is. */
export function workflowUrl(catalog: Catalog, workflowId: string): string | null {
  const ui = catalog.temporal_ui;
  if (!ui) return null;
  return `${ui.url.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
