/** A modal confirmation (<dialog>): focus starts on Cancel, Escape cancels, the destructive choice is spelled out. */
import { h } from './dom';

interface DialogParts {
  title: string;
  message: string;
  confirmLabel: string;
  /** Between the message and the buttons (the typed confirmation's field). */
  extra?: HTMLElement;
  /** What has the focus first; Cancel when absent. */
  focus?: HTMLElement;
}

/** Opens the dialog; resolves true when it closes on the destructive button. */
function openDialog(parts: DialogParts, confirm: HTMLButtonElement): { dialog: HTMLDialogElement; closed: Promise<boolean> } {
  const cancel = h('button', { type: 'button', class: 'button', value: 'cancel' }, 'Cancel');
  const titleId = `dialog-title-${Date.now()}`;
  const dialog = h(
    'dialog',
    { class: 'confirm-dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, parts.title),
    h('p', {}, parts.message),
    parts.extra ?? '',
    h('div', { class: 'actions' }, cancel, confirm),
  );
  const closed = new Promise<boolean>((resolve) => {
    cancel.addEventListener('click', () => dialog.close('cancel'));
    confirm.addEventListener('click', () => dialog.close('confirm'));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
  });
  document.body.append(dialog);
  dialog.showModal();
  (parts.focus ?? cancel).focus();
  return { dialog, closed };
}

const dangerButton = (label: string, disabled = false) => h('button', { type: 'button', class: 'button button-danger', value: 'confirm', disabled }, label);

export function confirmDialog(opts: { title: string; message: string; confirmLabel: string }): Promise<boolean> {
  return openDialog(opts, dangerButton(opts.confirmLabel)).closed;
}

/**
 * A confirmation for what removes many things at once: the destructive button stays disabled until
 * one of `accepted` is typed (e.g. the fleet size, or "teardown 3").
 */
export function typedConfirmDialog(opts: { title: string; message: string; prompt: string; accepted: string[]; confirmLabel: string }): Promise<boolean> {
  const inputId = `dialog-input-${Date.now()}`;
  const input = h('input', { type: 'text', id: inputId, autocomplete: 'off', spellcheck: 'false', class: 'input-small' });
  const confirm = dangerButton(opts.confirmLabel, true);
  const matches = () => opts.accepted.includes(input.value.trim());
  const { dialog, closed } = openDialog(
    { ...opts, extra: h('div', { class: 'field' }, h('label', { for: inputId }, opts.prompt), input), focus: input },
    confirm,
  );
  input.addEventListener('input', () => (confirm.disabled = !matches()));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && matches()) dialog.close('confirm');
  });
  return closed;
}
