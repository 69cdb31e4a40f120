import type { Command } from 'commander';
import { createIngestConsumer } from '../../../consumers/ingest.ts';
import { createKafka } from '../../kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../kafka/topics.ts';
import { migrate } from '../../store/migrate.ts';
import { createContext, loadConfiguredPolicy, openConfiguredStore } from '../context.ts';

export function registerStart(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('start')
    .description('run the consumers against Kafka and ClickHouse until SIGINT/SIGTERM')
    .option('--group-prefix <prefix>', 'consumer group prefix', 'runwarden')
    .option('--policy <file>', 'policy file (YAML or JSON); default RUNWARDEN_POLICY, else built-in defaults')
    .action(async (opts: { groupPrefix: string; policy?: string }) => {
      const ctx = createContext(env);
      // Validated before anything connects: a bad policy fails fast with what to fix.
      const policy = await loadConfiguredPolicy(ctx, opts.policy);
      const store = await openConfiguredStore(ctx);
      await migrate(store);
      const kafka = createKafka(ctx.config.kafka, ctx.logger);
      await ensureTopics(kafka, defaultTopicSpecs(ctx.config.topics));
      const ingest = createIngestConsumer({
        kafka,
        sink: store,
        topics: ctx.config.topics,
        logger: ctx.logger,
        groupId: `${opts.groupPrefix}-ingest`,
        priceTable: policy.pricing,
      });
      await ingest.start();
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          ctx.logger.info({ signal }, 'shutting down');
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      // Written order: stop fetching, flush sinks, commit offsets, disconnect; then the store.
      await ingest.stop();
      await store.close();
    });
}
