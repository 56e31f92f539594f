import { FleetConflictError } from '../../src/domain/errors';
import { DeploymentSettings } from '../../src/entities';
import { assertLanMayChange } from '../../src/operations/network';

const settings = (lan: Partial<DeploymentSettings>) => Object.assign(new DeploymentSettings(), lan);
const configured = settings({ interface: 'eth0', subnet: '192.168.1.0/24', gateway: '192.168.1.1' });

describe('assertLanMayChange (deploy and PUT /system/network)', () => {
  it('lets the LAN change when nothing changes, no decky is deployed, or no LAN was set', () => {
    expect(() => assertLanMayChange(configured, [], ['web'], 'x')).not.toThrow();
    expect(() => assertLanMayChange(configured, ['subnet'], [], 'x')).not.toThrow();
    expect(() => assertLanMayChange(settings({}), ['subnet'], ['web'], 'x')).not.toThrow();
  });

  it('refuses a change under deployed deckies with network_mismatch, naming them and the remedy', () => {
    let err: unknown;
    try {
      assertLanMayChange(configured, ['subnet', 'gateway'], ['db', 'web'], 'Tear them down first.');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetConflictError);
    expect(err).toMatchObject({
      code: 'network_mismatch',
      message: 'the fleet runs on 192.168.1.0/24 via eth0; this changes subnet, gateway under 2 decky(ies): db, web. Tear them down first.',
      details: { changed: ['subnet', 'gateway'], deckies: ['db', 'web'] },
    });
  });

  it('names at most 20 deckies in the message; the details list them all', () => {
    expect.assertions(2);
    const many = Array.from({ length: 25 }, (_, i) => `d${String(i).padStart(2, '0')}`);
    expect(() => assertLanMayChange(configured, ['subnet'], many, 'x')).toThrow(/: d00, d01, .*, d19 and 5 more\. x$/);
    try {
      assertLanMayChange(configured, ['subnet'], many, 'x');
    } catch (e) {
      expect((e as FleetConflictError).details?.deckies).toEqual(many);
    }
  });

  it('a driver changed with other fields says what moves deckies instead, unless the caller says otherwise', () => {
    expect(() => assertLanMayChange(configured, ['gateway', 'driver'], ['d00'], 'x')).toThrow(
      /: d00\. A driver change alone moves deckies instead, base containers and IPs kept: PUT \/system\/network with only `driver` changed .* or PATCH \/swarm\/hosts\/\{uuid\} `use_ipvlan` \(a host's\)\. x$/,
    );
    expect(() => assertLanMayChange(configured, ['driver'], ['d00'], 'x', false)).toThrow(/: d00\. x$/);
  });
});
