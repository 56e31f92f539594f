import { loadCatalogue } from '../../../src/domain/catalog';
import { FleetInputError } from '../../../src/domain/errors';
import { seededRng } from '../../../src/domain/fleet';
import { checkMutationServices, pickNewServices } from '../../../src/domain/mutation';

const catalogue = loadCatalogue({ registry: 'decnet', tag: 'latest' });
const sorted = (s: string[]) => [...s].sort();

describe('pickNewServices', () => {
  it("draws from the archetype's services when the decky has an archetype", () => {
    const rng = seededRng(1);
    for (let i = 0; i < 50; i++) {
      const picked = pickNewServices({ services: ['ldap', 'smb'], archetype: 'domain-controller' }, catalogue, rng);
      expect(picked.every((s) => ['ldap', 'smb', 'rdp', 'llmnr'].includes(s))).toBe(true);
    }
  });

  it('draws from the whole catalogue minus fleet singletons without an archetype', () => {
    const rng = seededRng(2);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) pickNewServices({ services: ['ssh'], archetype: null }, catalogue, rng).forEach((s) => seen.add(s));
    expect(seen.has('sniffer')).toBe(false);
    expect(seen.size).toBeGreaterThan(20);
    expect([...seen].every((s) => catalogue.perDeckyServices().includes(s))).toBe(true);
  });

  it('draws between 1 and min(3, pool) distinct services', () => {
    const rng = seededRng(3);
    const sizes = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const picked = pickNewServices({ services: ['ssh'], archetype: null }, catalogue, rng);
      expect(new Set(picked).size).toBe(picked.length);
      sizes.add(picked.length);
    }
    expect([...sizes].sort()).toEqual([1, 2, 3]);
    for (let i = 0; i < 100; i++) {
      const picked = pickNewServices({ services: ['smb'], archetype: 'windows-workstation' }, catalogue, rng);
      expect(picked.length).toBeGreaterThanOrEqual(1);
      expect(picked.length).toBeLessThanOrEqual(2);
    }
  });

  it('differs from the current set whenever the pool allows', () => {
    const rng = seededRng(4);
    for (let i = 0; i < 200; i++) {
      const current = ['smb'];
      expect(sorted(pickNewServices({ services: current, archetype: 'windows-workstation' }, catalogue, rng))).not.toEqual(current);
    }
  });

  it('gives up after 20 draws: a single-service archetype keeps its service', () => {
    let draws = 0;
    const countingRng = () => {
      draws++;
      return 0.5;
    };
    expect(pickNewServices({ services: ['ssh'], archetype: 'deaddeck' }, catalogue, countingRng)).toEqual(['ssh']);
    // Each draw uses the rng twice for a one-service pool (how many, which one): 20 draws.
    expect(draws).toBe(40);
  });

  describe("a decky's custom services", () => {
    const customServices = { tarpit: { image: 't:1' }, honey: { image: 'h:1' } };

    it('stay through every drawn mutation, which rotates the catalogue services only', () => {
      const rng = seededRng(5);
      for (let i = 0; i < 100; i++) {
        const picked = pickNewServices({ services: ['tarpit', 'smb'], archetype: 'windows-workstation', customServices }, catalogue, rng);
        expect(picked[0]).toBe('tarpit');
        expect(sorted(picked.slice(1))).not.toEqual(['smb']);
        expect(picked.slice(1).every((s) => ['smb', 'rdp'].includes(s))).toBe(true);
      }
    });

    it('are all a decky runs: nothing to rotate, the services stay as they are', () => {
      const decky = { services: ['honey', 'tarpit'], archetype: null, customServices };
      expect(pickNewServices(decky, catalogue, seededRng(6))).toEqual(['honey', 'tarpit']);
    });
  });

  it('is reproducible with the same seed', () => {
    const decky = { services: ['ssh'], archetype: null };
    expect(pickNewServices(decky, catalogue, seededRng(9))).toEqual(pickNewServices(decky, catalogue, seededRng(9)));
  });
});

describe('checkMutationServices', () => {
  it('accepts catalogue services', () => {
    expect(checkMutationServices(['ftp', 'telnet'], catalogue)).toEqual(['ftp', 'telnet']);
  });

  it("accepts the decky's own custom services, as the exact new set", () => {
    const custom = { tarpit: { image: 't:1' } };
    expect(checkMutationServices(['ftp', 'tarpit'], catalogue, custom)).toEqual(['ftp', 'tarpit']);
    expect(checkMutationServices(['ftp'], catalogue, custom)).toEqual(['ftp']);
    expect(() => checkMutationServices(['tarpit'], catalogue)).toThrow(/unknown service "tarpit"/);
  });

  it('rejects unknown services, singletons and duplicates with a 400 naming them', () => {
    expect(() => checkMutationServices(['gopher'], catalogue)).toThrow(FleetInputError);
    expect(() => checkMutationServices(['gopher'], catalogue)).toThrow(/gopher/);
    expect(() => checkMutationServices(['sniffer'], catalogue)).toThrow(/fleet-wide/);
    expect(() => checkMutationServices(['ssh', 'ssh'], catalogue)).toThrow(/listed twice/);
  });
});
