/**
 * What the otlp stage costs per span: decode (OTLP/JSON → zod) and map (gen_ai.* → span events)
 * of collector-sized requests made by the OpenTelemetry JS SDK. CPU only, no Kafka.
 *
 *   node --import tsx bench/otlp-map.ts [--traces 50] [--rounds 40]
 */
import { mapOtlpRequest } from '../src/otlp/map-otlp.ts';
import { decodeOtlpJson } from '../src/otlp/otlp-json.ts';
import { agentTrace, T0 } from '../test/support/otlp-agent-trace.ts';
import { otlpJson, recordSpans } from '../test/support/otlp-payload.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const traces = arg('traces', 50);
const rounds = arg('rounds', 40);

// One request of `traces` agent runs (each: http + agent + 2 chats + 8 tools = 12 spans), as a collector batch sends.
const spans = (await Promise.all(Array.from({ length: traces }, (_, i) => recordSpans(agentTrace({ toolCalls: 8, startMs: T0 + i * 1_000 }), { 'service.name': 'bot', 'tenant.id': 't', 'user.id': `u${i}` })))).flat();
const payload = otlpJson(spans);
let events = 0;
for (let i = 0; i < 3; i++) {
  const d = decodeOtlpJson(payload);
  if (d.ok) events = mapOtlpRequest(d.request).events.length;
}
const t0 = process.hrtime.bigint();
let decodeNs = 0n;
for (let r = 0; r < rounds; r++) {
  const a = process.hrtime.bigint();
  const d = decodeOtlpJson(payload);
  decodeNs += process.hrtime.bigint() - a;
  if (!d.ok) throw new Error(d.message);
  mapOtlpRequest(d.request);
}
const totalNs = Number(process.hrtime.bigint() - t0);
const perSpanUs = totalNs / 1_000 / (rounds * spans.length);
process.stdout.write(
  `${rounds} × one request of ${spans.length} spans (${(payload.byteLength / 1024).toFixed(0)} KiB) → ${events} events each: ` +
    `${perSpanUs.toFixed(1)} µs per span (decode ${((Number(decodeNs) / totalNs) * 100).toFixed(0)} %), ${Math.round(1e6 / perSpanUs).toLocaleString('en')} spans/s on one core\n`,
);
