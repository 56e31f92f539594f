import { FleetConflictError, FleetInputError } from '../../../src/domain/errors';

describe('FleetInputError', () => {
  it('is an Error carrying where the input is wrong', () => {
    const err = new FleetInputError('line 7: key "amount": must be 1–100', { line: 7, key: 'amount' });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(FleetInputError);
    expect(err.name).toBe('FleetInputError');
    expect(err.message).toBe('line 7: key "amount": must be 1–100');
    expect(err.details).toEqual({ line: 7, key: 'amount' });
  });

  it('defaults to empty details', () => {
    expect(new FleetInputError('bad').details).toEqual({});
  });
});

describe('FleetConflictError', () => {
  it('carries a machine-readable code and optional details', () => {
    const err = new FleetConflictError('ip_clash', 'IP taken', { ip: '10.0.0.5' });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('FleetConflictError');
    expect(err.code).toBe('ip_clash');
    expect(err.details).toEqual({ ip: '10.0.0.5' });
    expect(new FleetConflictError('pool_exhausted', 'full').details).toBeUndefined();
  });
});
