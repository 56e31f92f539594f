import { classifyComposeFailure } from '../../src/compose/errors';

describe('classifyComposeFailure', () => {
  test("the kernel's ipvlan refusal is a permanent IpvlanUnsupported", () => {
    const err = classifyComposeFailure('ERROR: for wifi  Cannot start service wifi: failed to create the ipvlan port: operation not supported', 'ipvlan');
    expect(err).toMatchObject({ type: 'IpvlanUnsupported', permanent: true });
    expect(err.message).toContain('does not support ipvlan');
  });

  test("an address in use is a retryable IpClash: a killed worker's compose process may still hold it", () => {
    expect(classifyComposeFailure('Cannot start service web: Address already in use', 'macvlan')).toMatchObject({ type: 'IpClash', permanent: false });
    expect(classifyComposeFailure('Error response from daemon: address already in use', 'ipvlan')).toMatchObject({ type: 'IpClash', permanent: false });
  });

  test('a missing image names the image', () => {
    const err = classifyComposeFailure('pull access denied for decnet/ssh, repository does not exist', 'macvlan');
    expect(err).toMatchObject({ type: 'MissingImage', permanent: true });
    expect(err.message).toContain('decnet/ssh');
  });

  test('anything else is retryable', () => {
    expect(classifyComposeFailure('Error response from daemon: i/o timeout', 'macvlan')).toMatchObject({ type: 'ComposeFailed', permanent: false });
  });
});
