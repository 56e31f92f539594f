/**
 * Reading a swarm peer's reply with a size cap (SWARM_REPLY_MAX_BYTES): the master reads agents'
 * replies and agents read the master's heartbeat answer through it, so a peer cannot make the
 * other buffer without bound. raw-body (express's own body reader) counts the bytes and stops.
 */
import getRawBody from 'raw-body';
import { SWARM_REPLY_MAX_BYTES } from '../domain/swarm-schemas';

/** A reply that is too long or could not be read whole; the message completes "answered … with …". */
export class ReplyError extends Error {
  name = 'ReplyError';
}

/**
 * The body as UTF-8 text. Over the cap (announced by Content-Length or counted while reading)
 * it is a ReplyError and the stream is destroyed, so the connection is not kept for the rest.
 */
export async function readReply(stream: NodeJS.ReadableStream & { destroy(): unknown }, contentLength?: string | string[]): Promise<string> {
  try {
    return await getRawBody(stream, { limit: SWARM_REPLY_MAX_BYTES, length: typeof contentLength === 'string' ? contentLength : null, encoding: 'utf-8' });
  } catch (err) {
    stream.destroy();
    const failure = err as getRawBody.RawBodyError;
    if (failure.type === 'entity.too.large') {
      throw new ReplyError(
        `a reply over the ${SWARM_REPLY_MAX_BYTES}-byte limit (${failure.length ?? `at least ${failure.received ?? SWARM_REPLY_MAX_BYTES + 1}`} bytes); it was not read`,
      );
    }
    throw new ReplyError(`a reply that could not be read whole: ${failure.message}`);
  }
}
