import { deckyStateEventData, deckyTopic, deckyTopicKind, escapeTopicSegment, lifecycleEventData, unescapeTopicSegment } from '../../../src/domain/topics';

describe('topics', () => {
  it('builds decky lifecycle and mutation topics', () => {
    expect(deckyTopic('ws-01', 'lifecycle')).toBe('decky.ws-01.lifecycle');
    expect(deckyTopic('db_1', 'mutation')).toBe('decky.db_1.mutation');
  });

  it('percent-encodes dots and every character outside [a-z0-9_-]', () => {
    expect(escapeTopicSegment('a.b')).toBe('a%2Eb');
    expect(escapeTopicSegment('Web 1/*')).toBe('%57eb%201%2F%2A');
    expect(escapeTopicSegment('%')).toBe('%25');
    expect(escapeTopicSegment('é')).toBe('%C3%A9');
    expect(deckyTopic('evil.x.mutation', 'lifecycle')).toBe('decky.evil%2Ex%2Emutation.lifecycle');
  });

  it.each(['plain-name_1', 'a.b', 'Web 1/*', '100%', 'é😀', ''])('round-trips %j', (name) => {
    const escaped = escapeTopicSegment(name);
    expect(escaped).toMatch(/^[a-z0-9_%A-F-]*$/);
    expect(escaped).not.toContain('.');
    expect(unescapeTopicSegment(escaped)).toBe(name);
  });

  it('rejects a malformed escape', () => {
    expect(() => unescapeTopicSegment('%zz')).toThrow(URIError);
  });

  it('tells the kind of a decky topic, escaped names included, and nothing for other topics', () => {
    expect(deckyTopicKind(deckyTopic('evil.x.mutation', 'lifecycle'))).toBe('lifecycle');
    expect(deckyTopicKind(deckyTopic('web', 'state'))).toBe('state');
    expect(deckyTopicKind('decky.web.mutation')).toBe('mutation');
    expect(deckyTopicKind('decky.web.other')).toBeUndefined();
    expect(deckyTopicKind('decky.a.b.lifecycle')).toBeUndefined();
    expect(deckyTopicKind('swarm.host.lifecycle')).toBeUndefined();
  });

  it('builds the data of lifecycle and state events, an error only when there is one', () => {
    expect(lifecycleEventData({ id: 'i', operation: 'deploy', status: 'running', error: null })).toEqual({
      lifecycle_id: 'i',
      operation: 'deploy',
      status: 'running',
    });
    expect(lifecycleEventData({ id: 'i', operation: 'deploy', status: 'failed', error: 'boom' })).toEqual({
      lifecycle_id: 'i',
      operation: 'deploy',
      status: 'failed',
      error: 'boom',
    });
    expect(deckyStateEventData({ name: 'web', state: 'degraded', reason: 'container ssh exited (137)' })).toEqual({
      name: 'web',
      state: 'degraded',
      reason: 'container ssh exited (137)',
    });
  });
});
