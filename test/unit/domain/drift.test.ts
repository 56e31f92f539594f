import { deckyRuntimeStates, driftReason, type ObservedContainer } from '../../../src/domain/drift';

const decky = { name: 'web', ip: '10.0.0.5', services: ['ssh', 'http'] };
const base: ObservedContainer = { role: 'base', id: 'b1', name: 'web-base', state: 'running', status: 'Up 3 minutes', lanIp: '10.0.0.5' };
const ssh: ObservedContainer = { role: 'ssh', id: 's1', name: 'web-ssh', state: 'running', status: 'Up 3 minutes', namespaceOwner: 'b1' };
const http: ObservedContainer = { role: 'http', id: 'h1', name: 'web-http', state: 'running', status: 'Up 3 minutes', namespaceOwner: 'b1' };
const lan = { driver: 'macvlan', holders: { '10.0.0.5': 'web-base' } as Record<string, string> };

test('a decky running as desired has no drift', () => {
  expect(driftReason(decky, [base, ssh, http], lan, 'macvlan')).toBeNull();
});

test('each kind of drift is named, the first problem first', () => {
  expect(driftReason(decky, [base, { ...ssh, state: 'exited', status: 'Exited (137) 2 seconds ago' }, http], lan)).toBe('container ssh exited (137)');
  expect(driftReason(decky, [base, { ...ssh, state: 'paused', status: 'Up 3 minutes (Paused)' }, http], lan)).toBe('container ssh is paused');
  expect(driftReason(decky, [base, ssh], lan)).toBe('container http missing');
  expect(driftReason(decky, [ssh, http], { ...lan, holders: {} })).toBe('base container missing');
  expect(driftReason(decky, [{ ...base, lanIp: undefined }, ssh, http], { ...lan, holders: {} })).toBe('not on the LAN');
  expect(driftReason(decky, [{ ...base, lanIp: '10.0.0.9' }, ssh, http], { ...lan, holders: { '10.0.0.9': 'web-base' } })).toBe(
    'base holds IP 10.0.0.9, expected 10.0.0.5',
  );
  expect(driftReason(decky, [{ ...base, lanIp: undefined }, ssh, http], { ...lan, holders: { '10.0.0.5': 'squatter' } })).toBe(
    'not on the LAN; IP 10.0.0.5 held by another container (squatter)',
  );
  expect(driftReason(decky, [base, ssh, { ...http, namespaceOwner: 'old-base' }], lan)).toBe(
    "container http is outside the base container's network namespace",
  );
  expect(driftReason(decky, [base, ssh, http], lan, 'ipvlan')).toBe('on a macvlan LAN, expected ipvlan');
});

test("an agent's status of its deckies comes from the same observation: running when every container runs, else the state of one that does not", () => {
  const observed = {
    deckies: {
      web: [base, { ...ssh, state: 'exited', status: 'Exited (137) 2 seconds ago' }, http],
      api: [{ ...base, lanIp: undefined }, ssh],
    },
    lan,
  };
  expect(deckyRuntimeStates(observed)).toEqual([
    {
      name: 'api',
      running: true,
      state: 'running',
      containers: [
        { service: 'base', state: 'running', status: 'Up 3 minutes' },
        { service: 'ssh', state: 'running', status: 'Up 3 minutes' },
      ],
    },
    {
      name: 'web',
      running: false,
      state: 'exited',
      ip: '10.0.0.5',
      containers: [
        { service: 'base', state: 'running', status: 'Up 3 minutes' },
        { service: 'ssh', state: 'exited', status: 'Exited (137) 2 seconds ago' },
        { service: 'http', state: 'running', status: 'Up 3 minutes' },
      ],
    },
  ]);
});
