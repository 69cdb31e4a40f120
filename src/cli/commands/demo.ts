import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { KeyRing } from '../../control/sign.ts';
import { createDemoFleet, type DemoFleet } from '../../demo/demo-fleet.ts';
import type { DemoSummary } from '../../demo/demo-tally.ts';
import { runEmbeddedDemo } from '../../demo/embedded-demo.ts';
import { runKafkaDemo } from '../../demo/kafka-demo.ts';
import { catchOf, renderSummary } from '../../demo/render-summary.ts';
import { parseDurationMs } from '../../policy/duration.ts';
import { migrate } from '../../store/migrate.ts';
import { connectKafka, createContext, loadConfiguredPolicy, openConfiguredStore, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { clickhouseAnswers, tcpAnswers } from '../probe.ts';
import { createProgress } from '../progress.ts';

const MODES = ['auto', 'kafka', 'embedded'] as const;
type Mode = (typeof MODES)[number];
const DEFAULT_CLICKHOUSE = 'http://127.0.0.1:8123';

interface DemoOptions {
  mode: string;
  duration: string;
  cohorts: string;
  runs: string;
  seed: string;
  timeout: string;
  json?: boolean;
}

/** One message of every bad-input class the decoder rejects, to show the DLQ at work. */
export function demoBadMessages(validSample: string): string[] {
  const v = JSON.parse(validSample) as Record<string, unknown>;
  return [
    '{"schema": "runwarden.span/v1", "event_id": ',
    JSON.stringify({ ...v, schema: 'runwarden.span/v9', event_id: 'demo-bad-version' }),
    JSON.stringify({ ...v, event_id: 'demo-bad-tokens', kind: 'llm_call', llm: { model: 'gpt-4o', input_tokens: -5, output_tokens: 1 } }),
    JSON.stringify({ ...v, event_id: 'demo-bad-future', ts: Date.now() + 86_400_000 }),
  ];
}

export function registerDemo(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('demo')
    .description('the whole pipeline on a simulated fleet with injected runaways, spend spikes and judge drift; ends with a summary and the SQL to run next')
    .option('--mode <mode>', `${MODES.join(' | ')}: through Kafka (KAFKA_BROKERS set, or a broker answering on 127.0.0.1:9092) or in process (the embedded engine)`, 'auto')
    .option('--duration <d>', 'fleet (event) time the cohort fleet covers; judge drift needs at least 6h', '6h')
    .option('--cohorts <n>', 'spend cohorts (tenant × agent × user × model) of the cohort fleet', '12')
    .option('--runs <n>', 'runs of the runaway fleet (5 % loop on a tool, blow through the step cap or spike tokens)', '300')
    .option('--seed <n>', 'random seed (same seed, same fleet)', '7')
    .option('--timeout <d>', 'give up waiting for the Kafka stages after this long', '5m')
    .option('--json', 'print the summary (with the ground truth it is scored against) as one JSON object on stdout; live lines go to stderr')
    .addHelpText(
      'after',
      `
Where it runs: through Kafka when KAFKA_BROKERS is set or a broker answers on 127.0.0.1:9092
(--mode auto), with the ClickHouse server at CLICKHOUSE_URL (else one answering on 127.0.0.1:8123);
otherwise in process: the embedded engine and the embedded chdb store in RUNWARDEN_DATA_DIR (what
\`runwarden sql\` and \`runwarden report\` then read), or the server if CLICKHOUSE_URL is set.
The fleet ends now, so every row is recent. Exit codes: 0 done, 2 bad option, 3 Kafka or
ClickHouse unreachable, 1 a stage failed or timed out (--timeout).

Examples:
  npm run demo                                # the same as: npx runwarden demo
  npx runwarden demo --mode embedded          # no Kafka, no ClickHouse server (under a minute)
  npx runwarden demo --duration 8h --cohorts 24 --runs 1000
  npx runwarden demo --json | jq .summary.aborts`,
    )
    .action(async (opts: DemoOptions) => {
      const ctx = createContext(env);
      const settings = parseOptions(opts);
      const policy = await loadConfiguredPolicy(ctx);
      // Signed with a throwaway key unless one is configured: nothing outside the demo trusts it.
      const keyRing: KeyRing = ctx.config.hmac ?? { activeKeyId: 'demo', keys: { demo: randomBytes(24).toString('hex') } };
      const mode = await chooseMode(settings.mode, ctx, env);
      // Through Kafka, a ClickHouse server left running on the default port is used too; in process, the embedded store.
      const probedUrl = mode === 'kafka' && ctx.config.clickhouse.url === undefined && (await clickhouseAnswers(DEFAULT_CLICKHOUSE)) ? DEFAULT_CLICKHOUSE : undefined;
      const storeCtx: CliContext = probedUrl ? { ...ctx, config: { ...ctx.config, clickhouse: { ...ctx.config.clickhouse, url: probedUrl } } } : ctx;
      const store = await openConfiguredStore(storeCtx);
      const t0 = Date.now();
      const live = opts.json ? process.stderr : process.stdout;
      const progress = createProgress({ bar: process.stderr, out: live, label: mode === 'kafka' ? 'detecting' : 'fleet time' });
      try {
        await migrate(store);
        const fleet = createDemoFleet({ seed: settings.seed, endMs: Date.now(), durationMs: settings.durationMs, cohorts: settings.cohorts, runs: settings.runs, runawayShare: 0.05 });
        const badMessages = demoBadMessages(JSON.stringify(firstEvent(fleet)));
        const where =
          `${mode === 'kafka' ? `Kafka ${ctx.config.kafka.brokers.join(',')}` : 'in-process engine'} → ` +
          `ClickHouse ${store.kind === 'server' ? `server ${store.version.text} at ${storeCtx.config.clickhouse.url ?? '?'}` : `embedded (chdb ${store.version.text}) in ${ctx.config.dataDir}`}, database ${store.database}`;
        process.stderr.write(`runwarden demo: ${where}\n`);
        const hooks = { onLine: (line: string) => progress.log(line), onProgress: (f: number, note: string) => progress.update(f, note) };
        let summary: DemoSummary;
        if (mode === 'kafka') {
          const kafka = await connectKafka(ctx);
          summary = await runKafkaDemo({ ...hooks, fleet, kafka, topics: ctx.config.topics, store, policy, keyRing, logger: ctx.logger, badMessages, timeoutMs: settings.timeoutMs });
        } else {
          summary = await runEmbeddedDemo({ ...hooks, fleet, store, policy, keyRing, badMessages, nowMs: Date.now(), spansTopic: ctx.config.topics.spans });
        }
        progress.finish(`${summary.events.toLocaleString('en-US')} events`);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ mode, store: store.kind, elapsed_ms: Date.now() - t0, summary, truth: fleet.truth, caught: catchOf(summary, fleet.truth) })}\n`);
        } else {
          process.stdout.write(renderSummary(summary, fleet.truth, where, Date.now() - t0));
          if (probedUrl) process.stdout.write(`  (the demo wrote to the ClickHouse server it found: export CLICKHOUSE_URL=${probedUrl} before these)\n`);
        }
      } finally {
        await store.close();
      }
    });
}

function parseOptions(opts: DemoOptions) {
  if (!(MODES as readonly string[]).includes(opts.mode)) throw new CliError(`--mode must be one of ${MODES.join(', ')} (got ${opts.mode})`, EXIT.usage);
  const durationMs = parseDurationMs(opts.duration);
  if (durationMs === undefined || durationMs < 10 * 60_000) throw new CliError(`--duration must be a duration of at least 10m, e.g. 6h (got ${opts.duration})`, EXIT.usage);
  const timeoutMs = parseDurationMs(opts.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new CliError(`--timeout must be a duration such as 90s or 5m (got ${opts.timeout})`, EXIT.usage);
  const int = (v: string, flag: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} must be a whole number ≥ ${min} (got ${v})`, EXIT.usage);
    return n;
  };
  return { mode: opts.mode as Mode, durationMs, timeoutMs, cohorts: int(opts.cohorts, '--cohorts', 2), runs: int(opts.runs, '--runs', 1), seed: int(opts.seed, '--seed', 1) };
}

/** kafka when asked, when KAFKA_BROKERS is set, or when a broker answers at the default address; embedded otherwise. */
async function chooseMode(mode: Mode, ctx: CliContext, env: Record<string, string | undefined>): Promise<'kafka' | 'embedded'> {
  if (mode !== 'auto') return mode;
  if (env['KAFKA_BROKERS']) return 'kafka';
  return (await tcpAnswers(ctx.config.kafka.brokers[0] ?? '127.0.0.1:9092')) ? 'kafka' : 'embedded';
}

function firstEvent(fleet: DemoFleet) {
  const first = fleet.events().next();
  if (first.done) throw new CliError('the simulated fleet is empty: raise --duration or --cohorts', EXIT.usage);
  return first.value;
}
