/**
 * Bus topic names. Topics are dot-separated, so a name segment must never contain a dot
 * (or anything a subscriber's pattern could misread): such characters are percent-encoded.
 */

export type DeckyTopicKind = 'lifecycle' | 'mutation' | 'state';

const SAFE_CHARACTER = /[a-z0-9_-]/;

/** Keeps [a-z0-9_-]; percent-encodes the UTF-8 bytes of everything else ("a.b" → "a%2Eb"). */
export function escapeTopicSegment(segment: string): string {
  return Array.from(segment, (char) => (SAFE_CHARACTER.test(char) ? char : percentEncode(char))).join('');
}

/** Inverse of escapeTopicSegment; throws URIError on a malformed escape. */
export function unescapeTopicSegment(segment: string): string {
  return decodeURIComponent(segment);
}

/** `decky.<name>.lifecycle`, `decky.<name>.mutation` or `decky.<name>.state`. */
export function deckyTopic(name: string, kind: DeckyTopicKind): string {
  return `decky.${escapeTopicSegment(name)}.${kind}`;
}

function percentEncode(char: string): string {
  return [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** The kind of a `decky.<name>.<kind>` topic; undefined for other topics. */
export function deckyTopicKind(topic: string): DeckyTopicKind | undefined {
  const match = /^decky\.[^.]+\.(lifecycle|mutation|state)$/.exec(topic);
  return match ? (match[1] as DeckyTopicKind) : undefined;
}

/** The data of a `decky.<name>.lifecycle` event: one status a lifecycle row reached. */
export function lifecycleEventData(row: { id: string; operation: string; status: string; error: string | null }): Record<string, unknown> {
  return { lifecycle_id: row.id, operation: row.operation, status: row.status, ...(row.error ? { error: row.error } : {}) };
}

/** The data of a `decky.<name>.state` event: the state drift detection judged, and why. */
export function deckyStateEventData(change: { name: string; state: string; reason: string | null }): Record<string, unknown> {
  return { name: change.name, state: change.state, reason: change.reason };
}
