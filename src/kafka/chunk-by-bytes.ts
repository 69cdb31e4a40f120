import type { Message } from 'kafkajs';

/** Bytes a key or value adds to a produce request (null: none). */
const sizeOf = (v: Message['key'] | Message['value']): number => (v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength);

/**
 * Consecutive runs of `messages` whose keys and values add up to at most `maxBytes` (a longer
 * message goes alone), so that no produce request passes the broker's message.max.bytes (1 MiB
 * by default): a request over it is refused whole, and its retry is no smaller.
 */
export function chunkByBytes<M extends Pick<Message, 'key' | 'value'>>(messages: readonly M[], maxBytes: number): M[][] {
  const chunks: M[][] = [];
  let chunk: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m.key) + sizeOf(m.value);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
