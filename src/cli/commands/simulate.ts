import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { SpanEventInput } from '../../contracts/span.ts';
import { parseDurationMs } from '../../policy/duration.ts';
import { simulateCohortFleet } from '../../sim/cohort-fleet.ts';
import { simulateFleet } from '../../sim/fleet.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { connectKafka, createContext } from '../context.ts';
import { createLineWriter } from '../line-writer.ts';
import { produceEvents } from '../produce.ts';
import { createProgress } from '../progress.ts';

const SCENARIOS = ['runaways', 'cohorts'] as const;

interface SimulateOptions {
  scenario: string;
  runs: string;
  seed: string;
  start?: string;
  out?: string;
  runawayShare: string;
  duration?: string;
  cohorts?: string;
  agents?: string;
  tenants?: string;
  truth?: string;
}

/** Options of one scenario only: naming one with the other scenario is a usage error. */
const RUNAWAY_ONLY = ['runs', 'runawayShare'] as const;
const COHORT_ONLY = ['duration', 'cohorts', 'agents', 'tenants', 'truth'] as const;

export function registerSimulate(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('simulate')
    .description('generate a synthetic fleet: per-run runaways (default), or many cohorts over hours to days with injected spend spikes and judge drift, and their ground truth')
    .option('--scenario <name>', `runaways (tool loops, step-cap overruns, token spikes) or cohorts (spend spikes, LLM-rate bursts, judge drops and decays; see --truth)`, 'runaways')
    .option('--runs <n>', 'runaways: number of agent runs', '200')
    .option('--seed <n>', 'random seed (same seed, same fleet)', '42')
    .option('--start <iso>', 'event time of the first run (ISO-8601); default: now minus the fleet duration')
    .option('--runaway-share <ratio>', 'runaways: share of runs that misbehave', '0.05')
    .option('--duration <d>', 'cohorts: event time covered, e.g. 8h or 4d (default 8h)')
    .option('--cohorts <n>', 'cohorts: tenant × agent × user × model cohorts (default 60)')
    .option('--agents <n>', 'cohorts: agents (default: cohorts / 6, 2 to 8)')
    .option('--tenants <n>', 'cohorts: tenants (default: cohorts / 8, at least 2)')
    .option('--truth <file>', 'cohorts: write the ground truth (injected incidents, cohorts, releases) as JSON')
    .option('--out <file>', 'write JSON Lines to a file (- for stdout) instead of producing to Kafka')
    .addHelpText(
      'after',
      `
Without --out the events are produced to the spans topic (KAFKA_BROKERS) for a running warden.

Examples:
  npx runwarden simulate --runs 500 --seed 7 --out fleet.jsonl
  npx runwarden simulate --runs 2000                      # to Kafka, for \`runwarden start\`
  npx runwarden simulate --scenario cohorts --duration 8h --cohorts 60 --out c.jsonl --truth truth.json`,
    )
    .action(async (opts: SimulateOptions, cmd: Command) => {
      if (!(SCENARIOS as readonly string[]).includes(opts.scenario)) throw new CliError(`--scenario must be one of ${SCENARIOS.join(', ')} (got ${opts.scenario})`, EXIT.usage);
      const foreign = opts.scenario === 'cohorts' ? RUNAWAY_ONLY : COHORT_ONLY;
      const misplaced = foreign.filter((o) => cmd.getOptionValueSource(o) === 'cli');
      if (misplaced.length > 0) {
        const flags = misplaced.map((o) => `--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
        throw new CliError(`${flags} ${misplaced.length > 1 ? 'do' : 'does'} not apply to --scenario ${opts.scenario}`, EXIT.usage);
      }
      if (opts.scenario === 'cohorts') await simulateCohorts(opts, env);
      else await simulateRunaways(opts, env);
    });
}

async function simulateRunaways(opts: SimulateOptions, env: Record<string, string | undefined>): Promise<void> {
  const runs = positiveInt(opts.runs, '--runs');
  const seed = positiveInt(opts.seed, '--seed');
  const share = Number(opts.runawayShare);
  if (!(share >= 0 && share <= 1)) throw new CliError('--runaway-share must be between 0 and 1', EXIT.usage);
  const startMs = opts.start ? Date.parse(opts.start) : Date.now() - runs * 2_000 - 120_000;
  if (!Number.isFinite(startMs)) throw new CliError('--start must be an ISO-8601 date-time', EXIT.usage);
  const fleet = simulateFleet({ runs, seed, startMs, runawayShare: share });
  if (opts.out) {
    const out = opts.out === '-' ? process.stdout : createWriteStream(opts.out);
    for (const e of fleet.events) out.write(`${JSON.stringify(e)}\n`);
    if (out !== process.stdout) await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  } else {
    const ctx = createContext(env);
    const kafka = await connectKafka(ctx);
    await produceEvents(kafka, ctx.config.topics.spans, fleet.events.map((e) => ({ key: e.run_id, value: JSON.stringify(e) })));
  }
  const runaways = fleet.runs.filter((r) => r.behaviour !== 'normal').length;
  process.stderr.write(`simulated ${fleet.runs.length} runs (${runaways} runaways), ${fleet.events.length} events\n`);
}

/** Events are streamed: to the file as they come, to Kafka in batches of this many. */
const KAFKA_BATCH = 50_000;

async function simulateCohorts(opts: SimulateOptions, env: Record<string, string | undefined>): Promise<void> {
  const seed = positiveInt(opts.seed, '--seed');
  const durationMs = opts.duration === undefined ? 8 * 3_600_000 : parseDurationMs(opts.duration);
  if (durationMs === undefined || durationMs < 60_000) throw new CliError(`--duration must be a duration of at least 1m, e.g. 8h or 4d (got ${opts.duration})`, EXIT.usage);
  const startMs = opts.start ? Date.parse(opts.start) : Date.now() - durationMs - 120_000;
  if (!Number.isFinite(startMs)) throw new CliError('--start must be an ISO-8601 date-time', EXIT.usage);
  const fleet = simulateCohortFleet({
    seed,
    startMs,
    durationMs,
    ...(opts.cohorts === undefined ? {} : { cohorts: positiveInt(opts.cohorts, '--cohorts') }),
    ...(opts.agents === undefined ? {} : { agents: positiveInt(opts.agents, '--agents') }),
    ...(opts.tenants === undefined ? {} : { tenants: positiveInt(opts.tenants, '--tenants') }),
  });
  if (opts.truth) await writeFile(opts.truth, `${JSON.stringify(fleet.truth, null, 2)}\n`);

  let events = 0;
  // Hours to days of fleet time take a while: a progress bar by event time on stderr.
  const progress = createProgress({ bar: process.stderr, out: process.stderr, label: 'simulating' });
  const tick = (ts: number) => {
    if (events % 10_000 === 0) progress.update((ts - fleet.truth.start_ts) / (fleet.truth.end_ts - fleet.truth.start_ts), `${events.toLocaleString('en-US')} events`);
  };
  if (opts.out) {
    const out = createLineWriter(opts.out === '-' ? process.stdout : createWriteStream(opts.out));
    for (const e of fleet.events()) {
      await out.write(JSON.stringify(e));
      events++;
      tick(e.ts as number);
    }
    await out.end();
  } else {
    const ctx = createContext(env);
    const kafka = await connectKafka(ctx);
    let batch: SpanEventInput[] = [];
    const flush = async () => {
      await produceEvents(kafka, ctx.config.topics.spans, batch.map((e) => ({ key: e.run_id, value: JSON.stringify(e) })));
      batch = [];
    };
    for (const e of fleet.events()) {
      batch.push(e);
      events++;
      tick(e.ts as number);
      if (batch.length >= KAFKA_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
  }
  progress.finish(`${events.toLocaleString('en-US')} events`);
  const t = fleet.truth;
  const quiet = t.cohorts.filter((c) => c.quiet).length;
  process.stderr.write(
    `simulated ${t.cohorts.length} cohorts (${quiet} quiet) of ${t.agents.length} agents over ${((t.end_ts - t.start_ts) / 3_600_000).toFixed(1)} h: ${events} events, ${t.incidents.length} incidents${opts.truth ? ` (ground truth in ${opts.truth})` : ''}\n`,
  );
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive integer (got ${v})`, EXIT.usage);
  return n;
}
