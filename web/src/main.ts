/**
 * The decnet console: sign in with an API token, then the deploy wizard, the fleet and the swarm
 * screens, routed by path (/deploy, /fleet, /swarm; the API serves index.html for each).
 */
import { Api, ApiError, errorMessage } from './api';
import type { AppContext, View } from './context';
import { h } from './dom';
import { session } from './session';
import type { Catalog } from './types';
import { signInView } from './views/signin';
import { fleetView } from './views/fleet';
import { swarmView } from './views/swarm';
import { wizardView } from './views/wizard';

const ROUTES: { path: string; label: string; title: string; view: View }[] = [
  { path: '/deploy', label: 'Deploy', title: 'Deploy deckies', view: wizardView },
  { path: '/fleet', label: 'Fleet', title: 'Fleet', view: fleetView },
  { path: '/swarm', label: 'Swarm', title: 'Swarm hosts', view: swarmView },
];

const app = document.getElementById('app')!;
let leaveView: (() => void) | null = null;

function routeFor(pathname: string) {
  return ROUTES.find((r) => r.path === pathname) ?? ROUTES[0];
}

function signOut(notice?: string): void {
  leaveView?.();
  leaveView = null;
  window.onpopstate = null;
  session.clear();
  showSignIn(notice);
}

function showSignIn(notice?: string): void {
  document.title = 'Sign in · decnet';
  signInView(app, {
    notice,
    async signIn(token) {
      const api = new Api(token);
      const catalog = await api.get<Catalog>('/catalog'); // any viewer route proves the token
      session.save(token);
      startConsole(token, catalog);
    },
  });
}

function startConsole(token: string, catalog: Catalog): void {
  const api = new Api(token, () => signOut('The API no longer accepts this token: sign in again.'));
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' });
  const links = ROUTES.map((r) => h('a', { href: r.path, 'data-path': r.path }, r.label));
  nav.append(...links);
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const header = h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'topbar-inner' },
      h('a', { class: 'brand', href: '/deploy' }, 'decnet'),
      nav,
      h('button', { type: 'button', class: 'button button-quiet', onclick: () => signOut() }, 'Sign out'),
    ),
  );
  const shell = h('div', { class: 'shell' }, h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'), header, main);
  app.replaceChildren(shell);

  const ctx: AppContext = { api, catalog, navigate };
  function render(focus: boolean) {
    const route = routeFor(location.pathname);
    if (location.pathname !== route.path) history.replaceState(null, '', route.path);
    for (const link of links) {
      if (link.dataset.path === route.path) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${route.title} · decnet`;
    leaveView?.();
    main.replaceChildren();
    leaveView = route.view(main, ctx);
    // After a navigation, start reading at the new screen's heading.
    if (focus) (main.querySelector<HTMLElement>('h1') ?? main).focus();
  }
  function navigate(path: string) {
    if (path !== location.pathname) history.pushState(null, '', path);
    render(true);
  }
  // Links inside the console change screens without a reload (a modified click still opens a tab).
  shell.addEventListener('click', (event: MouseEvent) => {
    const link = (event.target as Element).closest('a[href^="/"]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(link.getAttribute('href')!);
  });
  window.onpopstate = () => render(true);
  render(false);
}

async function boot(): Promise<void> {
  const token = session.token();
  if (!token) return showSignIn();
  try {
    startConsole(token, await new Api(token).get<Catalog>('/catalog'));
  } catch (err) {
    session.clear();
    showSignIn(
      err instanceof ApiError && err.status === 401 ? 'Your token is no longer valid: sign in again.' : `Could not reach the API: ${errorMessage(err)}`,
    );
  }
}

void boot();
