/**
 * The web UI end to end (architecture.md §10, issue 5): a real headless Chromium (Debian's `chromium`,
 * driven by playwright-core) against a running master (API and worker in-process) on the real
 * Temporal dev server, PostgreSQL and Docker engine. Screenshots of every screen, at 1280 and
 * 390 px wide, go to test-artifacts/web/. Any console error fails the test it happens in.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { LABELS } from '../../src/domain/compose-render';
import { createTestStack, requireEnv, type TestStack } from '../support/master';
import { apiClient, type ApiClient } from '../support/http';

const REPO_ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'web');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
const DEPLOY_TIMEOUT = 150_000;
/** The swarm screen's own tests run once the swarm router is there (another change builds it). */
const SWARM_ROUTER = existsSync(path.join(REPO_ROOT, 'src/api/routes/swarm.ts'));

let stack: TestStack;
let api: ApiClient;
let browser: Browser;
let page: Page;
let origin: string;
/** Console errors and uncaught exceptions of the page, checked after every test. */
let consoleErrors: string[] = [];
/** Errors a test provokes on purpose (the browser logs each 4xx answer as "Failed to load resource"). */
let allowedConsole: RegExp[] = [];

beforeAll(async () => {
  if (!existsSync(path.join(REPO_ROOT, 'web/dist/index.html'))) throw new Error('web/dist is not built: run `npm run build:web` (scripts/setup.sh does it)');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  stack = await createTestStack('web', 16);
  await stack.startMaster();
  origin = new URL(stack.api).origin;
  api = apiClient(stack.api, stack.adminToken);
  await fs.mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: WIDE });
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));
});

afterAll(async () => {
  await browser?.close();
  await stack?.cleanup();
});

beforeEach(() => {
  consoleErrors = [];
  allowedConsole = [];
});

afterEach(() => {
  const unexpected = consoleErrors.filter((e) => !allowedConsole.some((re) => re.test(e)));
  expect(unexpected).toEqual([]);
});

const allowHttpErrors = (...statuses: number[]) =>
  allowedConsole.push(new RegExp(`Failed to load resource: the server responded with a status of (${statuses.join('|')})`));

/** Full-page screenshots at 1280 and 390 px. */
async function snap(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-390.png`), fullPage: true });
  await page.setViewportSize(WIDE);
}

async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = DEPLOY_TIMEOUT): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function containersOf(decky: string) {
  return stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.decky}=${decky}`] } });
}

interface WizardGroup {
  archetype: string | null;
  name: string;
  count?: number;
  services?: string[];
  /** false: untick "mutate on a schedule" */
  mutate?: false;
}

/** Fill the wizard up to its deploy step, one group after the other ("Add another group"). */
async function fillWizard(groups: WizardGroup[], snapSteps = false): Promise<void> {
  await page.goto(`${origin}/deploy`);
  for (const [i, group] of groups.entries()) {
    if (i > 0) await page.getByRole('button', { name: 'Add another group' }).click();
    await page.locator(`input[name=archetype][value="${group.archetype ?? ''}"]`).check();
    await page.locator('#wizard-next').click();
    await page.getByLabel('Name prefix').fill(group.name);
    await page.getByLabel('Count').fill(String(group.count ?? 1));
    for (const service of group.services ?? []) await page.locator(`#wizard-service-${service}`).check();
    if (snapSteps) await snap('wizard-2-configuration');
    await page.locator('#wizard-next').click();
    await page.getByRole('heading', { name: '3. Mutation' }).waitFor();
    expect(await page.getByLabel('Interval (minutes)').inputValue()).toBe('30');
    if (group.mutate === false) {
      await page.getByLabel('Mutate these deckies on a schedule').uncheck();
      expect(await page.getByLabel('Interval (minutes)').isDisabled()).toBe(true);
    }
    if (snapSteps) await snap('wizard-3-mutation');
    await page.locator('#wizard-next').click();
    await page.getByRole('heading', { name: '4. Deploy' }).waitFor();
  }
}

const deployButton = () => page.getByRole('button', { name: 'Deploy', exact: true });
const progressLine = (decky: string) => page.locator(`#deploy-progress li[data-label="${decky}"]`);
const fleetRow = (decky: string) => page.locator(`#fleet-table tr[data-decky="${decky}"]`);
const cell = (row: Locator, column: string) => row.locator(`td.col-${column}`);

async function waitForLines(names: string[]): Promise<Record<string, string>> {
  return until(`terminal lines for ${names.join(', ')}`, async () => {
    const statuses = await Promise.all(names.map((n) => progressLine(n).getAttribute('data-status')));
    if (!statuses.every((s) => s === 'succeeded' || s === 'failed')) return false;
    return Object.fromEntries(names.map((n, i) => [n, statuses[i]!]));
  });
}

// In order: the stack starts with no LAN; the first wizard deploy sets it (as an operator's first
// visit does), and the tests after it deploy on that LAN.
describe('the web UI', () => {
  test('the API serves the UI at / and at its own paths, and the catalogue it offers', async () => {
    for (const p of ['/', '/deploy', '/fleet', '/swarm']) {
      const res = await fetch(`${origin}${p}`, { headers: { accept: 'text/html' } });
      expect([p, res.status, res.headers.get('content-type')]).toEqual([p, 200, expect.stringContaining('text/html')]);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await res.text()).toContain('<div id="app">');
    }
    const html = await (await fetch(`${origin}/`)).text();
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const js = await fetch(`${origin}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    // /api stays JSON: an unknown API path is the API's 404, never the UI.
    const unknown = await fetch(`${origin}/api/v1/nope`, { headers: { authorization: `Bearer ${stack.adminToken}`, accept: 'text/html' } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error.code).toBe('not_found');

    const catalog = await api.get('/catalog');
    expect(catalog.status).toBe(200);
    expect(catalog.body.services).toEqual(
      expect.arrayContaining([
        { name: 'smb', ports: [445, 139] },
        { name: 'vnc', ports: [5900] },
      ]),
    );
    expect(catalog.body.archetypes).toEqual(expect.arrayContaining([{ name: 'windows-workstation', services: ['smb', 'rdp'], nmap_os: 'windows' }]));
    expect(catalog.body.temporal_ui).toEqual({ url: stack.config.temporalUiUrl, namespace: stack.config.temporalNamespace });
    expect((await apiClient(stack.api).get('/catalog')).status).toBe(401);
  });

  test('sign in with an API token; a wrong one is refused next to the field', async () => {
    allowHttpErrors(401);
    await page.goto(`${origin}/`);
    const token = page.getByLabel('API token');
    await token.fill('not-a-token');
    await token.press('Enter');
    await page.locator('#signin-token-error').getByText('does not accept').waitFor();
    expect(await token.getAttribute('aria-invalid')).toBe('true');
    await token.fill(stack.adminToken);
    await snap('signin');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Deploy deckies', level: 1 }).waitFor();
    expect(await page.locator('nav[aria-label=Main] a[aria-current=page]').textContent()).toBe('Deploy');
    // The token lives in sessionStorage: a reload stays signed in.
    await page.reload();
    await page.getByRole('heading', { name: 'Deploy deckies', level: 1 }).waitFor();
  });

  test('on a fresh install the wizard asks for the LAN with the detected values and saves the one given; then it shows "will deploy locally" and the plan, and deploys 2 deckies at the planned IPs: two [OK] lines, the containers exist', async () => {
    const fresh = (await api.get('/system/network')).body;
    expect(fresh.configured).toBe(false);
    await page.goto(`${origin}/deploy`);
    const archetype = page.locator('label.choice', { has: page.locator('input[value=windows-workstation]') });
    expect(await archetype.textContent()).toContain('smb (445, 139)');
    expect(await archetype.textContent()).toContain('rdp (3389)');
    await snap('wizard-1-archetype');
    await fillWizard([{ archetype: 'windows-workstation', name: 'ws', count: 2 }], true);
    await page.locator('#deployment-mode').getByText('will deploy locally').waitFor();
    expect(await page.locator('.summary').textContent()).toContain('ws-01, ws-02');

    // The LAN: the master's detected default, filled in and editable, explained, not yet used.
    const lanField = (label: string) => page.locator('#wizard-lan').getByLabel(label, { exact: true });
    await lanField('Interface').waitFor();
    const shown = {
      interface: await lanField('Interface').inputValue(),
      subnet: await lanField('Subnet').inputValue(),
      gateway: await lanField('Gateway').inputValue(),
    };
    expect(shown).toEqual(fresh.suggestion ?? { interface: '', subnet: '', gateway: '' });
    if (fresh.suggestion) expect(await page.locator('#lan-intro').textContent()).toContain(`detected ${fresh.suggestion.interface}`);
    expect(await page.locator('#lan-explanation').textContent()).toContain(
      `With macvlan on ${shown.interface || 'that interface'}, each decky gets its own MAC address and IP on that LAN`,
    );
    expect(await lanField('Use ipvlan instead of macvlan').isChecked()).toBe(false);
    await snap('wizard-4-lan-detected');
    // Nothing detected is used unseen: deploying before "Use this LAN" only asks for it.
    await deployButton().click();
    await page.locator('#wizard-lan .alert-error').getByText('Set the LAN before deploying').waitFor();
    expect((await api.get('/system/network')).body.configured).toBe(false);
    expect((await api.get('/deckies')).body.deckies).toEqual([]);

    // The test's own LAN (a veth parent) instead of the host's.
    await lanField('Interface').fill(stack.lan.parent);
    await lanField('Subnet').fill(stack.lan.subnet);
    await lanField('Gateway').fill(stack.lan.gateway);
    expect(await page.locator('#lan-explanation').textContent()).toContain(`With macvlan on ${stack.lan.parent}`);
    await page.getByRole('button', { name: 'Use this LAN' }).click();
    await page.locator('#lan-summary').getByText(`${stack.lan.parent} · ${stack.lan.subnet} · gateway ${stack.lan.gateway} · macvlan`).waitFor();
    expect((await api.get('/system/network')).body).toEqual({
      configured: true,
      interface: stack.lan.parent,
      subnet: stack.lan.subnet,
      gateway: stack.lan.gateway,
      ip_range: null,
      driver: 'macvlan',
    });

    // The dry run's plan: one row per decky (name, IP, services, distro, host, driver).
    const planRows = page.locator('#deploy-plan-table tbody tr');
    await planRows.nth(1).waitFor();
    const planned = await planRows.evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(planned.map(([name, , services, , host, driver]) => [name, services, host, driver])).toEqual([
      ['ws-01', 'smb, rdp', 'this master', 'macvlan'],
      ['ws-02', 'smb, rdp', 'this master', 'macvlan'],
    ]);
    expect(planned.every(([, ip]) => ip.startsWith(stack.lan.subnet.replace(/0\/24$/, '')))).toBe(true);
    expect(await page.locator('#deploy-plan').textContent()).toContain('2 decky(ies) to deploy; will deploy locally');
    expect(await deployButton().isEnabled()).toBe(true);
    await snap('wizard-4-review');

    await deployButton().click();
    await progressLine('ws-01').waitFor();
    expect(await page.locator('#deploy-progress li').count()).toBe(2);
    const statuses = await waitForLines(['ws-01', 'ws-02']);
    expect(statuses).toEqual({ 'ws-01': 'succeeded', 'ws-02': 'succeeded' });
    for (const name of ['ws-01', 'ws-02'])
      expect((await progressLine(name).locator('.line-head').textContent())!.trim()).toMatch(new RegExp(`^\\[OK\\] ${name}\\b`));
    // Each step's timing, on demand.
    await progressLine('ws-01').getByText('Step timings').click();
    const steps = progressLine('ws-01').locator('.steps-table tbody tr');
    expect(await steps.locator('th').allTextContents()).toEqual(['render', 'network', 'compose_up', 'verify', 'schedule']);
    expect(await steps.first().locator('td').nth(1).textContent()).toMatch(/\d+(\.\d)? m?s/);
    await snap('wizard-5-progress');

    // The deploy used the IPs the plan showed.
    const fleet = (await api.get('/deckies')).body.deckies as Array<{ name: string; ip: string }>;
    expect(fleet.filter((d) => d.name.startsWith('ws-')).map((d) => [d.name, d.ip])).toEqual(planned.map(([name, ip]) => [name, ip]));
    for (const name of ['ws-01', 'ws-02']) {
      const containers = await containersOf(name);
      expect(containers.map((c) => c.Labels[LABELS.service] ?? 'base').sort()).toEqual(['base', 'rdp', 'smb']);
      expect(containers.every((c) => c.State === 'running')).toBe(true);
    }
  }, 240_000);

  test("a wizard deploy where one decky misses its image shows [FAIL] with the image name next to the other's [OK]", async () => {
    const missing = `${requireEnv('TEST_IMAGE_REGISTRY')}/vnc:${requireEnv('TEST_IMAGE_TAG')}`;
    const keep = await stack.docker.getImage(missing).inspect();
    await stack.docker.getImage(missing).remove({ noprune: true });
    try {
      await fillWizard([
        { archetype: 'deaddeck', name: 'okay', mutate: false },
        { archetype: null, name: 'vncbox', services: ['ssh', 'vnc'] },
      ]);
      expect(await page.locator('.other-groups').textContent()).toContain("okay: deaddeck; services ssh (the archetype's); mutation off");
      await snap('wizard-4-review-two-groups');
      await deployButton().click();
      const statuses = await waitForLines(['okay', 'vncbox']);
      expect(statuses).toEqual({ okay: 'succeeded', vncbox: 'failed' });
      expect((await progressLine('okay').locator('.line-head').textContent())!.trim()).toMatch(/^\[OK\] okay/);
      const failed = (await progressLine('vncbox').locator('.line-head').textContent())!.trim();
      expect(failed).toMatch(/^\[FAIL\] vncbox /);
      expect(failed).toContain(missing);
      await progressLine('vncbox').getByText('Step timings').click();
      expect(await progressLine('vncbox').locator('tr.step-failed th').textContent()).toBe('compose_up');
      // Mutation off in the wizard: the decky's schedule is switched off right after the 202.
      await until('mutation off on okay', async () => (await api.get('/deckies/okay')).body.mutate_enabled === false, 10_000);
      expect((await api.get('/deckies/vncbox')).body).toMatchObject({ mutate_enabled: true, mutate_interval: 30 });
      await snap('wizard-6-failure');
    } finally {
      await stack.docker.getImage(keep.Id).tag({ repo: missing.slice(0, missing.lastIndexOf(':')), tag: requireEnv('TEST_IMAGE_TAG') });
    }
  }, 240_000);

  test("with deckies deployed the LAN is shown read-only; changing it is refused with the API's message naming them", async () => {
    allowHttpErrors(400, 409);
    await fillWizard([{ archetype: null, name: 'later' }]);
    const summary = page.locator('#lan-summary');
    await summary.getByText(`${stack.lan.parent} · ${stack.lan.subnet}`).waitFor();
    expect(await page.locator('#lan-interface').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Change LAN' }).click();
    const subnet = page.locator('#wizard-lan').getByLabel('Subnet', { exact: true });
    expect(await subnet.inputValue()).toBe(stack.lan.subnet);
    // A subnet with host bits set: the API's message next to the field.
    await subnet.fill(stack.lan.ip(7).replace(/$/, '/24'));
    await page.getByRole('button', { name: 'Use this LAN' }).click();
    await page.locator('#lan-subnet-error').getByText(`did you mean ${stack.lan.subnet}?`).waitFor();
    expect(await subnet.getAttribute('aria-invalid')).toBe('true');
    // Another LAN under the deployed deckies: the 409 as a clear message, the LAN unchanged.
    await subnet.fill('198.19.16.0/24');
    await page.locator('#wizard-lan').getByLabel('Gateway', { exact: true }).fill('198.19.16.1');
    await page.getByRole('button', { name: 'Use this LAN' }).click();
    const refusal = page.locator('#wizard-lan .alert-error');
    await refusal.getByText('The LAN cannot change now').waitFor();
    expect(await refusal.textContent()).toMatch(/this changes subnet, gateway under \d+ decky\(ies\): .*ws-01, ws-02/);
    await snap('wizard-9-lan-conflict');
    expect((await api.get('/system/network')).body.subnet).toBe(stack.lan.subnet);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await summary.waitFor();
    expect(await page.evaluate('document.activeElement.id')).toBe('lan-change');
  });

  test("a name clash: the dry run shows the API's 409 message before the click and Deploy stays disabled; an invalid name shows the API's message next to the name field", async () => {
    allowHttpErrors(400, 409);
    const expected = await api.post('/deckies/deploy', { deckies: [{ name: 'ws', amount: 2, archetype: 'windows-workstation', mutate_interval: 30 }] });
    expect(expected.status).toBe(409);
    await fillWizard([{ archetype: 'windows-workstation', name: 'ws', count: 2 }]);
    const alert = page.locator('.wizard > .alert-error');
    await alert.getByText(expected.body.error.message).waitFor();
    expect(await alert.getAttribute('role')).toBe('alert');
    expect(await alert.textContent()).toContain('Conflict');
    expect(await page.locator('#deploy-plan').textContent()).toContain('would be refused');
    expect(await page.locator('#deploy-plan-table').count()).toBe(0);
    expect(await deployButton().isDisabled()).toBe(true);
    await snap('wizard-7-conflict');

    // By keyboard: back to the configuration, a name the API refuses, Enter moves on.
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByRole('button', { name: 'Back' }).click();
    const name = page.getByLabel('Name prefix');
    await name.fill('Bad_Name');
    await name.press('Enter');
    await page.getByRole('heading', { name: '3. Mutation' }).waitFor();
    expect(await page.evaluate('document.activeElement.textContent')).toBe('3. Mutation');
    await page.keyboard.press('Tab'); // the "mutate" checkbox
    await page.keyboard.press('Tab'); // the interval
    await page.keyboard.press('Enter');
    // The deploy step's dry run refuses the name: the API's zod message for deckies.0.name, next to
    // the name field, which has the focus.
    const fieldError = page.locator('#wizard-name-error');
    await fieldError.getByText('must match').waitFor();
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate('document.activeElement.id')).toBe('wizard-name');
    await snap('wizard-8-field-error');
  });

  test('the fleet shows every decky; mutate changes the services column, the interval is edited, teardown removes the row', async () => {
    await page.goto(`${origin}/fleet`);
    const row = fleetRow('ws-01');
    await row.waitFor();
    const view = (await api.get('/deckies/ws-01')).body;
    expect(await cell(row, 'state').textContent()).toContain('running');
    expect(await cell(row, 'ip').textContent()).toBe(view.ip);
    expect(await cell(row, 'os').textContent()).toBe('windows');
    expect(await cell(row, 'host').textContent()).toBe('master (local)');
    expect(await cell(row, 'services').textContent()).toBe('smb, rdp');
    expect(await cell(row, 'last-mutation').textContent()).toBe('never');
    expect(await cell(row, 'interval').textContent()).toBe('every 30 min');
    expect(await row.locator('a.workflow-link').getAttribute('href')).toBe(
      `${stack.config.temporalUiUrl}/namespaces/${stack.config.temporalNamespace}/workflows/${encodeURIComponent(view.last_lifecycle.workflow_id)}`,
    );
    expect(await fleetRow('vncbox').locator('td.col-state').textContent()).toContain('failed');
    expect(await cell(fleetRow('okay'), 'interval').textContent()).toBe('off');
    expect(await page.locator('#fleet-table tbody tr').count()).toBe((await api.get('/deckies')).body.deckies.length);
    expect(await page.locator('#fleet-lan').textContent()).toBe(`LAN: ${stack.lan.parent} · ${stack.lan.subnet} · gateway ${stack.lan.gateway} · macvlan`);
    await snap('fleet-1');

    // Heal is offered where something is wrong: the failed decky, not the running one. Its missing
    // image is back (the earlier test restored it), so the heal brings it up.
    expect(await row.getByRole('button', { name: 'Heal' }).isHidden()).toBe(true);
    const broken = fleetRow('vncbox');
    await broken.getByRole('button', { name: 'Heal' }).click();
    await until('the heal to finish', async () =>
      (
        await broken
          .locator('.row-progress li')
          .getAttribute('data-status')
          .catch(() => null)
      )?.match(/succeeded|failed/),
    );
    expect((await broken.locator('.row-progress li .line-head').textContent())!.trim()).toMatch(/^\[OK\] heal vncbox/);
    expect((await api.get('/deckies/vncbox')).body.state).toBe('running');
    await until('the Heal button to go', async () => broken.getByRole('button', { name: 'Heal' }).isHidden());

    // Mutate: its own progress line, then new services in the column.
    await row.getByRole('button', { name: 'Mutate' }).click();
    await until('the mutation to finish', async () =>
      (
        await row
          .locator('.row-progress li')
          .getAttribute('data-status')
          .catch(() => null)
      )?.match(/succeeded|failed/),
    );
    expect((await row.locator('.row-progress li .line-head').textContent())!.trim()).toMatch(/^\[OK\] mutate ws-01/);
    const mutated = (await api.get('/deckies/ws-01')).body;
    expect(mutated.services.join(', ')).not.toBe('smb, rdp');
    await until('the services column to change', async () => (await cell(row, 'services').textContent()) === mutated.services.join(', '));
    expect(await cell(row, 'last-mutation').textContent()).not.toBe('never');

    // The interval: minutes as a number, or off as null (architecture.md §13: the API's own shapes).
    await row.getByRole('button', { name: 'Edit interval' }).click();
    await row.getByLabel('Minutes between mutations').fill('45');
    await snap('fleet-2-interval-editor');
    await row.getByRole('button', { name: 'Save interval' }).click();
    await until('the interval column to say 45', async () => (await cell(row, 'interval').textContent()) === 'every 45 min');
    expect((await api.get('/deckies/ws-01')).body).toMatchObject({ mutate_interval: 45, mutate_enabled: true });
    await row.getByRole('button', { name: 'Edit interval' }).click();
    await row.getByLabel('No scheduled mutation').check();
    await row.getByRole('button', { name: 'Save interval' }).click();
    await until('the interval column to say off', async () => (await cell(row, 'interval').textContent()) === 'off');
    expect((await api.get('/deckies/ws-01')).body.mutate_enabled).toBe(false);

    // Teardown asks first; Escape keeps the decky.
    const doomed = fleetRow('ws-02');
    await doomed.getByRole('button', { name: 'Tear down' }).click();
    const dialog = page.getByRole('dialog', { name: 'Tear down ws-02?' });
    await dialog.waitFor();
    await snap('fleet-3-teardown-confirm');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Tear down');
    expect((await api.get('/deckies/ws-02')).status).toBe(200);
    await doomed.getByRole('button', { name: 'Tear down' }).click();
    await page.getByRole('button', { name: 'Tear down ws-02' }).click();
    await doomed.locator('.row-progress li').waitFor();
    await doomed.waitFor({ state: 'detached', timeout: DEPLOY_TIMEOUT });
    expect((await api.get('/deckies/ws-02')).status).toBe(404);
    expect(await containersOf('ws-02')).toHaveLength(0);
    await snap('fleet-4-after-teardown');
  }, 300_000);

  (SWARM_ROUTER ? test : test.skip)('enrollment shows the install command and a countdown; toggling ipvlan on a host is persisted', async () => {
    await page.goto(`${origin}/swarm`);
    await page.getByLabel('Agent name').fill('edge-1');
    await page.getByLabel('Master host').fill('127.0.0.1');
    await page.getByLabel('Use ipvlan instead of macvlan').check();
    await page.getByRole('button', { name: 'Create install command' }).click();
    const command = page.locator('#enroll-command');
    await command.waitFor();
    expect((await command.textContent())!.length).toBeGreaterThan(20);
    const clock = page.locator('#enroll-countdown-value');
    const first = await clock.textContent();
    expect(first).toMatch(/^\d+:\d\d$/);
    await until('the countdown to move', async () => (await clock.textContent()) !== first, 5000);
    expect(await page.locator('.enroll-result').textContent()).toContain('The bundle downloads once');
    const host = page.locator('#hosts-table tr[data-host="edge-1"]');
    await host.waitFor();
    await snap('swarm-1-enrolled');

    const listed = async () => {
      const res = await api.get('/swarm/hosts');
      return (Array.isArray(res.body) ? res.body : res.body.hosts).find((h: any) => h.name === 'edge-1');
    };
    expect((await listed()).use_ipvlan).toBe(true);
    const toggle = host.getByLabel('Use ipvlan instead of macvlan on edge-1');
    expect(await toggle.isChecked()).toBe(true);
    await toggle.uncheck();
    await host.getByText('Saved').waitFor();
    expect((await listed()).use_ipvlan).toBe(false);
    await toggle.check();
    await host.getByText('Saved: ipvlan').waitFor();
    expect((await listed()).use_ipvlan).toBe(true);

    await host.getByRole('button', { name: 'Decommission' }).click();
    await page.getByRole('button', { name: 'Decommission edge-1' }).click();
    await until('the host to be decommissioned', async () => {
      const h = await listed();
      return !h || h.status === 'decommissioned';
    });
    await snap('swarm-2-decommissioned');
  });

  test('keyboard: a skip link and labelled controls on every screen', async () => {
    if (!SWARM_ROUTER) allowHttpErrors(404); // the swarm screen asks for the hosts
    for (const screen of ['/deploy', '/fleet', '/swarm']) {
      await page.goto(`${origin}${screen}`);
      await page.locator('h1').waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
      // Every form control has an accessible name.
      const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, button, select, textarea')]
        .filter((el) => !el.closest('[hidden]'))
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !(el.textContent || '').trim())
        .map((el) => el.outerHTML)`);
      expect([screen, unlabelled]).toEqual([screen, []]);
    }
    if (!SWARM_ROUTER) {
      await page.goto(`${origin}/swarm`);
      await page.getByText('no swarm endpoints yet').waitFor();
      await snap('swarm-0-no-router');
    }
  });

  // Last: it empties the fleet.
  test('the wizard shows the deckies used of the limit; "Tear down fleet" asks for the fleet size typed, then removes every decky and the LAN network', async () => {
    const names = (await api.get('/deckies')).body.deckies.map((d: { name: string }) => d.name);
    expect(names.length).toBeGreaterThan(1);
    await page.goto(`${origin}/deploy`);
    await page.locator('#wizard-next').click();
    await page.locator('#wizard-usage').getByText(`${names.length} of 10 deckies used.`).waitFor();

    await page.goto(`${origin}/fleet`);
    const button = page.getByRole('button', { name: 'Tear down fleet' });
    await until('the fleet to load', async () => !(await button.isDisabled()), 10_000);
    await button.click();
    const dialog = page.getByRole('dialog', { name: `Tear down all ${names.length} deckies?` });
    await dialog.waitFor();
    const typed = dialog.getByLabel(`Type ${names.length} or "teardown ${names.length}" to confirm`);
    const confirm = dialog.getByRole('button', { name: 'Tear down fleet' });
    expect(await page.evaluate('document.activeElement.tagName')).toBe('INPUT');
    await typed.fill(String(names.length + 1));
    expect(await confirm.isDisabled()).toBe(true);
    await typed.fill(`teardown ${names.length}`);
    expect(await confirm.isDisabled()).toBe(false);
    await snap('fleet-5-teardown-fleet-confirm');
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });

    const lines = page.locator('#fleet-teardown-progress li');
    await until('one progress line per decky', async () => (await lines.count()) === names.length, 10_000);
    await until('every line [OK]', async () => (await lines.locator('.line-head').allTextContents()).every((t) => t.trim().startsWith('[OK]')));
    expect((await lines.locator('.line-head').allTextContents()).map((t) => t.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual(
      names.map((n: string) => `[OK] teardown ${n}`),
    );
    await page.getByText('No deckies yet.').waitFor();
    expect(await button.isDisabled()).toBe(true);
    expect((await api.get('/deckies')).body.deckies).toEqual([]);
    expect(await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`] } })).toEqual([]);
    const lan = await stack.docker
      .getNetwork(`${stack.config.composeProject}_lan`)
      .inspect()
      .then(
        () => 'exists',
        (err: { statusCode?: number }) => (err.statusCode === 404 ? 'gone' : String(err)),
      );
    expect(lan).toBe('gone');
    await snap('fleet-6-after-fleet-teardown');
  }, 240_000);
});
