/**
 * Cohort-detector quality on simulated fleets with ground truth (`npm run eval:sim [-- --quick]
 * [--out FILE] [--keep DIR] [--policy FILE] [--bin PATH]`): not part of `npm test` (minutes of
 * replay). --keep DIR keeps each fleet's events, truth and findings; --bin runs another checkout's
 * bin/runwarden.js (to compare branches on the same fleets).
 *
 * For each scenario and seed: generates a fleet with src/sim/cohort-fleet.ts (spend spikes of
 * 3×–100×, sustained rises, LLM-rate bursts, judge drops of 0.05–0.15 at a new version, slow
 * decays, segment-only drops, benign releases, quiet cohorts), writes its events as JSON Lines,
 * runs `node bin/runwarden.js replay EVENTS --findings` as a child process, keeps the stdout lines
 * with `schema: "runwarden.finding/v1"`, and scores them against the ground truth
 * (src/eval/sim/score.ts: recall, detection delay in event time, false alarms per quiet
 * unit-day). Writes bench/results/sim-quality.json and prints a table.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { COST_SPIKE_DEFAULTS, COST_SPIKE_RULES } from '../detectors/cost-spike.ts';
import { JUDGE_DRIFT_RULES } from '../detectors/judge-drift.ts';
import { addFindingLine, type FindingLines } from '../src/eval/sim/finding-lines.ts';
import { renderSimQuality } from '../src/eval/sim/report.ts';
import { scoreScenario, type ScenarioScore } from '../src/eval/sim/score.ts';
import { summarise } from '../src/eval/sim/summarise.ts';
import { simulateCohortFleet, type CohortFleetOptions } from '../src/sim/cohort-fleet.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 5);

interface Scenario {
  name: string;
  seeds: number[];
  options: CohortFleetOptions;
}

/**
 * `spend`: 8 h of a 60-cohort fleet (spend spikes, sustained rises, rate bursts; version drops and
 * a segment drop a few hours in). `judge`: 4 days of a thinner 24-cohort fleet, long enough for
 * the judge detector's reference windows and for a slow decay (−5 % over three days).
 */
const SCENARIOS: Scenario[] = [
  { name: 'spend-8h', seeds: [1, 2, 3], options: { durationMs: 8 * HOUR, cohorts: 60 } },
  { name: 'judge-4d', seeds: [11, 12], options: { durationMs: 96 * HOUR, cohorts: 24, agents: 8, runsPerMinute: 0.5 } },
];
const QUICK: Scenario[] = [
  { name: 'spend-4h', seeds: [1], options: { durationMs: 4 * HOUR, cohorts: 30 } },
  { name: 'judge-1d', seeds: [11], options: { durationMs: 24 * HOUR, cohorts: 16, agents: 6, runsPerMinute: 0.5 } },
];

/**
 * The policy replay runs with unless --policy is given: the built-in defaults plus judge segments,
 * which are opt-in (SPEC §3.4 "configured segments") and without which a segment-only drop can only
 * be seen diluted in the agent's whole lineage.
 */
const SIM_POLICY = { version: 1, cohorts: { segments: ['plan_tier', 'user_segment', 'region'] } };

/** The cost-spike detector's absolute floors (built-in policy), for the above/below-floor split. */
const FLOORS = {
  baseline_usd_per_minute: COST_SPIKE_DEFAULTS.min_spend_usd_per_minute,
  baseline_llm_calls_per_minute: COST_SPIKE_DEFAULTS.user_rate_min_llm_calls_per_minute,
};
const RULES = [...COST_SPIKE_RULES.map((r) => `cost-spike/${r}`), ...JUDGE_DRIFT_RULES.map((r) => `judge-drift/${r}`)];

interface Run {
  scenario: string;
  seed: number;
  events: number;
  findings: number;
  replay_seconds: number;
  replay_summary: string;
}

async function writeEvents(path: string, events: Iterable<unknown>): Promise<number> {
  const out = createWriteStream(path);
  let n = 0;
  for (const e of events) {
    n++;
    if (!out.write(`${JSON.stringify(e)}\n`)) await new Promise<void>((r) => out.once('drain', r));
  }
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  return n;
}

/** Runs replay on the file; resolves with its findings and the summary it wrote to stderr. */
function replay(bin: string, eventsPath: string, policy: string, keep: string | undefined): Promise<{ lines: FindingLines; stderr: string }> {
  const env = { ...process.env };
  // Reproducible: the given policy and the fixed replay key, whatever the shell has.
  delete env['RUNWARDEN_POLICY'];
  delete env['RUNWARDEN_HMAC_KEYS'];
  const args = [bin, 'replay', eventsPath, '--findings', '--policy', policy];
  const child = spawn(process.execPath, args, { cwd: dirname(dirname(bin)), env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: FindingLines = { findings: [], other: 0, invalid: 0 };
  const kept = keep ? createWriteStream(eventsPath.replace(/\.events\.jsonl$/, '.findings.jsonl')) : null;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const reader = createInterface({ input: child.stdout, crlfDelay: Infinity });
  reader.on('line', (line) => {
    const before = lines.findings.length;
    addFindingLine(lines, line);
    if (kept && lines.findings.length > before) kept.write(`${line}\n`);
  });
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => {
      kept?.end();
      if (code === 0) res({ lines, stderr });
      else rej(new Error(`replay exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string' }, keep: { type: 'string' }, policy: { type: 'string' }, bin: { type: 'string' } } });
  const bin = resolve(values.bin ?? join(REPO, 'bin/runwarden.js'));
  const outPath = resolve(REPO, values.out ?? (values.quick ? 'bench/results/sim-quality.quick.tmp.json' : 'bench/results/sim-quality.json'));
  const keep = values.keep ? resolve(values.keep) : undefined;
  const work = keep ?? mkdtempSync(join(tmpdir(), 'runwarden-eval-sim-'));
  mkdirSync(work, { recursive: true });
  const cohortStage = existsSync(join(dirname(dirname(bin)), 'src/engine/cohort-stage.ts'));
  if (!cohortStage) process.stderr.write('eval:sim: src/engine/cohort-stage.ts is missing: replay runs no cohort detector, so every recall is 0\n');

  const policy = values.policy ? resolve(values.policy) : join(work, 'policy.json');
  if (!values.policy) writeFileSync(policy, `${JSON.stringify(SIM_POLICY, null, 2)}\n`);
  const scenarios = values.quick ? QUICK : SCENARIOS;
  const runs: Run[] = [];
  const scores: ScenarioScore[] = [];
  try {
    for (const s of scenarios) {
      for (const seed of s.seeds) {
        const fleet = simulateCohortFleet({ ...s.options, seed, startMs: START });
        const base = join(work, `${s.name}-seed${seed}`);
        if (keep) writeFileSync(`${base}.truth.json`, `${JSON.stringify(fleet.truth, null, 2)}\n`);
        const eventsPath = `${base}.events.jsonl`;
        const events = await writeEvents(eventsPath, fleet.events());
        const started = Date.now();
        const { lines, stderr } = await replay(bin, eventsPath, policy, keep);
        const seconds = (Date.now() - started) / 1000;
        if (!keep) rmSync(eventsPath);
        if (lines.invalid > 0) process.stderr.write(`eval:sim: ${lines.invalid} output lines of replay were not valid findings or JSON\n`);
        scores.push(
          scoreScenario(fleet.truth, lines.findings, { floors: FLOORS, rules: RULES }),
        );
        const summary = stderr.trim().split('\n').find((l) => l.startsWith('findings:')) ?? '';
        runs.push({ scenario: s.name, seed, events, findings: lines.findings.length, replay_seconds: Number(seconds.toFixed(1)), replay_summary: summary });
        process.stderr.write(`eval:sim: ${s.name} seed ${seed}: ${events} events, ${fleet.truth.incidents.length} incidents, ${lines.findings.length} findings, replay ${seconds.toFixed(1)} s\n`);
      }
    }
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }

  const quality = summarise(scores);
  const out = {
    cohort_stage: cohortStage,
    ...(values.bin ? { bin } : {}),
    policy: values.policy ?? SIM_POLICY,
    scenarios: scenarios.map((s) => ({ name: s.name, seeds: s.seeds, options: s.options })),
    runs,
    quality,
    incidents: scores.flatMap((s) => s.incidents.map((i) => ({ seed: s.seed, ...i }))),
    false_alarm_samples: scores.flatMap((s) => s.false_alarm_samples.map((f) => ({ seed: s.seed, ...f }))),
  };
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${renderSimQuality(quality)}wrote ${outPath}\n`);
  return 0;
}

process.exitCode = await main();
