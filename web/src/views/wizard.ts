/**
 * The deploy wizard (architecture.md §10): archetype → configuration → mutation → deploy. Before the deploy
 * button it shows the LAN (set right there on a fresh install: lan-panel.ts), where the deploy
 * goes (GET /system/deployment-mode) and the plan of a dry run (IPs, hosts, drivers; the Deploy
 * button waits for it); after the 202 it shows one line per decky that turns [OK] or [FAIL] as
 * its lifecycle row finishes. The API's validation
 * errors appear next to the field they name. "Add another group" keeps the group just configured
 * and starts a new one, so one deploy can mix kinds of deckies (like the INI file's sections).
 */
import { ApiError, errorMessage, type Api } from '../api';
import type { View } from '../context';
import { fill, formatMinutes, h, newId } from '../dom';
import { alertBox, checkboxField, choiceGroup, inputField, type ErrorTarget } from '../forms';
import { createLanPanel } from '../lan-panel';
import { ProgressLine, watchLifecycles, type Watch } from '../lifecycle';
import type { DeployResponse, DeploymentMode, ErrorDetails, SystemLimits } from '../types';
import type { DeployPlan } from '../../../src/domain/schemas';
import { planPanel } from './plan';

const STEPS = ['Archetype', 'Configuration', 'Mutation', 'Deploy'] as const;
type FieldKey = 'archetype' | 'name' | 'count' | 'services' | 'interval';
const STEP_OF: Record<FieldKey, number> = { archetype: 0, name: 1, count: 1, services: 1, interval: 2 };
const MAX_COUNT = 50;
const INTERVAL = { min: 5, max: 240, default: 30 };

/** One group of the deploy: the request for it and what the review and the progress need. */
interface Group {
  request: Record<string, unknown>;
  names: string[];
  mutationOff: boolean;
  text: string;
}

/** Which group (`deckies.N`) and which wizard field an API error path names (`deckies.0.name`, ['deckies', 0, 'services', 1], …). */
export function fieldOf(path: string | (string | number)[] | undefined): { group: number; field: FieldKey | null } | null {
  const joined = Array.isArray(path) ? path.join('.') : (path ?? '');
  const match = /^deckies\.(\d+)(?:\.([a-z_]+))?/.exec(joined);
  if (!match) return null;
  return { group: Number(match[1]), field: fieldKey(match[2]) };
}

function fieldKey(property: string | undefined): FieldKey | null {
  switch (property) {
    case 'name':
    case 'hostname':
      return 'name';
    case 'amount':
      return 'count';
    case 'services':
      return 'services';
    case 'archetype':
      return 'archetype';
    case 'mutate_interval':
      return 'interval';
    default:
      return null;
  }
}

/** The (group, field, message) of each issue of a 400; a null group or field means "not a field of the wizard". */
function fieldErrors(err: ApiError): { group: number | null; field: FieldKey | null; message: string }[] {
  const details = err.details as ErrorDetails;
  const issues: { path?: string | (string | number)[]; message: string }[] = Array.isArray(details)
    ? details.map((d: { path?: string; message?: string }) => ({ path: d.path, message: d.message ?? err.message }))
    : details && typeof details === 'object'
      ? [{ path: (details as { path?: (string | number)[] }).path, message: err.message }]
      : [{ message: err.message }];
  return issues.map((issue) => {
    const at = fieldOf(issue.path);
    return { group: at?.group ?? null, field: at?.field ?? null, message: issue.message };
  });
}

export function deckyNames(prefix: string, count: number): string[] {
  if (count <= 1) return [prefix];
  const width = count > 99 ? 3 : 2;
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(width, '0')}`);
}

export const wizardView: View = (root, ctx) => {
  const { api, catalog } = ctx;
  const ports = new Map(catalog.services.map((s) => [s.name, s.ports]));
  const serviceText = (name: string) => `${name} (${(ports.get(name) ?? []).join(', ')})`;
  let step = 0;
  let watch: Watch | null = null;
  /** Groups kept by "Add another group"; the one being edited is not in it. */
  const groups: Group[] = [];

  // Step 1: archetype.
  const radios: HTMLInputElement[] = [];
  const archetypeChoices = h('div', { class: 'choice-grid' });
  const addArchetype = (value: string, title: string, ...body: (Node | string)[]) => {
    const id = newId('archetype');
    const input = h('input', { type: 'radio', name: 'archetype', value, id });
    radios.push(input);
    archetypeChoices.append(
      h('label', { class: 'choice', for: id }, input, h('span', { class: 'choice-body' }, h('strong', { class: 'choice-title' }, title), ...body)),
    );
  };
  for (const a of catalog.archetypes) {
    addArchetype(
      a.name,
      a.name,
      h('span', { class: 'choice-meta' }, `looks like ${a.nmap_os}`),
      h(
        'ul',
        { class: 'service-list', 'aria-label': `Services of ${a.name}` },
        a.services.map((s) => h('li', {}, serviceText(s))),
      ),
    );
  }
  addArchetype('', 'No archetype', h('span', { class: 'choice-meta' }, 'Choose services in the next step, or let the deployer pick 1–3 at random.'));
  radios[0].checked = true;
  const archetype = choiceGroup(
    'Archetype',
    'What kind of machine the deckies pretend to be; each lists the services it exposes, with their ports.',
    archetypeChoices,
    () => radios.find((r) => r.checked) ?? radios[0],
    { legendHidden: true }, // the step's heading says it already
  );
  const selectedArchetype = () => catalog.archetypes.find((a) => a.name === radios.find((r) => r.checked)?.value) ?? null;

  // Step 2: configuration.
  const name = inputField(
    'Name prefix',
    { id: 'wizard-name', name: 'name', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: 'e.g. ws' },
    'Lower-case letters, digits and dashes. With a count above 1 the deckies are named prefix-01, prefix-02, …',
  );
  const count = inputField(
    'Count',
    { id: 'wizard-count', name: 'count', type: 'number', min: 1, max: MAX_COUNT, step: 1, value: 1, required: true, inputmode: 'numeric' },
    `1 to ${MAX_COUNT} deckies.`,
  );
  const serviceBoxes = catalog.services.map((s) => {
    const input = h('input', { type: 'checkbox', name: 'services', value: s.name, id: `wizard-service-${s.name}` });
    return { input, el: h('label', { class: 'chip', for: input.id }, input, h('span', {}, s.name), h('span', { class: 'ports' }, s.ports.join(', '))) };
  });
  const servicesHint = h('span');
  const services = choiceGroup(
    'Services (optional)',
    servicesHint,
    h(
      'div',
      { class: 'chip-grid' },
      serviceBoxes.map((b) => b.el),
    ),
    () => serviceBoxes[0]?.input ?? null,
  );
  for (const box of serviceBoxes) box.input.addEventListener('change', () => services.setError(null));
  const preview = h('p', { class: 'preview', 'aria-live': 'polite' });
  const selectedServices = () => serviceBoxes.filter((b) => b.input.checked).map((b) => b.input.value);
  const countValue = () => Number(count.control.value);
  const updatePreview = () => {
    const a = selectedArchetype();
    servicesHint.textContent = a
      ? `Leave them all unchecked to use the archetype's services (${a.services.join(', ')}); checked ones replace them.`
      : 'Leave them all unchecked to get 1–3 random services per decky.';
    const prefix = name.control.value.trim();
    const n = countValue();
    if (!prefix || !Number.isInteger(n) || n < 1 || n > MAX_COUNT) {
      preview.textContent = '';
      return;
    }
    const names = deckyNames(prefix, n);
    preview.textContent = `Will create ${names.length === 1 ? names[0] : `${names.slice(0, 4).join(', ')}${names.length > 4 ? `, … ${names.at(-1)}` : ''}`}.`;
  };
  name.control.addEventListener('input', updatePreview);
  count.control.addEventListener('input', updatePreview);
  for (const r of radios) r.addEventListener('change', () => archetype.setError(null));

  // Step 3: mutation.
  const mutate = checkboxField(
    'Mutate these deckies on a schedule',
    { id: 'wizard-mutate', name: 'mutate', checked: true },
    'A mutation swaps the services a decky exposes, so a scanner that mapped it sees another machine next time.',
  );
  const interval = inputField(
    'Interval (minutes)',
    {
      id: 'wizard-interval',
      name: 'interval',
      type: 'number',
      min: INTERVAL.min,
      max: INTERVAL.max,
      step: 1,
      value: INTERVAL.default,
      required: true,
      inputmode: 'numeric',
    },
    `${INTERVAL.min} to ${INTERVAL.max} minutes between mutations; default ${INTERVAL.default}.`,
  );
  mutate.control.addEventListener('change', () => {
    interval.control.disabled = !mutate.control.checked;
    interval.setError(null);
  });

  // Step 4: review, deployment mode, deploy.
  const summary = h('dl', { class: 'summary' });
  const otherGroups = h('div', { class: 'other-groups' });
  const addGroup = h('button', { type: 'button', class: 'button', id: 'wizard-add-group' }, 'Add another group');
  const modeBanner = h('p', { class: 'mode-banner', role: 'status', id: 'deployment-mode' }, 'Checking where the deckies would go…');
  const plan = planPanel();
  // A LAN saved on a fresh install is what the refused plan was waiting for.
  const lanPanel = createLanPanel(api, { onSaved: () => void previewPlan() });
  const alert = alertBox();

  const fields: Record<FieldKey, ErrorTarget> = { archetype, name, count, services, interval };
  const sections = [
    [archetype.el],
    [name.el, count.el, deckyUsage(api), services.el, preview],
    [mutate.el, interval.el],
    [summary, otherGroups, h('div', { class: 'actions' }, addGroup), lanPanel.el, modeBanner, plan.el],
  ].map((content, i) =>
    h(
      'section',
      { class: 'wizard-step', 'aria-labelledby': `wizard-step-${i}`, hidden: i !== 0 },
      h('h2', { id: `wizard-step-${i}`, tabindex: '-1' }, `${i + 1}. ${STEPS[i]}`),
      ...content,
    ),
  );
  const stepper = h(
    'ol',
    { class: 'stepper', 'aria-label': 'Steps' },
    STEPS.map((s) => h('li', {}, s)),
  );
  const back = h('button', { type: 'button', class: 'button' }, 'Back');
  const next = h('button', { type: 'submit', class: 'button button-primary', id: 'wizard-next' }, 'Next');
  const form = h(
    'form',
    { class: 'wizard card', novalidate: true, 'aria-labelledby': 'wizard-title' },
    stepper,
    ...sections,
    alert.el,
    h('div', { class: 'actions' }, back, next),
  );
  const progress = h('section', { class: 'card progress', 'aria-labelledby': 'progress-title', hidden: true });
  root.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', { id: 'wizard-title', tabindex: '-1' }, 'Deploy deckies'),
      h('p', { class: 'lead' }, 'Put new decoy hosts on the network.'),
    ),
    form,
    progress,
  );

  function show(target: number, focus = true) {
    step = target;
    sections.forEach((s, i) => (s.hidden = i !== step));
    [...stepper.children].forEach((li, i) => {
      li.className = i < step ? 'done' : '';
      if (i === step) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    });
    back.hidden = step === 0;
    next.textContent = step === STEPS.length - 1 ? 'Deploy' : 'Next';
    next.disabled = false;
    planTicket++; // a plan still on its way is for a step left behind
    if (step === 1) updatePreview();
    if (step === STEPS.length - 1) enterReview();
    if (focus) sections[step].querySelector('h2')!.focus();
  }

  /** The checks the API cannot make for the wizard: its own ranges. The API checks the rest. */
  function validate(current: number): boolean {
    if (current === 1) {
      if (!name.control.value.trim()) return invalid(name, 'Give a name prefix.');
      const n = countValue();
      if (!Number.isInteger(n) || n < 1 || n > MAX_COUNT) return invalid(count, `Give a whole number from 1 to ${MAX_COUNT}.`);
    }
    if (current === 2 && mutate.control.checked) {
      const m = Number(interval.control.value);
      if (!Number.isInteger(m) || m < INTERVAL.min || m > INTERVAL.max) return invalid(interval, `Give whole minutes from ${INTERVAL.min} to ${INTERVAL.max}.`);
    }
    return true;
  }
  function invalid(field: ErrorTarget, message: string): false {
    field.setError(message);
    field.focus();
    return false;
  }

  /** The group being edited, as the API wants it. */
  function currentGroup(): Group {
    const a = selectedArchetype();
    const explicit = selectedServices();
    const prefix = name.control.value.trim();
    const request: Record<string, unknown> = { name: prefix, amount: countValue() };
    if (a) request.archetype = a.name;
    if (explicit.length) request.services = explicit;
    const mutationOff = !mutate.control.checked;
    if (!mutationOff) request.mutate_interval = Number(interval.control.value);
    const names = deckyNames(prefix, countValue());
    const servicesText = explicit.length ? explicit.join(', ') : a ? `${a.services.join(', ')} (the archetype's)` : '1–3 picked at random per decky';
    const mutationText = mutationOff ? 'off' : `every ${formatMinutes(Number(interval.control.value))}`;
    return {
      request,
      names,
      mutationOff,
      text: `${names.length > 3 ? `${names[0]} … ${names.at(-1)}` : names.join(', ')}: ${a ? a.name : 'no archetype'}; services ${servicesText}; mutation ${mutationText}`,
    };
  }

  function enterReview() {
    alert.clear();
    const group = currentGroup();
    const a = selectedArchetype();
    const names = group.names;
    const row = (term: string, value: string) => [h('dt', {}, term), h('dd', {}, value)];
    fill(
      summary,
      row('Archetype', a ? a.name : 'none'),
      row('Deckies', `${names.length}: ${names.length > 6 ? `${names.slice(0, 5).join(', ')}, … ${names.at(-1)}` : names.join(', ')}`),
      row(
        'Services',
        (group.request.services as string[] | undefined)?.join(', ') ?? (a ? `${a.services.join(', ')} (the archetype's)` : '1–3 picked at random per decky'),
      ),
      row('Mutation', group.mutationOff ? 'off' : `every ${formatMinutes(Number(interval.control.value))}`),
    );
    renderOtherGroups();
    lanPanel.refresh();
    modeBanner.className = 'mode-banner';
    modeBanner.textContent = 'Checking where the deckies would go…';
    api.get<DeploymentMode>('/system/deployment-mode').then(
      (mode) => {
        modeBanner.className = `mode-banner mode-${mode.mode}`;
        fill(modeBanner, h('strong', {}, mode.mode === 'swarm' ? 'Swarm: ' : 'Unihost: '), `this master ${mode.message}.`);
      },
      (err) => {
        modeBanner.className = 'mode-banner mode-unknown';
        modeBanner.textContent = `Could not ask where the deckies would go: ${errorMessage(err)}`;
      },
    );
    void previewPlan();
  }

  /** The deploy's request: every kept group and the one being edited. */
  function deployRequest(): { groups: Group[]; body: Record<string, unknown> } {
    const all = [...groups, currentGroup()];
    return { groups: all, body: { deckies: all.map((g) => g.request) } };
  }

  let planTicket = 0;
  /** The dry run of this deploy; Deploy stays disabled until it answers a plan, and while it refuses. */
  async function previewPlan() {
    const ticket = ++planTicket;
    next.disabled = true;
    plan.loading();
    // On a fresh install the dry run could only say that the LAN is missing, which the LAN panel
    // already asks for; Deploy stays clickable so that it points there.
    if (!(await lanPanel.isSet())) {
      if (ticket !== planTicket) return;
      plan.awaitingLan();
      next.disabled = false;
      return;
    }
    try {
      const answer = await api.post<DeployPlan>('/deckies/deploy?dry_run=true', deployRequest().body);
      if (ticket !== planTicket) return;
      plan.show(answer);
      next.disabled = false;
    } catch (err) {
      if (ticket !== planTicket) return;
      plan.refused();
      showDeployError(err);
    }
  }

  function renderOtherGroups() {
    if (groups.length === 0) return fill(otherGroups);
    const total = groups.reduce((n, g) => n + g.names.length, 0) + countValue();
    fill(
      otherGroups,
      h('h3', {}, `Also in this deploy (${total} deckies in all)`),
      h(
        'ul',
        { class: 'group-list' },
        groups.map((g, i) =>
          h(
            'li',
            {},
            h('span', {}, g.text),
            ' ',
            h(
              'button',
              { type: 'button', class: 'button button-small', 'aria-label': `Remove the group ${g.names[0]}`, onclick: () => removeGroup(i) },
              'Remove',
            ),
          ),
        ),
      ),
    );
  }

  function removeGroup(index: number) {
    groups.splice(index, 1);
    renderOtherGroups();
    addGroup.focus();
    alert.clear();
    void previewPlan();
  }

  /** Keep the group being edited and start a new one from the first step. */
  function startAnotherGroup() {
    groups.push(currentGroup());
    name.control.value = '';
    count.control.value = '1';
    for (const b of serviceBoxes) b.input.checked = false;
    radios[0].checked = true;
    mutate.control.checked = true;
    interval.control.disabled = false;
    interval.control.value = String(INTERVAL.default);
    for (const f of Object.values(fields)) f.setError(null);
    show(0);
  }

  async function deploy() {
    alert.clear();
    for (const f of Object.values(fields)) f.setError(null);
    if (!(await lanPanel.confirmed())) return;
    const { groups: all, body } = deployRequest();
    next.disabled = back.disabled = addGroup.disabled = true;
    try {
      const res = await api.post<DeployResponse>('/deckies/deploy', body);
      startProgress(res, new Set(all.filter((g) => g.mutationOff).flatMap((g) => g.names)));
    } catch (err) {
      next.disabled = back.disabled = addGroup.disabled = false;
      showDeployError(err);
    }
  }

  function showDeployError(err: unknown) {
    if (!(err instanceof ApiError)) return alert.show(`The deploy was not sent: ${errorMessage(err)}`);
    if (err.status === 400) {
      const errors = fieldErrors(err);
      // Fields of the group being edited show their errors in place; an earlier group's are named in the alert.
      const current = groups.length;
      const placed = errors.filter((e) => e.group === current && e.field !== null) as { field: FieldKey; message: string }[];
      for (const e of placed) fields[e.field].setError(e.message);
      const loose = errors
        .filter((e) => !(e.group === current && e.field !== null))
        .map((e) => ({ message: e.group !== null && e.group < current ? `group ${groups[e.group].names[0]}: ${e.message}` : e.message }));
      if (placed.length) {
        // Go where the first named field is, and leave the operator on it.
        show(Math.min(...placed.map((e) => STEP_OF[e.field])), false);
        fields[placed.sort((x, y) => STEP_OF[x.field] - STEP_OF[y.field])[0].field].focus();
      }
      if (loose.length) alert.show([h('strong', {}, 'The API refused the deploy: '), loose.map((e) => e.message).join('; ')]);
      return;
    }
    if (err.status === 409) {
      if (err.code === 'name_clash') name.setError(err.message);
      return alert.show([h('strong', {}, 'Conflict: '), err.message]);
    }
    if (err.status === 403) return alert.show([h('strong', {}, 'Not allowed: '), `${err.message}. Sign in with an admin token to deploy.`]);
    alert.show([h('strong', {}, 'The deploy failed: '), err.message]);
  }

  function startProgress(res: DeployResponse, mutationOff: Set<string>) {
    form.hidden = true;
    const lines = res.deckies.map((d) => new ProgressLine(d));
    const tally = h('p', { class: 'tally', role: 'status' }, `0 of ${lines.length} finished`);
    const pollError = h('p', { class: 'poll-error', role: 'status' });
    const notes = h('ul', { class: 'notes' });
    fill(
      progress,
      h('h2', { id: 'progress-title', tabindex: '-1' }, 'Deploy progress'),
      h('p', {}, res.message),
      tally,
      h(
        'ul',
        { class: 'progress-list', id: 'deploy-progress' },
        lines.map((l) => l.el),
      ),
      pollError,
      notes,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'button', onclick: () => ctx.navigate('/deploy') }, 'Deploy more'),
        h('a', { class: 'button button-primary', href: '/fleet' }, 'Open the fleet'),
      ),
    );
    progress.hidden = false;
    progress.querySelector('h2')!.focus();
    // Mutation off: a deploy's null interval means "the global default", so switch each decky's schedule off here.
    for (const decky of res.deckies) {
      if (mutationOff.has(decky)) {
        api
          .put(`/deckies/${encodeURIComponent(decky)}/mutate-interval`, { mutate_interval: null })
          .catch((err) => notes.append(h('li', {}, `Could not switch mutation off for ${decky}: ${errorMessage(err)}`)));
      }
    }
    watch = watchLifecycles(
      api,
      res.lifecycle_ids,
      (rows) => {
        rows.forEach((row) => lines[res.lifecycle_ids.indexOf(row.id)]?.update(row));
        const finished = rows.filter((r) => r.status === 'succeeded' || r.status === 'failed');
        const failed = finished.filter((r) => r.status === 'failed').length;
        tally.textContent =
          finished.length === lines.length
            ? `All ${lines.length} finished: ${lines.length - failed} OK, ${failed} failed.`
            : `${finished.length} of ${lines.length} finished${failed ? `, ${failed} failed` : ''}…`;
      },
      (message) => (pollError.textContent = message ?? ''),
    );
  }

  back.addEventListener('click', () => show(step - 1));
  addGroup.addEventListener('click', startAnotherGroup);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!validate(step)) return;
    if (step < STEPS.length - 1) show(step + 1);
    else void deploy();
  });
  show(0, false);
  return () => watch?.stop();
};

/** "3 of 50 deckies used" (GET /system/limits), next to the count: a deploy over the limit is refused. */
function deckyUsage(api: Api): HTMLElement {
  const usage = h('p', { class: 'hint', id: 'wizard-usage', role: 'status' });
  api.get<SystemLimits>('/system/limits').then(
    (limits) => (usage.textContent = `${limits.deckies_used} of ${limits.deployment_limit} deckies used.`),
    (err) => (usage.textContent = `Could not read the deployment limit: ${errorMessage(err)}`),
  );
  return usage;
}
