import type { SpanEventInput } from '../contracts/span.ts';
import type { DlqReason } from '../ingest/decode.ts';
import { createRng } from './prng.ts';

/** One message of a mixed stream: its Kafka key and bytes, and the DLQ reason it must get (none when valid). */
export interface StreamMessage {
  key: string;
  value: Buffer;
  /** Undefined for a valid event. */
  reason?: DlqReason;
  /** The bad-input class it was made as (e.g. `lone surrogate`); undefined for a valid event. */
  kind?: string;
}

/** The SPEC §6 classes a mixed stream cycles through, with the reason each must get. */
export const BAD_INPUT_CLASSES = [
  ['invalid JSON', 'invalid_json'],
  ['not an object', 'not_an_object'],
  ['unknown schema version', 'unknown_version'],
  ['schema violation', 'schema_violation'],
  ['negative number', 'invalid_number'],
  ['non-finite number', 'invalid_number'],
  ['far-future ts', 'future_timestamp'],
  ['oversize (> 256 KB)', 'oversize'],
  ['invalid UTF-8', 'invalid_utf8'],
  ['lone surrogate', 'invalid_utf8'],
  ['duplicate event_id', 'duplicate'],
] as const satisfies ReadonlyArray<readonly [string, DlqReason]>;

export interface MixOptions {
  /** Share of bad messages in the output (default 0.01 = 1 %). */
  share?: number;
  seed?: number;
  /** Wall clock for far-future timestamps (epoch ms). */
  nowMs: number;
}

/**
 * Mixes bad input of every SPEC §6 class into a stream of valid events: evenly spread, `share` of
 * the output (to within one message), one bad message of each class in turn, each unique
 * (its own event_id, so the DLQ copies are told apart). A duplicate repeats an earlier valid
 * event verbatim with its key, so it lands on that event's partition after it. Deterministic for
 * a seed. The valid events come out in their order, untouched.
 */
export function mixBadInput(events: readonly SpanEventInput[], options: MixOptions): StreamMessage[] {
  const rng = createRng(options.seed ?? 9);
  const share = options.share ?? 0.01;
  const p = share / (1 - share);
  // A random phase, then exactly one bad message per 1/p valid ones: the share is exact, not drawn.
  const phase = rng();
  const out: StreamMessage[] = [];
  let n = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as SpanEventInput;
    out.push({ key: event.run_id, value: Buffer.from(JSON.stringify(event)) });
    if (Math.floor((i + 1) * p + phase) === Math.floor(i * p + phase)) continue;
    const [kind, reason] = BAD_INPUT_CLASSES[n % BAD_INPUT_CLASSES.length] as (typeof BAD_INPUT_CLASSES)[number];
    const id = `bad-${String(n).padStart(6, '0')}`;
    n++;
    out.push({ key: event.run_id, value: badMessage(kind, event, id, options.nowMs), reason, kind });
  }
  return out;
}

function badMessage(kind: (typeof BAD_INPUT_CLASSES)[number][0], event: SpanEventInput, id: string, nowMs: number): Buffer {
  const base = { ...event, event_id: id } as Record<string, unknown>;
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const llm = { model: 'gpt-4o', input_tokens: 10, output_tokens: 5 };
  switch (kind) {
    case 'invalid JSON': {
      const text = JSON.stringify(base);
      return Buffer.from(text.slice(0, Math.floor(text.length / 2)));
    }
    case 'not an object':
      return json([id, 1, 2]);
    case 'unknown schema version':
      return json({ ...base, schema: 'runwarden.span/v9' });
    case 'schema violation':
      return json({ ...base, kind: 'telepathy' });
    case 'negative number':
      return json({ ...base, kind: 'llm_call', llm: { ...llm, input_tokens: -7 } });
    case 'non-finite number':
      // JSON has no Infinity: 1e999 parses to it.
      return Buffer.from(JSON.stringify({ ...base, kind: 'llm_call', llm: { ...llm, cost_usd: 123456789 } }).replace('123456789', '1e999'));
    case 'far-future ts':
      return json({ ...base, ts: nowMs + 7 * 86_400_000 });
    case 'oversize (> 256 KB)':
      return json({ ...base, attrs: { note: 'x' }, padding: 'y'.repeat(260 * 1024) });
    case 'invalid UTF-8': {
      const text = JSON.stringify({ ...base, user_id: 'MARK' });
      const at = text.indexOf('MARK');
      return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(text.slice(at + 4))]);
    }
    case 'lone surrogate':
      // Valid JSON, valid UTF-8 bytes, but the string it encodes is not Unicode text.
      return Buffer.from(JSON.stringify({ ...base, user_id: 'MARK' }).replace('MARK', 'u\\ud800x'));
    case 'duplicate event_id':
      return json(event);
  }
}
