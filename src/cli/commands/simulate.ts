import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { simulateFleet } from '../../sim/fleet.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { connectKafka, createContext } from '../context.ts';
import { produceEvents } from '../produce.ts';

interface SimulateOptions {
  runs: string;
  seed: string;
  start?: string;
  out?: string;
  runawayShare: string;
}

export function registerSimulate(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('simulate')
    .description('generate a synthetic fleet with injected runaways (tool loops, step-cap overruns, token spikes)')
    .option('--runs <n>', 'number of agent runs', '200')
    .option('--seed <n>', 'random seed (same seed, same fleet)', '42')
    .option('--start <iso>', 'event time of the first run (ISO-8601); default: now minus the fleet duration')
    .option('--runaway-share <ratio>', 'share of runs that misbehave', '0.05')
    .option('--out <file>', 'write JSON Lines to a file (- for stdout) instead of producing to Kafka')
    .action(async (opts: SimulateOptions) => {
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
    });
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive integer (got ${v})`, EXIT.usage);
  return n;
}
