import { randomBytes } from 'node:crypto';

/**
 * Where the integration tests find Kafka and ClickHouse. test/integration/global-setup.ts
 * resolves them once (KAFKA_BROKERS / CLICKHOUSE_URL first, testcontainers when a Docker engine
 * answers, the local services from scripts/services.sh otherwise) and exports them here via the
 * environment, so every test file sees the same services.
 */
export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
}

export function clickhouseUrl(): string {
  return process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
}

/** A fresh name for a per-test topic, database or group: `prefix_<hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}
