import type { KeyRing } from '../control/sign.ts';
import { createEmbeddedEngine } from '../engine/embedded-engine.ts';
import { decodeSpan, DEFAULT_MAX_FUTURE_MS } from '../ingest/decode.ts';
import type { Policy } from '../policy/policy.ts';
import { priceLlmCall } from '../pricing/price-table.ts';
import { commandToRow, dlqToRow, findingToRow, spanToRow } from '../store/rows.ts';
import type { Store } from '../store/store.ts';
import type { DemoFleet } from './demo-fleet.ts';
import { createDemoTally, type DemoSummary } from './demo-tally.ts';

export interface DemoHooks {
  /** A line to show as it happens (an abort, a throttle, a drift finding). */
  onLine(line: string): void;
  /** Fraction of the fleet's event time done (0..1), with a note. */
  onProgress(fraction: number, note: string): void;
}

export interface EmbeddedDemoOptions extends DemoHooks {
  fleet: DemoFleet;
  /** A migrated store: the embedded chdb one, or a server. */
  store: Store;
  policy: Policy;
  keyRing: KeyRing;
  /** Raw bad messages, rejected as the ingest would (to the DLQ table). */
  badMessages: readonly string[];
  /** Wall clock (ms) for the decoder's future-timestamp check and the rows' ingest time. */
  nowMs: number;
  /** The topic name recorded on DLQ rows. */
  spansTopic: string;
}

/** Rows are written in batches of this many (one chdb insert each). */
const BATCH = 20_000;

/**
 * The demo without Kafka: every message through the decoder (as the ingest stage takes it), the
 * embedded engine (per-run and cohort stages in process, exactly what `start` runs per partition)
 * and into the store: spans, findings, the audit trail of commands, and the DLQ.
 */
export async function runEmbeddedDemo(o: EmbeddedDemoOptions): Promise<DemoSummary> {
  const engine = createEmbeddedEngine({ policy: o.policy, keyRing: o.keyRing });
  const tally = createDemoTally(o.policy.pricing);
  const decodeOptions = { nowMs: o.nowMs, maxFutureMs: DEFAULT_MAX_FUTURE_MS };
  let spans: Array<ReturnType<typeof spanToRow>> = [];
  let findings: Array<ReturnType<typeof findingToRow>> = [];
  let commands: Array<ReturnType<typeof commandToRow>> = [];
  const flush = async () => {
    const [s, f, c] = [spans, findings, commands];
    spans = [];
    findings = [];
    commands = [];
    if (s.length) await o.store.insert('spans', s);
    if (f.length) await o.store.insert('findings', f);
    if (c.length) await o.store.insert('control_commands', c);
  };

  const dlq = o.badMessages.flatMap((value, i) => {
    const decoded = decodeSpan(value, decodeOptions);
    if (decoded.ok) return [];
    tally.bad(decoded.reason);
    // Partition -1: the message never was on Kafka (its position in the demo's list stands in for an offset).
    return [dlqToRow({ tsMs: o.nowMs, reason: decoded.reason, message: decoded.message, topic: o.spansTopic, partition: -1, offset: i, value })];
  });
  if (dlq.length) await o.store.insert('dlq_events', dlq);

  const { startMs, endMs } = o.fleet.truth;
  let offset = 0;
  for (const input of o.fleet.events()) {
    // Through the wire format, as a producer would send it.
    const decoded = decodeSpan(JSON.stringify(input), decodeOptions);
    offset++;
    if (!decoded.ok) {
      tally.bad(decoded.reason);
      continue;
    }
    const event = decoded.event;
    tally.event(event);
    const priced = event.kind === 'llm_call' && event.llm.cost_usd === undefined ? priceLlmCall(event.llm, o.policy.pricing) : undefined;
    spans.push(spanToRow(event, { partition: 0, offset, ingestedAtMs: o.nowMs, ...(priced?.known ? { pricedCostUsd: priced.costUsd } : {}) }));
    for (const { finding, command } of engine.apply(event)) {
      findings.push(findingToRow(finding));
      const shown = tally.finding(finding);
      if (shown) o.onLine(shown);
      if (command) {
        commands.push(commandToRow(command, { source: 'pipeline' }));
        const said = tally.command(command);
        if (said) o.onLine(said);
      }
    }
    if (spans.length >= BATCH) await flush();
    if (offset % 2_000 === 0) o.onProgress((event.ts - startMs) / (endMs - startMs), `${offset.toLocaleString('en-US')} events`);
  }
  await flush();
  const summary = tally.summary();
  o.onProgress(1, `${offset.toLocaleString('en-US')} events`);
  return { ...summary, duplicates: engine.perRun.duplicates };
}
