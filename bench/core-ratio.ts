/**
 * Core throughput (`core_ratio`): the embedded engine of `runwarden replay`
 * (src/engine/embedded-engine.ts: decode and validate, every per-run and cohort detector, the
 * partials between them, findings and signed commands serialised into an in-memory sink) over a
 * generated fleet of ≥ 1M events with ≥ 100k runs open at once (bench/lib/concurrent-fleet.ts,
 * written once to a temp file), against a bare JSON.parse of the same lines in the same process.
 *
 * Trials alternate (parse, engine, parse, engine, …) so both sample the same moments of a noisy
 * machine; each trial starts from a fresh engine and times only the work on the lines (reading
 * the file is outside the timed sections). core_ratio = median engine events/s ÷ median parse
 * events/s. Prints one JSON object on stdout.
 *
 * `node --import tsx bench/core-ratio.ts [--events 1200000] [--concurrency 120000] [--trials 3] [--breakdown]`
 * Profile: `node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx bench/core-ratio.ts --trials 1 --skip-parse`,
 * then `node --import tsx bench/lib/profile-top.ts /tmp/prof/*.cpuprofile`.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPLAY_KEY_RING } from '../src/cli/commands/replay.ts';
import { createEmbeddedEngine } from '../src/engine/embedded-engine.ts';
import { createPerRunStage } from '../src/engine/per-run-stage.ts';
import { decodeSpan } from '../src/ingest/decode.ts';
import { DEFAULT_POLICY, type Policy } from '../src/policy/policy.ts';
import { concurrentFleetFile, type ConcurrentFleetOptions } from './lib/concurrent-fleet.ts';
import { lineChunks } from './lib/line-chunks.ts';
import { median, round } from './lib/stats.ts';

export interface CoreResult {
  events: number;
  concurrency: number;
  /** Most runs live in the run table at once (sampled at every chunk) in the last engine trial. */
  peak_live_runs: number;
  trials: number;
  /** Median engine events/s ÷ median JSON.parse events/s. */
  core_ratio: number;
  /** The ratio of each (parse, engine) pair, in order. */
  core_ratio_pairs: number[];
  engine_events_per_s: number;
  json_parse_events_per_s: number;
  engine_events_per_s_samples: number[];
  json_parse_events_per_s_samples: number[];
  /** What the engine produced in its last trial (the same every trial: it is deterministic). */
  output: { findings: number; commands: number; partials: number; cohort_states: number; invalid: number; output_bytes: number };
  fleet_file: string;
  fleet_bytes_per_event: number;
  /** With --breakdown: µs per event of JSON.parse and of cumulative slices of the engine. */
  breakdown_us_per_event?: Record<string, number>;
}

const log = (line: string) => process.stderr.write(`[core] ${line}\n`);

/** Bare JSON.parse of every line: the baseline. Returns events/s over the timed sections. */
function parseTrial(file: string): { eps: number; events: number } {
  let ns = 0n;
  let events = 0;
  let keep = 0;
  for (const lines of lineChunks(file)) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lines.length; i++) {
      const v = JSON.parse(lines[i] as string) as { ts: number };
      keep += v.ts & 1;
    }
    ns += process.hrtime.bigint() - t0;
    events += lines.length;
  }
  if (keep < 0) log('unreachable');
  return { eps: events / (Number(ns) / 1e9), events };
}

function engineTrial(file: string, policy: Policy): { eps: number; events: number; output: CoreResult['output']; peak: number } {
  const engine = createEmbeddedEngine({ policy, keyRing: REPLAY_KEY_RING });
  // As replay: no future check (event time is the clock).
  const decodeOptions = { nowMs: 0, maxFutureMs: Number.POSITIVE_INFINITY };
  let ns = 0n;
  let events = 0;
  let findings = 0;
  let commands = 0;
  let invalid = 0;
  let outputBytes = 0;
  let peak = 0;
  for (const lines of lineChunks(file)) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lines.length; i++) {
      const decoded = decodeSpan(lines[i] as string, decodeOptions);
      if (!decoded.ok) {
        invalid++;
        continue;
      }
      const out = engine.apply(decoded.event);
      for (let k = 0; k < out.length; k++) {
        const { finding, command } = out[k] as (typeof out)[number];
        // The in-memory sink: replay --findings writes both as JSON lines.
        findings++;
        outputBytes += JSON.stringify(finding).length;
        if (command) {
          commands++;
          outputBytes += JSON.stringify(command).length;
        }
      }
    }
    ns += process.hrtime.bigint() - t0;
    events += lines.length;
    peak = Math.max(peak, engine.perRun.runs.size);
  }
  return {
    eps: events / (Number(ns) / 1e9),
    events,
    peak,
    output: { findings, commands, partials: engine.partials, cohort_states: engine.cohort.size, invalid, output_bytes: outputBytes },
  };
}

/** What a breakdown variant runs per line, on top of decoding it. */
type Variant = 'decode' | 'per_run' | 'per_run_partials' | 'engine';

/**
 * One pass of a cumulative slice of the engine: decode only; + the per-run stage (detectors, run
 * table, dedup; no partials); + its partials built and drained after every event (not applied);
 * the whole engine. The differences say where an event's time goes.
 */
function variantTrial(file: string, policy: Policy, variant: Variant): number {
  const decodeOptions = { nowMs: 0, maxFutureMs: Number.POSITIVE_INFINITY };
  const perRun = variant === 'per_run' || variant === 'per_run_partials' ? createPerRunStage({ policy, keyRing: REPLAY_KEY_RING, partials: variant === 'per_run_partials' }) : undefined;
  const engine = variant === 'engine' ? createEmbeddedEngine({ policy, keyRing: REPLAY_KEY_RING }) : undefined;
  let ns = 0n;
  let events = 0;
  let keep = 0;
  for (const lines of lineChunks(file)) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lines.length; i++) {
      const decoded = decodeSpan(lines[i] as string, decodeOptions);
      if (!decoded.ok) continue;
      if (perRun) {
        keep += perRun.apply(decoded.event).length;
        if (variant === 'per_run_partials') keep += perRun.drainPartials().length;
      } else if (engine) keep += engine.apply(decoded.event).length;
      else keep += decoded.event.ts & 1;
    }
    ns += process.hrtime.bigint() - t0;
    events += lines.length;
  }
  if (keep < 0) log('unreachable');
  return (Number(ns) / 1e3) / events;
}

/** µs per event of each cumulative slice (one pass each, after a JSON.parse pass for scale). */
export function breakdown(file: string, policy: Policy): Record<string, number> {
  const out: Record<string, number> = {};
  const p = parseTrial(file);
  out['json_parse_us_per_event'] = round(1e6 / p.eps, 2);
  for (const v of ['decode', 'per_run', 'per_run_partials', 'engine'] as const) {
    out[`${v}_us_per_event`] = round(variantTrial(file, policy, v), 2);
    log(`breakdown: ${v} ${out[`${v}_us_per_event`]} µs per event`);
  }
  return out;
}

export interface CoreOptions {
  events: number;
  concurrency: number;
  trials: number;
  skipParse?: boolean;
  /** Also time cumulative slices of the engine (decode, per-run, partials, all), one pass each. */
  breakdown?: boolean;
}

export async function benchCore(o: CoreOptions): Promise<CoreResult> {
  const fleet: ConcurrentFleetOptions = { events: o.events, concurrency: o.concurrency, seed: 7, startMs: Date.UTC(2026, 0, 5) };
  log(`fleet: ${o.events} events, ${o.concurrency} runs at once`);
  const file = await concurrentFleetFile(fleet);
  // One replay holds every run of its input: room for all of them (max_runs is per partition in the pipeline).
  const policy: Policy = { ...DEFAULT_POLICY, runs: { ...DEFAULT_POLICY.runs, max_runs: o.concurrency * 2 } };
  const parse: number[] = [];
  const engine: number[] = [];
  let last: ReturnType<typeof engineTrial> | undefined;
  let events = 0;
  for (let t = 0; t < o.trials; t++) {
    if (!o.skipParse) {
      const p = parseTrial(file);
      parse.push(p.eps);
      events = p.events;
      log(`trial ${t + 1}: JSON.parse ${Math.round(p.eps)} events/s`);
    }
    last = engineTrial(file, policy);
    engine.push(last.eps);
    events = last.events;
    log(`trial ${t + 1}: engine ${Math.round(last.eps)} events/s (peak ${last.peak} live runs)`);
  }
  const slices = o.breakdown ? breakdown(file, policy) : undefined;
  const pairs = parse.map((p, i) => round((engine[i] as number) / p, 3));
  const { statSync } = await import('node:fs');
  return {
    events,
    concurrency: o.concurrency,
    peak_live_runs: last?.peak ?? 0,
    trials: o.trials,
    core_ratio: parse.length ? round(median(engine) / median(parse), 3) : Number.NaN,
    core_ratio_pairs: pairs,
    engine_events_per_s: Math.round(median(engine)),
    json_parse_events_per_s: parse.length ? Math.round(median(parse)) : Number.NaN,
    engine_events_per_s_samples: engine.map(Math.round),
    json_parse_events_per_s_samples: parse.map(Math.round),
    output: (last as NonNullable<typeof last>).output,
    fleet_file: file,
    fleet_bytes_per_event: Math.round(statSync(file).size / events),
    ...(slices ? { breakdown_us_per_event: slices } : {}),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1200000' },
      concurrency: { type: 'string', default: '120000' },
      trials: { type: 'string', default: '3' },
      'skip-parse': { type: 'boolean', default: false },
      breakdown: { type: 'boolean', default: false },
    },
  });
  const r = await benchCore({ events: Number(values.events), concurrency: Number(values.concurrency), trials: Number(values.trials), skipParse: values['skip-parse'], breakdown: values.breakdown });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
