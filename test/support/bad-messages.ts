import type { DlqReason } from '../../src/ingest/decode.ts';

export interface BadCase {
  name: string;
  reason: DlqReason;
  value: Buffer;
}

/** One message of every SPEC §6 bad-input class, built from a valid event's JSON. */
export function badMessageCases(validJson: string): BadCase[] {
  const v = JSON.parse(validJson) as Record<string, unknown>;
  const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...v, ...patch });
  const cases: Array<[string, DlqReason, string | Buffer]> = [
    ['invalid JSON', 'invalid_json', '{"schema": "runwarden.span/v1", "event_id": '],
    ['not an object', 'not_an_object', '[1, 2, 3]'],
    ['unknown version', 'unknown_version', with_({ schema: 'runwarden.span/v2', event_id: 'bad-version' })],
    ['missing run_id', 'schema_violation', with_({ event_id: 'bad-missing', run_id: undefined })],
    ['bad kind', 'schema_violation', with_({ event_id: 'bad-kind', kind: 'telepathy' })],
    ['negative tokens', 'invalid_number', with_({ event_id: 'bad-neg', kind: 'llm_call', llm: { model: 'gpt-4o', input_tokens: -5, output_tokens: 1 } })],
    [
      'non-finite cost',
      'invalid_number',
      with_({ event_id: 'bad-inf', kind: 'llm_call', llm: { model: 'gpt-4o', input_tokens: 5, output_tokens: 1, cost_usd: 1 } }).replace('"cost_usd":1', '"cost_usd":1e999'),
    ],
    ['far-future ts', 'future_timestamp', with_({ event_id: 'bad-future', ts: Date.now() + 86_400_000 })],
    ['oversize', 'oversize', with_({ event_id: 'bad-big', attrs: { blob: 'x'.repeat(200) }, padding: 'y'.repeat(300 * 1024) })],
    ['invalid UTF-8', 'invalid_utf8', Buffer.concat([Buffer.from('{"schema":"runwarden.span/v1","event_id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
    ['duplicate event_id', 'duplicate', validJson],
  ];
  return cases.map(([name, reason, value]) => ({ name, reason, value: Buffer.isBuffer(value) ? value : Buffer.from(value) }));
}
