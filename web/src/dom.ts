/** A tiny element builder and the formatting the views share. No framework: plain DOM. */

type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue | ((event: Event) => void)>;
export type Child = Node | string | number | null | undefined | false | Child[];

/** h('button', {type: 'button', onclick: fn, disabled: true}, 'Save'): `on*` keys add listeners, `true` sets a bare attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `el`. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/**
 * Refill `el` only when `key` differs from what it shows: periodic refreshes then leave alone the
 * cells that did not change (and the focus, selection or open disclosure inside them).
 */
export function fillIfChanged(el: HTMLElement, key: string, render: () => Child): void {
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  fill(el, render());
}

let uid = 0;
/** A unique element id with a readable prefix. */
export const newId = (prefix: string) => `${prefix}-${++uid}`;

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** "12 s ago", "4 min ago", "3 h ago", "2 d ago"; "never" for null. */
export function formatAge(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

export function formatTime(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '–';
}

/** 30 → "30 min", 90 → "1 h 30 min", 2880 → "2 d". */
export function formatMinutes(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const hrs = Math.floor((minutes % 1440) / 60);
  const min = minutes % 60;
  return [d && `${d} d`, hrs && `${hrs} h`, min && `${min} min`].filter(Boolean).join(' ') || '0 min';
}

/** m:ss until `iso`, or null once it has passed. */
export function countdown(iso: string, now = Date.now()): string | null {
  const left = Math.ceil((Date.parse(iso) - now) / 1000);
  if (left <= 0) return null;
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}
