import { FleetInputError } from '../../../src/domain/errors';
import { parseMutateInterval } from '../../../src/domain/interval';

describe('parseMutateInterval', () => {
  it.each([
    [30, 30],
    ['45', 45],
    ['30m', 30],
    ['2h', 120],
    ['2d', 2880],
    ['1w', 10080],
    ['1M', 43200],
    ['1y', 525600],
    [' 3 h ', 180],
    ['10y', 5256000],
  ])('%j → %d minutes', (input, minutes) => {
    expect(parseMutateInterval(input)).toBe(minutes);
  });

  it('passes null (no schedule) and undefined (not given) through', () => {
    expect(parseMutateInterval(null)).toBeNull();
    expect(parseMutateInterval(undefined)).toBeUndefined();
  });

  it.each(['', 'abc', '5x', '1.5h', '-5', 'h', '5 m m', '30M30'])('rejects the junk string %j', (input) => {
    expect(() => parseMutateInterval(input)).toThrow(FleetInputError);
    expect(() => parseMutateInterval(input)).toThrow(`${JSON.stringify(input)} is not a valid interval: must be minutes or a duration`);
  });

  it.each([0, -1, 1.5, Number.NaN, 5256001, '0', '0h', '11y'])('rejects %j as out of range', (input) => {
    expect(() => parseMutateInterval(input)).toThrow(/must be whole minutes from 1 to 5256000/);
  });

  it('tells which key is wrong', () => {
    try {
      parseMutateInterval('soon');
      throw new Error('expected a FleetInputError');
    } catch (err) {
      expect((err as FleetInputError).details).toEqual({ key: 'mutate_interval' });
    }
  });
});
