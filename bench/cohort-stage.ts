/**
 * The cohort stage alone (src/engine/cohort-stage.ts), in one process, no I/O: throughput in
 * partials/s, heap per live cohort, and the size and cost of its checkpoint. Run with --expose-gc:
 * `npm run bench:cohort`, or
 * `node --expose-gc --import tsx bench/cohort-stage.ts [--cohorts 1000,10000] [--minutes 120] [--repeats 3] [--out FILE]`.
 *
 * The stream: N spend cohorts (tenant × agent × user × model, the default `cohorts.spend`): N/2
 * users with two models each, one agent per 100 cohorts (at least 10), five users per tenant,
 * two model versions × one prompt hash per agent. Each cohort makes LLM calls at its own rate
 * (log-normal spread around `--calls` per minute, Poisson per minute); every `--calls-per-run`
 * calls of a user end its run with a judge score. Events go through the per-run side's own
 * partial feed (src/engine/partial-feed.ts, default cohorts policy and prices), drained every
 * `--commit-ms` of event time as the pipeline drains it at each offset commit (1 s): so each
 * partial is one (view, cohort, minute) coalesced over one commit interval, several per
 * cohort-minute, and the views mix as in production (spend, user, agent, judge).
 *
 * Each minute of the stream is built once, serialised (JSON, as on the partials topic), and then,
 * for each of `repeats` independent stages in turn: JSON.parse of every message (timed: the
 * baseline), cohortPartialSchema.safeParse (timed: what consumers/cohort.ts adds), stage.apply of
 * the validated partials (timed). So the repetitions are interleaved minute by minute, and each
 * ratio is against a baseline measured in the same moments. Figures: median over repetitions.
 *
 * After the stream (≥ 61 minutes, so every spend window is full), gc(), then the stages are
 * dropped one by one with gc() between: what each drop frees is the heap that stage held.
 * Judge-drift windows are sized by the policy (recent + reference = a week of hourly buckets),
 * so a judge state keeps growing for a week of event time; the figure is after the stream.
 * Then the checkpoint of the last stage: JSON.stringify(stage.snapshot()) (what
 * consumers/cohort.ts writes every 5 s), its bytes, and the time to snapshot, stringify, parse
 * and restore.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SpanEvent } from '../src/contracts/span.ts';
import type { KeyRing } from '../src/control/sign.ts';
import { createCohortStage, type CohortStage } from '../src/engine/cohort-stage.ts';
import { createPartialFeed } from '../src/engine/partial-feed.ts';
import { DEFAULT_POLICY } from '../src/policy/policy.ts';
import { cohortPartialSchema, MINUTE_MS, type CohortPartial } from '../src/windows/cohort-partial.ts';
import { median, round } from './lib/stats.ts';

const T0 = Date.UTC(2026, 0, 5);
const keyRing: KeyRing = { activeKeyId: 'bench', keys: { bench: 'cohort-stage-bench-secret-0123456789' } };
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'claude-sonnet-4-5'] as const;

export interface CohortBenchOptions {
  cohorts: number;
  /** Minutes of event time (≥ 61 for full spend windows). */
  minutes: number;
  repeats: number;
  /** Mean LLM calls per cohort per minute. */
  callsPerMinute: number;
  callsPerRun: number;
  commitMs: number;
  seed: number;
}

export interface CohortScaleResult {
  cohorts: number;
  minutes: number;
  repeats: number;
  partials: number;
  partials_per_cohort_minute: number;
  /** Share of partials per view. */
  view_mix: Record<string, number>;
  /** Live states at the end, per view. */
  states: Record<string, number>;
  findings: number;
  mean_bytes_per_partial_json: number;
  partials_per_s: number;
  partials_per_s_samples: number[];
  json_parse_per_s: number;
  json_parse_safe_parse_per_s: number;
  ratio_vs_json_parse: number;
  ratio_vs_json_parse_samples: number[];
  /** Stage apply vs the decode + validate consumers/cohort.ts does before it. */
  ratio_vs_decode_validate: number;
  heap_bytes_per_cohort: number;
  heap_bytes_per_cohort_samples: number[];
  heap_bytes_per_state: number;
  /** Mean buckets kept per spend / user state (61 = full baseline + running minute). */
  spend_buckets_mean: number;
  checkpoint_bytes: number;
  checkpoint_bytes_per_cohort: number;
  snapshot_ms: number;
  stringify_ms: number;
  parse_ms: number;
  restore_ms: number;
}

/** Mulberry32: a seeded uniform generator, so every run sees the same stream. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poisson(u: () => number, lambda: number): number {
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= u();
  } while (p > l);
  return k - 1;
}

interface Cohort {
  user: number;
  model: string;
  rate: number;
}

/** The fleet's event stream as partials, one minute at a time, drained every commit interval. */
function createStream(o: CohortBenchOptions) {
  const u = rng(o.seed);
  const users = Math.ceil(o.cohorts / 2);
  const agents = Math.max(10, Math.round(o.cohorts / 100));
  const cohorts: Cohort[] = [];
  for (let i = 0; i < o.cohorts; i++) {
    // Log-normal spread of rates (σ = 1, mean 1): a few busy cohorts, many quiet ones.
    const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    cohorts.push({ user: i >> 1, model: MODELS[(i + (i >> 1)) % MODELS.length] as string, rate: o.callsPerMinute * Math.exp(z - 0.5) });
  }
  const runSeq = new Int32Array(users);
  const runCalls = new Int32Array(users);
  const feed = createPartialFeed({ cohorts: DEFAULT_POLICY.cohorts, pricing: DEFAULT_POLICY.pricing });
  let eventSeq = 0;

  const owner = (user: number) => ({ agent_id: `agent-${user % agents}`, tenant_id: `tenant-${Math.floor(user / 5)}`, user_id: `user-${user}` });
  const attrs = (user: number) => ({ model_version: user % 3 === 0 ? 'v2' : 'v1', prompt_hash: 'p1' });

  function event(user: number, ts: number, rest: Record<string, unknown>): SpanEvent {
    const id = `e${eventSeq++}`;
    return { schema: 'runwarden.span/v1', event_id: id, span_id: id, ts, run_id: `run-${user}-${runSeq[user]}`, ...owner(user), attrs: attrs(user), ...rest } as unknown as SpanEvent;
  }

  /** The serialised partials of minute `m`, in drain order. */
  function minute(m: number): string[] {
    const perSecond: Cohort[][] = Array.from({ length: 60 }, () => []);
    for (const c of cohorts) {
      const k = poisson(u, c.rate);
      for (let j = 0; j < k; j++) perSecond[Math.floor(u() * 60)]?.push(c);
    }
    const out: string[] = [];
    const perCommit = Math.max(1, Math.round(o.commitMs / 1_000));
    for (let s = 0; s < 60; s++) {
      for (const c of perSecond[s] ?? []) {
        const ts = T0 + m * MINUTE_MS + s * 1_000 + Math.floor(u() * 1_000);
        const input = 200 + Math.floor(u() * 3_000);
        feed.event(event(c.user, ts, { kind: 'llm_call', llm: { model: c.model, input_tokens: input, output_tokens: Math.floor(input / 4) } }), false);
        if (++runCalls[c.user]! >= o.callsPerRun) {
          feed.event(event(c.user, ts + 1, { kind: 'judge_score', judge: { score: Math.min(1, Math.max(0, 0.8 + 0.1 * (u() + u() + u() - 1.5))) } }), false);
          feed.event(event(c.user, ts + 2, { kind: 'run_end', status: 'ok' }), true);
          runCalls[c.user] = 0;
          runSeq[c.user]!++;
        }
      }
      if ((s + 1) % perCommit === 0 || s === 59) for (const p of feed.drain()) out.push(JSON.stringify(p));
    }
    return out;
  }
  return { minute };
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Live states per view, and the buckets kept by spend and user states. */
function stateCensus(stage: CohortStage) {
  const snapshot = stage.snapshot();
  const states: Record<string, number> = { judge: snapshot.judge_drift.length };
  let buckets = 0;
  let spendStates = 0;
  for (const s of snapshot.cost_spike) {
    states[s.view] = (states[s.view] ?? 0) + 1;
    if (s.view !== 'agent') {
      buckets += s.minutes.closed.length + (s.minutes.open ? 1 : 0);
      spendStates++;
    }
  }
  return { size: stage.size, states, buckets, spendStates };
}

/** The checkpoint of a stage, as consumers/cohort.ts writes and reads it; only its length is kept. */
function measureCheckpoint(stage: CohortStage) {
  let t = ns();
  const snap = stage.snapshot();
  const snapshotMs = msSince(t);
  t = ns();
  const json = JSON.stringify(snap);
  const stringifyMs = msSince(t);
  t = ns();
  const back: unknown = JSON.parse(json);
  const parseCheckpointMs = msSince(t);
  const restored = createCohortStage({ policy: DEFAULT_POLICY, keyRing });
  t = ns();
  restored.restore(back);
  const restoreMs = msSince(t);
  if (restored.size !== stage.size) throw new Error(`bench: restored ${restored.size} states of ${stage.size}`);
  return { json: { length: json.length }, snapshotMs, stringifyMs, parseCheckpointMs, restoreMs };
}

const ns = () => process.hrtime.bigint();
const msSince = (t: bigint) => Number(ns() - t) / 1e6;

/**
 * Streams `o.minutes` minutes into every stage, adding up the time of each step per stage. Its own
 * function so that no frame of the caller keeps a stage alive when the heap is measured.
 */
function feedStages(o: CohortBenchOptions, stages: readonly (CohortStage | null)[], parseMs: number[], validateMs: number[], applyMs: number[], log: (line: string) => void) {
  const stream = createStream(o);
  const mix: Record<string, number> = {};
  let partials = 0;
  let bytes = 0;
  let findings = 0;
  for (let m = 0; m < o.minutes; m++) {
    const messages = stream.minute(m);
    partials += messages.length;
    for (const s of messages) bytes += s.length;
    for (let r = 0; r < o.repeats; r++) {
      const stage = stages[r] as CohortStage;
      let t = ns();
      const parsed: unknown[] = messages.map((s) => JSON.parse(s));
      parseMs[r]! += msSince(t);
      t = ns();
      const valid: CohortPartial[] = [];
      for (const p of parsed) {
        const v = cohortPartialSchema.safeParse(p);
        if (!v.success) throw new Error(`bench: a partial did not validate: ${v.error.message}`);
        valid.push(v.data);
      }
      validateMs[r]! += msSince(t);
      t = ns();
      let found = 0;
      for (const p of valid) found += stage.apply(p).length;
      applyMs[r]! += msSince(t);
      if (r === 0) {
        findings += found;
        for (const p of valid) mix[p.view] = (mix[p.view] ?? 0) + 1;
      }
    }
    if ((m + 1) % 30 === 0) log(`${o.cohorts} cohorts: minute ${m + 1}/${o.minutes}, ${partials} partials, ${stages[0]?.size} states`);
  }
  return { partials, bytes, findings, mix };
}

export function benchCohortScale(o: CohortBenchOptions, log: (line: string) => void = () => undefined): CohortScaleResult {
  const stages: (CohortStage | null)[] = Array.from({ length: o.repeats }, () => createCohortStage({ policy: DEFAULT_POLICY, keyRing }));
  const parseMs = new Array<number>(o.repeats).fill(0);
  const validateMs = new Array<number>(o.repeats).fill(0);
  const applyMs = new Array<number>(o.repeats).fill(0);
  const { partials, bytes, findings, mix } = feedStages(o, stages, parseMs, validateMs, applyMs, log);
  const rate = (ms: number) => partials / (ms / 1_000);
  const applyRates = applyMs.map(rate);
  const ratios = applyMs.map((a, r) => (parseMs[r] as number) / a);
  const decodeRatios = applyMs.map((a, r) => ((parseMs[r] as number) + (validateMs[r] as number)) / a);

  const census = stateCensus(stages[o.repeats - 1] as CohortStage);
  const checkpoint = measureCheckpoint(stages[o.repeats - 1] as CohortStage);
  // Heap held by each stage: what dropping it frees (the checkpoint's objects are gone by now).
  const heapSamples: number[] = [];
  let before = heapUsed();
  for (let r = 0; r < o.repeats; r++) {
    stages[o.repeats - 1 - r] = null;
    const after = heapUsed();
    heapSamples.push((before - after) / o.cohorts);
    before = after;
  }
  const { size, states, buckets, spendStates } = census;
  const { json, snapshotMs, stringifyMs, parseCheckpointMs, restoreMs } = checkpoint;

  const heapPerCohort = median(heapSamples);
  return {
    cohorts: o.cohorts,
    minutes: o.minutes,
    repeats: o.repeats,
    partials,
    partials_per_cohort_minute: round(partials / o.cohorts / o.minutes, 2),
    view_mix: Object.fromEntries(Object.entries(mix).map(([k, v]) => [k, round(v / partials, 3)])),
    states,
    findings,
    mean_bytes_per_partial_json: Math.round(bytes / partials),
    partials_per_s: Math.round(median(applyRates)),
    partials_per_s_samples: applyRates.map((x) => Math.round(x)),
    json_parse_per_s: Math.round(median(parseMs.map(rate))),
    json_parse_safe_parse_per_s: Math.round(median(parseMs.map((p, r) => rate(p + (validateMs[r] as number))))),
    ratio_vs_json_parse: round(median(ratios), 3),
    ratio_vs_json_parse_samples: ratios.map((x) => round(x, 3)),
    ratio_vs_decode_validate: round(median(decodeRatios), 3),
    heap_bytes_per_cohort: Math.round(heapPerCohort),
    heap_bytes_per_cohort_samples: heapSamples.map((x) => Math.round(x)),
    heap_bytes_per_state: Math.round((heapPerCohort * o.cohorts) / size),
    spend_buckets_mean: round(buckets / (spendStates || 1), 1),
    checkpoint_bytes: json.length,
    checkpoint_bytes_per_cohort: Math.round(json.length / o.cohorts),
    snapshot_ms: round(snapshotMs, 1),
    stringify_ms: round(stringifyMs, 1),
    parse_ms: round(parseCheckpointMs, 1),
    restore_ms: round(restoreMs, 1),
  };
}

export interface CohortBenchResult {
  /** Headline figures (the largest scale, unless said otherwise). */
  cohort_partials_per_s: number;
  cohort_partials_ratio_vs_json_parse: number;
  cohort_partials_ratio_vs_decode_validate: number;
  heap_bytes_per_cohort: number;
  checkpoint_bytes_per_cohort: number;
  snapshot_ms_at_10k_cohorts?: number;
  restore_ms_at_10k_cohorts?: number;
  options: Omit<CohortBenchOptions, 'cohorts'>;
  node: string;
  scales: Record<string, CohortScaleResult>;
}

const scaleKey = (n: number) => (n % 1_000 === 0 ? `${n / 1_000}k` : String(n));

export function benchCohortStage(cohorts: number[], o: Omit<CohortBenchOptions, 'cohorts'>, log: (line: string) => void = () => undefined): CohortBenchResult {
  const scales: Record<string, CohortScaleResult> = {};
  for (const n of cohorts) scales[scaleKey(n)] = benchCohortScale({ ...o, cohorts: n }, log);
  const top = scales[scaleKey(Math.max(...cohorts))] as CohortScaleResult;
  const at10k = scales['10k'];
  return {
    cohort_partials_per_s: top.partials_per_s,
    cohort_partials_ratio_vs_json_parse: top.ratio_vs_json_parse,
    cohort_partials_ratio_vs_decode_validate: top.ratio_vs_decode_validate,
    heap_bytes_per_cohort: top.heap_bytes_per_cohort,
    checkpoint_bytes_per_cohort: top.checkpoint_bytes_per_cohort,
    ...(at10k ? { snapshot_ms_at_10k_cohorts: round(at10k.snapshot_ms + at10k.stringify_ms, 1), restore_ms_at_10k_cohorts: round(at10k.parse_ms + at10k.restore_ms, 1) } : {}),
    options: o,
    node: process.version,
    scales,
  };
}

function table(r: CohortBenchResult): string {
  const rows: string[][] = [['cohorts', 'partials', 'partials/s', '÷ JSON.parse', '÷ parse+zod', 'heap B/cohort', 'B/state', 'ckpt B/cohort', 'snapshot+stringify ms', 'parse+restore ms']];
  for (const [k, s] of Object.entries(r.scales)) {
    rows.push([
      k,
      String(s.partials),
      String(s.partials_per_s),
      String(s.ratio_vs_json_parse),
      String(s.ratio_vs_decode_validate),
      String(s.heap_bytes_per_cohort),
      String(s.heap_bytes_per_state),
      String(s.checkpoint_bytes_per_cohort),
      String(round(s.snapshot_ms + s.stringify_ms, 1)),
      String(round(s.parse_ms + s.restore_ms, 1)),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
  return rows.map((row) => row.map((c, i) => c.padStart(widths[i] as number)).join('  ')).join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      cohorts: { type: 'string', default: '1000,10000' },
      minutes: { type: 'string', default: '120' },
      repeats: { type: 'string', default: '3' },
      calls: { type: 'string', default: '1' },
      'calls-per-run': { type: 'string', default: '4' },
      'commit-ms': { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: new URL('results/cohort.json', import.meta.url).pathname },
    },
  });
  const o = {
    minutes: Number(values.minutes),
    repeats: Number(values.repeats),
    callsPerMinute: Number(values.calls),
    callsPerRun: Number(values['calls-per-run']),
    commitMs: Number(values['commit-ms']),
    seed: Number(values.seed),
  };
  if (o.repeats < 1 || o.minutes < 1) throw new Error('--repeats and --minutes must be ≥ 1');
  const result = benchCohortStage(values.cohorts.split(',').map(Number), o, (line) => process.stderr.write(`[cohort-bench] ${line}\n`));
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`${table(result)}\n[cohort-bench] written to ${values.out}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
