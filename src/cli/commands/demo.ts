import type { Command } from 'commander';
import { z } from 'zod';
import { randomBytes } from 'node:crypto';
import { createIngestConsumer } from '../../../consumers/ingest.ts';
import { createPipelineConsumer } from '../../../consumers/pipeline.ts';
import type { KeyRing } from '../../control/sign.ts';
import { waitForCatchUp } from '../../kafka/lag.ts';
import { simulateFleet } from '../../sim/fleet.ts';
import { migrate } from '../../store/migrate.ts';
import type { Store } from '../../store/store.ts';
import { connectKafka, createContext, loadConfiguredPolicy, openConfiguredStore } from '../context.ts';
import { produceEvents } from '../produce.ts';
import { renderTable } from '../table.ts';

/** A few messages of every bad-input class, to show the DLQ at work. */
function badMessages(validSample: string): Array<{ key: string; value: string }> {
  const v = JSON.parse(validSample) as Record<string, unknown>;
  return [
    { key: 'bad', value: '{"schema": "runwarden.span/v1", "event_id": ' },
    { key: 'bad', value: JSON.stringify({ ...v, schema: 'runwarden.span/v9', event_id: 'demo-bad-version' }) },
    { key: 'bad', value: JSON.stringify({ ...v, event_id: 'demo-bad-tokens', kind: 'llm_call', llm: { model: 'gpt-4o', input_tokens: -5, output_tokens: 1 } }) },
    { key: 'bad', value: JSON.stringify({ ...v, event_id: 'demo-bad-future', ts: Date.now() + 86_400_000 }) },
    { key: 'bad', value: validSample },
  ];
}

export function registerDemo(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('demo')
    .description('the whole pipeline on a simulated fleet: produce to Kafka, ingest into ClickHouse, summarise')
    .option('--runs <n>', 'simulated agent runs', '300')
    .option('--seed <n>', 'random seed', String(Date.now() % 100_000))
    .action(async (opts: { runs: string; seed: string }) => {
      const ctx = createContext(env);
      const policy = await loadConfiguredPolicy(ctx);
      // The demo signs with a throwaway key unless one is configured: nothing outside it trusts that key.
      const keyRing: KeyRing = ctx.config.hmac ?? { activeKeyId: 'demo', keys: { demo: randomBytes(24).toString('hex') } };
      const store = await openConfiguredStore(ctx);
      try {
        await migrate(store);
        const kafka = await connectKafka(ctx);
        const runs = Number(opts.runs);
        const fleet = simulateFleet({ runs, seed: Number(opts.seed), startMs: Date.now() - runs * 2_000 - 120_000 });
        // Ids unique to this demo run, so a second demo adds to the tables instead of colliding.
        const tag = `demo${opts.seed}`;
        const messages = fleet.events.map((e) => ({ key: e.run_id, value: JSON.stringify({ ...e, event_id: `${tag}-${e.event_id}`, run_id: `${tag}-${e.run_id}` }) }));
        const bad = badMessages(messages[0]?.value ?? '{}');
        const groupId = 'runwarden-demo-ingest';
        const ingest = createIngestConsumer({ kafka, sink: store, topics: ctx.config.topics, logger: ctx.logger, groupId, priceTable: policy.pricing });
        let detected!: () => void;
        const allDetected = new Promise<void>((r) => (detected = r));
        const pipeline = createPipelineConsumer({
          kafka,
          sink: store,
          topics: ctx.config.topics,
          logger: ctx.logger,
          policy,
          keyRing,
          groupId: `runwarden-demo-detect-${tag}-${Date.now()}`,
          // A group of its own per demo: start at the end of the topic, not at older demos' events.
          fromBeginning: false,
          heartbeatIntervalMs: 1_000,
          onProgress: (s) => {
            if (s.events + s.invalid >= messages.length + bad.length) detected();
          },
        });
        await Promise.all([ingest.start(), pipeline.start()]);
        const t0 = Date.now();
        await produceEvents(kafka, ctx.config.topics.spans, [...messages, ...bad]);
        process.stderr.write(`produced ${messages.length} events of ${runs} runs (+${bad.length} bad ones) to ${ctx.config.topics.spans}\n`);
        const admin = kafka.admin();
        await admin.connect();
        await Promise.all([waitForCatchUp(admin, groupId, ctx.config.topics.spans, 120_000), allDetected]);
        await admin.disconnect();
        await Promise.all([ingest.stop(), pipeline.stop()]);
        const s = ingest.stats();
        const p = pipeline.stats();
        process.stderr.write(
          `ingested ${s.valid} valid events, ${Object.values(s.dlq).reduce((a, b) => a + (b ?? 0), 0)} to the DLQ; ` +
            `detectors issued ${Object.entries(p.commands).map(([a, n]) => `${n} ${a}`).join(', ') || 'no commands'} ` +
            `(${fleet.runs.filter((r) => r.behaviour !== 'normal').length} runaways injected), in ${Date.now() - t0} ms\n\n`,
        );
        await summarise(store);
      } finally {
        await store.close();
      }
    });
}

async function summarise(store: Store): Promise<void> {
  const spend = await store.query(
    `SELECT tenant_id, count() AS runs, sum(llm_calls) AS llm_calls, round(sum(cost_usd), 4) AS cost_usd
     FROM ${store.database}.runs GROUP BY tenant_id ORDER BY cost_usd DESC LIMIT 10`,
    z.object({ tenant_id: z.string(), runs: z.coerce.number(), llm_calls: z.coerce.number(), cost_usd: z.coerce.number() }),
  );
  process.stdout.write(`Spend by tenant (ClickHouse ${store.kind} ${store.version.text}, database ${store.database}):\n${renderTable(spend)}\n`);
  const top = await store.query(
    `SELECT run_id, agent_id, llm_calls, tool_calls, input_tokens + output_tokens AS tokens, round(cost_usd, 4) AS cost_usd
     FROM ${store.database}.runs ORDER BY cost_usd DESC LIMIT 5`,
    z.object({ run_id: z.string(), agent_id: z.string(), llm_calls: z.coerce.number(), tool_calls: z.coerce.number(), tokens: z.coerce.number(), cost_usd: z.coerce.number() }),
  );
  process.stdout.write(`Top runs by cost:\n${renderTable(top)}\n`);
  const dlq = await store.query(
    `SELECT reason, count() AS messages FROM ${store.database}.dlq_events GROUP BY reason ORDER BY messages DESC`,
    z.object({ reason: z.string(), messages: z.coerce.number() }),
  );
  process.stdout.write(`Dead-letter queue by reason:\n${renderTable(dlq)}\n`);
  const queue = await store.query(
    `SELECT scope_id AS run_id, reason_detector AS detector, reason_rule AS rule, reason_observed AS observed, reason_threshold AS threshold
     FROM ${store.database}.control_commands FINAL WHERE action = 'abort' ORDER BY issued_at_ms DESC LIMIT 8`,
    z.object({ run_id: z.string(), detector: z.string(), rule: z.string(), observed: z.coerce.number(), threshold: z.coerce.number() }),
  );
  process.stdout.write(`Aborted runs, newest first (runwarden sql -q investigation_queue has the full queue):\n${renderTable(queue)}\n`);
  process.stdout.write(
    `Next, as an analyst (npx runwarden sql --list shows every shipped query):\n` +
      `  npx runwarden sql -q investigation_queue\n` +
      `  npx runwarden sql "SELECT * FROM runs ORDER BY cost_usd DESC LIMIT 20"\n`,
  );
}
