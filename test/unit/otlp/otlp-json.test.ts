import { describe, expect, it } from 'vitest';
import { DLQ_REASONS } from '../../../src/ingest/decode.ts';
import { decodeOtlpJson } from '../../../src/otlp/otlp-json.ts';

const valid = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bot' } }] },
      scopeSpans: [{ scope: { name: 's' }, spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', startTimeUnixNano: '1' }] }],
    },
  ],
};

describe('decodeOtlpJson', () => {
  it('accepts an ExportTraceServiceRequest (bytes or text), and an empty one', () => {
    const bytes = new TextEncoder().encode(JSON.stringify(valid));
    const decoded = decodeOtlpJson(bytes);
    expect(decoded.ok && decoded.request.resourceSpans).toHaveLength(1);
    expect(decodeOtlpJson('{"resourceSpans":[]}').ok).toBe(true);
  });

  const bad: Array<[string, Uint8Array | string | null, string, RegExp]> = [
    ['null value', null, 'invalid_json', /empty message/],
    ['not JSON', '{"resourceSpans": [', 'invalid_json', /invalid JSON/],
    ['protobuf bytes (otlp_proto)', Uint8Array.from([0x0a, 0x8f, 0x01, 0x0a, 0x22, 0xff, 0xfe]), 'invalid_utf8', /encoding: otlp_json/],
    ['protobuf that happens to be UTF-8', '\n\u0012\n\u0010resource', 'invalid_json', /encoding: otlp_json/],
    ['an array', '[]', 'not_an_object', /resourceSpans/],
    ['a runwarden event on the wrong topic', '{"schema":"runwarden.span/v1","kind":"run_start"}', 'schema_violation', /resourceSpans/],
    ['spans not an array', '{"resourceSpans":[{"scopeSpans":[{"spans":{}}]}]}', 'schema_violation', /spans/],
    ['resource attributes not a list', '{"resourceSpans":[{"resource":{"attributes":{"k":"v"}}}]}', 'schema_violation', /attributes/],
  ];
  it.each(bad)('refuses %s', (_name, value, reason, message) => {
    const decoded = decodeOtlpJson(value);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.reason).toBe(reason);
    expect(decoded.message).toMatch(message);
    // Every refusal is a DLQ reason the rest of runwarden already counts and labels.
    expect(DLQ_REASONS).toContain(decoded.reason);
  });

  it('refuses a message over the limit before parsing it', () => {
    const decoded = decodeOtlpJson(JSON.stringify(valid), 100);
    expect(decoded).toMatchObject({ ok: false, reason: 'oversize' });
  });
});
