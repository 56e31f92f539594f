/**
 * Failures of the local runtime. `permanent` ones are not worth retrying (the activity layer turns
 * them into non-retryable Temporal failures); the rest are retried with backoff.
 */
export class RuntimeError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = type;
  }
}

export const missingImage = (image: string) =>
  new RuntimeError('MissingImage', `image ${image} is not on the Docker engine and no registry is used to pull it`, true);

export const ipvlanUnsupported = (detail: string) =>
  new RuntimeError('IpvlanUnsupported', `this host's kernel does not support ipvlan networks (${detail}); use macvlan on this host`, true);

/** The engine's (or kernel's) words when an ipvlan network or endpoint is refused. */
export const isIpvlanRefusal = (driver: 'macvlan' | 'ipvlan', message: string) => driver === 'ipvlan' && /not supported|ipvlan/i.test(message);

export const invalidCompose = (detail: string) => new RuntimeError('InvalidCompose', `compose rejected the decky's file: ${detail}`, true);

/**
 * Retryable: a compose process left running by a killed worker may hold the address for a moment
 * (it is creating this very decky); a lasting clash still fails once the activity's retries run out.
 */
export const ipClash = (detail: string) => new RuntimeError('IpClash', `the decky's IP is already in use on the LAN network: ${detail}`, false);

export const networkConflict = (detail: string) => new RuntimeError('NetworkConflict', detail, true);

/** The LAN network has the other driver and deckies on it: replacing it would cut them off. */
export const networkDriverMismatch = (detail: string) => new RuntimeError('NetworkDriverMismatch', detail, true);

/** Map compose/engine stderr to a permanent failure when the text says it can't succeed on retry. */
export function classifyComposeFailure(stderr: string, driver: 'macvlan' | 'ipvlan'): RuntimeError {
  const text = stderr.trim().split('\n').slice(-6).join(' ').slice(0, 1500);
  if (/ipvlan/i.test(text) && /not supported|operation not supported/i.test(text)) return ipvlanUnsupported(text);
  if (driver === 'ipvlan' && /operation not supported/i.test(text)) return ipvlanUnsupported(text);
  if (/address already in use|Address already in use/i.test(text)) return ipClash(text);
  if (/No such image|pull access denied|not found: manifest unknown|repository does not exist/i.test(text)) {
    const image = /(?:No such image|pull access denied for)[: ]+([^\s,]+)/i.exec(text)?.[1];
    return image ? missingImage(image) : new RuntimeError('MissingImage', text, true);
  }
  if (/is invalid|Unsupported config option|yaml|ERROR: The Compose file/i.test(text)) return invalidCompose(text);
  return new RuntimeError('ComposeFailed', `compose failed: ${text}`, false);
}
