/** A modal confirmation (<dialog>): focus starts on Cancel, Escape cancels, the destructive choice is spelled out. */
import { h } from './dom';

export function confirmDialog(opts: { title: string; message: string; confirmLabel: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', class: 'button', value: 'cancel' }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'button button-danger', value: 'confirm' }, opts.confirmLabel);
    const titleId = `dialog-title-${Date.now()}`;
    const dialog = h(
      'dialog',
      { class: 'confirm-dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, opts.title),
      h('p', {}, opts.message),
      h('div', { class: 'actions' }, cancel, confirm),
    );
    cancel.addEventListener('click', () => dialog.close('cancel'));
    confirm.addEventListener('click', () => dialog.close('confirm'));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * A confirmation for what removes many things at once: the destructive button stays disabled until
 * one of `accepted` is typed (e.g. the fleet size, or "teardown 3").
 */
export function typedConfirmDialog(opts: { title: string; message: string; prompt: string; accepted: string[]; confirmLabel: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const inputId = `dialog-input-${Date.now()}`;
    const input = h('input', { type: 'text', id: inputId, autocomplete: 'off', spellcheck: 'false', class: 'input-small' });
    const cancel = h('button', { type: 'button', class: 'button', value: 'cancel' }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'button button-danger', value: 'confirm', disabled: true }, opts.confirmLabel);
    const titleId = `dialog-title-${Date.now()}`;
    const matches = () => opts.accepted.includes(input.value.trim());
    const dialog = h(
      'dialog',
      { class: 'confirm-dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, opts.title),
      h('p', {}, opts.message),
      h('div', { class: 'field' }, h('label', { for: inputId }, opts.prompt), input),
      h('div', { class: 'actions' }, cancel, confirm),
    );
    input.addEventListener('input', () => (confirm.disabled = !matches()));
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && matches()) dialog.close('confirm');
    });
    cancel.addEventListener('click', () => dialog.close('cancel'));
    confirm.addEventListener('click', () => dialog.close('confirm'));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}
