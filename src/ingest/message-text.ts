/** Why a message's bytes are not text a JSON decoder can take. */
export interface TextRefusal {
  ok: false;
  reason: 'invalid_json' | 'oversize' | 'invalid_utf8';
  message: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The first steps of every decoder of Kafka message values (span events, OTLP JSON): no value,
 * too large, not UTF-8. Returns the text, or the refusal (the only allocation besides the text,
 * and only on failure: this runs once per event). `notUtf8` is the refusal's message.
 */
export function messageText(value: Uint8Array | string | null, maxBytes: number, notUtf8: string): string | TextRefusal {
  if (value === null) return { ok: false, reason: 'invalid_json', message: 'empty message (null value)' };
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
  if (size > maxBytes) return { ok: false, reason: 'oversize', message: `message is ${size} bytes; the limit is ${maxBytes}` };
  if (typeof value === 'string') return value;
  try {
    return utf8.decode(value);
  } catch {
    return { ok: false, reason: 'invalid_utf8', message: notUtf8 };
  }
}
