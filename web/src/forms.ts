/**
 * Labelled form controls with a hint and an error slot each, so that an error (the browser's, or
 * the API's for the field it names) shows next to the field and is announced with it.
 */
import { fill, h, newId, type Attrs, type Child } from './dom';
import { ApiError } from './api';

export interface ErrorTarget {
  /** Show (or, with null, clear) the error next to the control. */
  setError(message: string | null): void;
  /** Where focus goes to fix the error. */
  focus(): void;
}

export interface Field<E extends HTMLElement = HTMLInputElement> extends ErrorTarget {
  el: HTMLElement;
  control: E;
}

function errorSlot(id: string): HTMLParagraphElement {
  return h('p', { class: 'field-error', id, hidden: true });
}

function wireError(slot: HTMLElement, invalidOn: HTMLElement[], focusable: HTMLElement): ErrorTarget {
  return {
    setError(message) {
      slot.textContent = message ?? '';
      slot.hidden = !message;
      for (const el of invalidOn) {
        if (message) el.setAttribute('aria-invalid', 'true');
        else el.removeAttribute('aria-invalid');
      }
    },
    focus: () => focusable.focus(),
  };
}

/** <label> + <input> + hint + error, linked by id and aria-describedby. */
export function inputField(label: string, attrs: Attrs, hint?: Child): Field {
  const id = (attrs.id as string | undefined) ?? newId('f');
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const control = h('input', { ...attrs, id, 'aria-describedby': [hint ? hintId : null, errorId].filter(Boolean).join(' ') });
  const slot = errorSlot(errorId);
  const el = h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint', id: hintId }, hint) : null, slot);
  const target = wireError(slot, [control], control);
  control.addEventListener('input', () => target.setError(null));
  return { el, control, ...target };
}

/** A checkbox with its label beside it. */
export function checkboxField(label: Child, attrs: Attrs, hint?: Child): Field {
  const id = (attrs.id as string | undefined) ?? newId('c');
  const hintId = `${id}-hint`;
  const control = h('input', { ...attrs, id, type: 'checkbox', 'aria-describedby': hint ? hintId : null });
  const slot = errorSlot(`${id}-error`);
  const el = h(
    'div',
    { class: 'field field-check' },
    h('div', { class: 'check-row' }, control, h('label', { for: id }, label)),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    slot,
  );
  return { el, control, ...wireError(slot, [control], control) };
}

/**
 * A <fieldset> of choices (radios or checkboxes): the legend labels the group, the error slot sits
 * under it; `first()` is where focus goes to fix the error.
 */
export function choiceGroup(
  legend: string,
  hint: Child | null,
  choices: HTMLElement,
  first: () => HTMLElement | null,
  opts: { legendHidden?: boolean } = {},
): ErrorTarget & { el: HTMLFieldSetElement } {
  const id = newId('g');
  const slot = errorSlot(`${id}-error`);
  const el = h(
    'fieldset',
    { class: 'choice-group', 'aria-describedby': [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' ') },
    h('legend', { class: opts.legendHidden ? 'visually-hidden' : null }, legend),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    choices,
    slot,
  );
  const target = wireError(slot, [el], el);
  return { el, ...target, focus: () => first()?.focus() };
}

/** An alert box: role=alert so it is announced when filled; hidden when empty. */
export function alertBox(kind: 'error' | 'info' = 'error'): { el: HTMLDivElement; show(content: Child): void; clear(): void } {
  const el = h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status', hidden: true });
  return {
    el,
    show(content) {
      fill(el, content);
      el.hidden = false;
    },
    clear() {
      el.replaceChildren();
      el.hidden = true;
    },
  };
}

/**
 * A 400 whose details name fields (zod issues: `path`, `message`): each message next to its field,
 * the focus on the first, the rest in the alert. False when the error is not such a 400.
 */
export function showFieldErrors(err: unknown, fields: Record<string, Field>, alert: { show(content: Child): void }): boolean {
  if (!(err instanceof ApiError && err.status === 400 && Array.isArray(err.details))) return false;
  const loose: string[] = [];
  let first: Field | null = null;
  for (const d of err.details as { path?: string; message?: string }[]) {
    const field = fields[(d.path ?? '').split('.')[0]];
    if (field) {
      field.setError(d.message ?? err.message);
      first ??= field;
    } else loose.push(d.message ?? err.message);
  }
  first?.focus();
  if (loose.length) alert.show(loose.join('; '));
  return true;
}
