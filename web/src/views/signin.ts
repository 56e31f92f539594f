/** Sign in with an API token (`decnet token create`, or the one `decnet up` printed). */
import { ApiError, errorMessage } from '../api';
import { h } from '../dom';
import { alertBox, inputField } from '../forms';

export function signInView(root: HTMLElement, opts: { notice?: string; signIn(token: string): Promise<void> }): void {
  const token = inputField(
    'API token',
    { id: 'signin-token', name: 'token', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false' },
    'An admin token may deploy and change things; a viewer token may only look. Kept for this browser tab only.',
  );
  const alert = alertBox();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Sign in');
  const form = h('form', { class: 'signin-form', novalidate: true }, token.el, alert.el, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    const value = token.control.value.trim();
    if (!value) {
      token.setError('Paste an API token.');
      token.focus();
      return;
    }
    submit.disabled = true;
    try {
      await opts.signIn(value);
    } catch (err) {
      submit.disabled = false;
      if (err instanceof ApiError && err.status === 401) {
        token.setError('The API does not accept this token.');
        token.focus();
      } else {
        alert.show(`Sign-in failed: ${errorMessage(err)}`);
      }
    }
  });
  const notice = opts.notice ? h('p', { class: 'alert alert-info', role: 'status' }, opts.notice) : null;
  root.replaceChildren(
    h(
      'main',
      { class: 'signin', id: 'main' },
      h(
        'section',
        { class: 'card signin-card', 'aria-labelledby': 'signin-title' },
        h('h1', { id: 'signin-title' }, 'decnet console'),
        h('p', { class: 'lead' }, 'Sign in with an API token.'),
        notice,
        form,
      ),
    ),
  );
  token.control.focus();
}
