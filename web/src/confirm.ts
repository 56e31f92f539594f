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
