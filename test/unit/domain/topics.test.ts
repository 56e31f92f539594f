import { deckyTopic, escapeTopicSegment, unescapeTopicSegment } from '../../../src/domain/topics';

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
});
