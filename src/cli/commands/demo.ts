import type { Command } from 'commander';
import { z } from 'zod';
import { createIngestConsumer } from '../../../consumers/ingest.ts';
import { createKafka } from '../../kafka/client.ts';
import { waitForCatchUp } from '../../kafka/lag.ts';
import { defaultTopicSpecs, ensureTopics } from '../../kafka/topics.ts';
import { simulateFleet } from '../../sim/fleet.ts';
import { migrate } from '../../store/migrate.ts';
import type { Store } from '../../store/store.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { createContext, openConfiguredStore } from '../context.ts';
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
      const store = await openConfiguredStore(ctx);
      try {
        await migrate(store);
        const kafka = createKafka(ctx.config.kafka);
        try {
          await ensureTopics(kafka, defaultTopicSpecs(ctx.config.topics));
        } catch (err) {
          throw new CliError(
            `cannot reach Kafka at ${ctx.config.kafka.brokers.join(',')}: ${(err as Error).message}\n` +
              'Start it (scripts/services.sh up) or set KAFKA_BROKERS.',
            EXIT.unavailable,
          );
        }
        const runs = Number(opts.runs);
        const fleet = simulateFleet({ runs, seed: Number(opts.seed), startMs: Date.now() - runs * 2_000 - 120_000 });
        const messages = fleet.events.map((e) => ({ key: e.run_id, value: JSON.stringify({ ...e, event_id: `${opts.seed}-${e.event_id}` }) }));
        const groupId = 'runwarden-demo-ingest';
        const ingest = createIngestConsumer({ kafka, sink: store, topics: ctx.config.topics, logger: ctx.logger, groupId });
        await ingest.start();
        const t0 = Date.now();
        await produceEvents(kafka, ctx.config.topics.spans, [...messages, ...badMessages(messages[0]?.value ?? '{}')]);
        process.stderr.write(`produced ${messages.length} events of ${runs} runs (+5 bad ones) to ${ctx.config.topics.spans}\n`);
        const admin = kafka.admin();
        await admin.connect();
        await waitForCatchUp(admin, groupId, ctx.config.topics.spans, 120_000);
        await admin.disconnect();
        await ingest.stop();
        const s = ingest.stats();
        process.stderr.write(
          `ingested ${s.valid} valid events, ${Object.values(s.dlq).reduce((a, b) => a + (b ?? 0), 0)} to the DLQ, in ${Date.now() - t0} ms\n\n`,
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
  process.stdout.write(
    `Next, as an analyst:\n  npx runwarden sql "SELECT * FROM ${store.database}.runs ORDER BY cost_usd DESC LIMIT 20"\n` +
      `  (analyst queries live in sql/queries/)\n`,
  );
}
