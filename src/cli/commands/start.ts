import type { Command } from 'commander';
import { createIngestConsumer, type IngestConsumer } from '../../../consumers/ingest.ts';
import { createCohortConsumer, type CohortConsumer } from '../../../consumers/cohort.ts';
import { createAlertsConsumer, type AlertsConsumer } from '../../../consumers/alerts.ts';
import { expandAlertEnv } from '../../alerts/expand-env.ts';
import { createPipelineConsumer, type PipelineConsumer } from '../../../consumers/pipeline.ts';
import { createOtlpStage, type OtlpStage } from '../../../consumers/otlp.ts';
import { startBudgetStage, type BudgetStage } from '../../budgets/budget-stage.ts';
import { createObservability, type Observability } from '../../metrics/observability.ts';
import { migrate } from '../../store/migrate.ts';
import { connectKafka, createContext, loadConfiguredPolicy, openConfiguredStore, requireKeyRing, untilShutdownSignal } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { shutdownInOrder, type Stoppable } from '../../../consumers/shutdown.ts';

const STAGES = ['ingest', 'detect', 'cohort', 'budgets', 'alerts', 'otlp'] as const;
type Stage = (typeof STAGES)[number];
/**
 * Without --stages: these, plus `alerts` when the policy names alert sinks. `otlp` is never a
 * default: only a deployment fed by an OpenTelemetry Collector needs it.
 */
const DEFAULT_STAGES: readonly Stage[] = ['ingest', 'detect', 'cohort', 'budgets'];

interface StartOptions {
  groupPrefix: string;
  policy?: string;
  stages?: string;
  heartbeatMs: string;
  instanceId?: string;
  metricsPort?: string;
}

export function registerStart(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('start')
    .description('run the consumers against Kafka and ClickHouse until SIGINT/SIGTERM')
    .option('--group-prefix <prefix>', 'consumer group prefix', 'runwarden')
    .option('--policy <file>', 'policy file (YAML or JSON); default RUNWARDEN_POLICY, else built-in defaults')
    .option(
      '--stages <list>',
      `stages this process runs, comma-separated (${STAGES.join(', ')}); default ${DEFAULT_STAGES.join(',')}, plus alerts when the policy has alert sinks; scale ingest and detect out by starting more processes (one budgets scheduler is enough); otlp (off by default) turns the OpenTelemetry Collector's otlp_json traces on RUNWARDEN_TOPIC_OTLP into span events`,
    )
    .option('--heartbeat-ms <ms>', 'warden heartbeat interval on the control topic (ms)', '5000')
    .option(
      '--instance-id <id>',
      'names this process in heartbeats and its Kafka transactions; keep it stable across restarts of the same process slot so that a restart fences what a crashed predecessor left open (default: random)',
    )
    .option('--metrics-port <port>', 'port of /metrics, /healthz and /readyz (0 turns them off); default RUNWARDEN_METRICS_PORT, else 9464; bound to RUNWARDEN_METRICS_HOST (127.0.0.1)')
    .addHelpText(
      'after',
      `
Needs RUNWARDEN_HMAC_KEYS for the detect, cohort and budgets stages (commands are signed). Runs
until SIGINT/SIGTERM, then stops fetching, flushes ClickHouse, commits offsets and disconnects.

Examples:
  RUNWARDEN_HMAC_KEYS=k1:$(openssl rand -hex 24) npx runwarden start
  npx runwarden start --stages ingest,detect --instance-id detect-1     # scale out: one slot per process
  npx runwarden start --stages cohort,budgets --instance-id cohort-1 --policy policy.yaml`,
    )
    .action(async (opts: StartOptions) => {
      const ctx = createContext(env);
      // Listen from the first moment: a SIGTERM during start-up (joining groups, fencing a crashed
      // predecessor's transactions) still gets the ordered shutdown once the stages are up.
      const shutdownSignal = untilShutdownSignal();
      const metricsConfig = { ...ctx.config.metrics };
      if (opts.metricsPort !== undefined) {
        const port = Number(opts.metricsPort);
        if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new CliError('--metrics-port must be a TCP port number (0 turns the metrics endpoint off)', EXIT.usage);
        metricsConfig.port = port;
      }
      // Everything that can be wrong in the input is checked before anything connects.
      const policy = await loadConfiguredPolicy(ctx, opts.policy);
      const stages = parseStages(opts.stages ?? [...DEFAULT_STAGES, ...(policy.alerts.sinks.length > 0 ? ['alerts'] : [])].join(','));
      if (stages.has('alerts') && policy.alerts.sinks.length === 0) throw new CliError('--stages alerts: the policy names no alert sinks; add alerts.sinks to the policy file (docs/alerts.md)', EXIT.usage);
      const expanded = stages.has('alerts') ? expandAlertEnv(policy.alerts, env) : undefined;
      if (expanded && 'issues' in expanded) throw new CliError(`invalid alert sinks:\n${expanded.issues.map((i) => `  - ${i}`).join('\n')}`, EXIT.usage);
      const keyRing = stages.has('detect') || stages.has('cohort') || stages.has('budgets') ? requireKeyRing(ctx) : undefined;
      if (opts.instanceId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(opts.instanceId)) throw new CliError('--instance-id: 1 to 64 letters, digits, ".", "_" or "-"', EXIT.usage);
      const heartbeatIntervalMs = Number(opts.heartbeatMs);
      if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 0) throw new CliError('--heartbeat-ms must be a whole number of ms (0 turns heartbeats off)', EXIT.usage);

      const store = await openConfiguredStore(ctx);
      await migrate(store);
      const rawKafka = await connectKafka(ctx).catch(async (err: unknown) => {
        await store.close();
        throw err;
      });
      const obs: Observability | undefined = metricsConfig.port > 0 ? createObservability({ config: metricsConfig, store, logger: ctx.logger }) : undefined;
      // With metrics on, the stages get an instrumented client and sink; `metrics` is undefined otherwise (no cost).
      const kafka = obs ? obs.instrument(rawKafka) : rawKafka;
      const sink = obs ? obs.sink(store) : store;
      const metrics = obs?.metrics;
      const watched: Array<{ group: string; topic: string }> = [];
      let ingest: IngestConsumer | undefined;
      let pipeline: PipelineConsumer | undefined;
      let cohort: CohortConsumer | undefined;
      const { sessionTimeoutMs, checkpointIntervalMs, shutdownTimeoutMs } = ctx.config.consumers;
      const session = sessionTimeoutMs !== undefined ? { sessionTimeoutMs } : {};
      let otlp: OtlpStage | undefined;
      if (stages.has('otlp')) {
        otlp = createOtlpStage({
          kafka,
          otlpTopic: ctx.config.otlp.topic,
          topics: ctx.config.topics,
          mapping: ctx.config.otlp.mapping,
          logger: ctx.logger,
          groupId: `${opts.groupPrefix}-otlp`,
        });
      }
      if (stages.has('ingest')) {
        ingest = createIngestConsumer({
          kafka,
          sink,
          topics: ctx.config.topics,
          logger: ctx.logger,
          groupId: `${opts.groupPrefix}-ingest`,
          priceTable: policy.pricing,
          ...(metrics ? { metrics } : {}),
          maxBufferedRows: ctx.config.ingest.maxBufferedRows,
          ...session,
        });
        watched.push({ group: `${opts.groupPrefix}-ingest`, topic: ctx.config.topics.spans });
      }
      if (keyRing && stages.has('detect')) {
        pipeline = createPipelineConsumer({
          kafka,
          sink,
          topics: ctx.config.topics,
          logger: ctx.logger,
          policy,
          keyRing,
          groupId: `${opts.groupPrefix}-detect`,
          heartbeatIntervalMs,
          ...session,
          ...(opts.instanceId ? { wardenId: opts.instanceId } : {}),
          ...(metrics ? { metrics } : {}),
        });
        watched.push({ group: `${opts.groupPrefix}-detect`, topic: ctx.config.topics.spans });
        metrics?.stageStarted('detect', Date.now());
      }
      if (keyRing && stages.has('cohort')) {
        cohort = createCohortConsumer({
          kafka,
          sink,
          topics: ctx.config.topics,
          logger: ctx.logger,
          policy,
          keyRing,
          groupId: `${opts.groupPrefix}-cohort`,
          ...session,
          ...(checkpointIntervalMs !== undefined ? { checkpointIntervalMs } : {}),
          ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
          ...(metrics ? { metrics } : {}),
        });
        watched.push({ group: `${opts.groupPrefix}-cohort`, topic: ctx.config.topics.partials });
        metrics?.stageStarted('cohort', Date.now());
      }
      let alerts: AlertsConsumer | undefined;
      if (expanded && 'alerts' in expanded) {
        alerts = createAlertsConsumer({ kafka, topics: ctx.config.topics, logger: ctx.logger, alerts: expanded.alerts, groupId: `${opts.groupPrefix}-alerts`, ...(metrics ? { metrics } : {}) });
        watched.push({ group: `${opts.groupPrefix}-alerts`, topic: ctx.config.topics.findings });
      }
      // The endpoint answers before the consumers join: /healthz at once, /readyz 503 until they have.
      await obs?.start(rawKafka, watched).catch(async (err: unknown) => {
        await obs.stop();
        await store.close();
        throw new CliError(`cannot serve metrics on ${metricsConfig.host}:${metricsConfig.port}: ${(err as Error).message}\nChoose another port with --metrics-port or RUNWARDEN_METRICS_PORT (0 turns the endpoint off).`, EXIT.usage);
      });
      await Promise.all([ingest?.start(), pipeline?.start(), cohort?.start(), alerts?.start(), otlp?.start()]);
      let budgets: BudgetStage | undefined;
      if (keyRing && stages.has('budgets')) {
        if (policy.budgets.enabled) budgets = await startBudgetStage({ kafka, store, policy, keyRing, topics: ctx.config.topics, logger: ctx.logger });
        else ctx.logger.info('budgets.enabled is false in the policy: the budgets stage does not run');
      }
      const signal = await shutdownSignal;
      ctx.logger.info({ event: 'shutdown.begin', signal, timeoutMs: shutdownTimeoutMs }, 'shutting down');
      // The written order (consumers/shutdown.ts), each step across every stage: stop fetching,
      // flush sinks, commit offsets, disconnect; then the store. otlp stops whole in the first
      // step: what it mapped and produced is consumed by ingest and detect on their next start.
      const running: Stoppable[] = [];
      if (otlp) running.push({ name: 'otlp', stop_fetching: () => otlp.stop() });
      if (ingest) running.push({ name: 'ingest', ...ingest.steps });
      if (pipeline) running.push({ name: 'detect', ...pipeline.steps });
      if (cohort) running.push({ name: 'cohort', ...cohort.steps });
      if (budgets) running.push({ name: 'budgets', ...budgets.steps });
      if (alerts) running.push({ name: 'alerts', flush_sinks: () => alerts.stop() });
      running.push({ name: 'store', close: () => store.close() });
      if (obs) running.push({ name: 'metrics', close: () => obs.stop() });
      const result = await shutdownInOrder({ stages: running, logger: ctx.logger, timeoutMs: shutdownTimeoutMs });
      if (!result.ok && result.reason === 'timeout') {
        // A socket stuck in the step that timed out must not keep a stopped warden alive: exit
        // once main() returned (unref: an idle event loop exits sooner by itself). What was not
        // committed is re-read by the next start; nothing is lost.
        setTimeout(() => process.exit(EXIT.shutdownTimeout), 1_000).unref();
        throw new CliError(`shutdown did not finish within RUNWARDEN_SHUTDOWN_TIMEOUT_MS (${shutdownTimeoutMs} ms); stuck in ${result.step}`, EXIT.shutdownTimeout);
      }
      if (!result.ok) throw new CliError(`shutdown: ${result.step} failed (see the log); a restart re-reads what was not committed`, EXIT.failure);
    });
}

function parseStages(list: string): Set<Stage> {
  const stages = new Set<Stage>();
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(STAGES as readonly string[]).includes(raw)) throw new CliError(`--stages: unknown stage "${raw}"; expected some of ${STAGES.join(', ')}`, EXIT.usage);
    stages.add(raw as Stage);
  }
  if (stages.size === 0) throw new CliError(`--stages: name at least one of ${STAGES.join(', ')}`, EXIT.usage);
  return stages;
}
