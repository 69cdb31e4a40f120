import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure and fast (no I/O); `integration` talks to the real Kafka and
// ClickHouse that scripts/test.sh starts (or KAFKA_BROKERS / CLICKHOUSE_URL / testcontainers).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'src/**/*.test.ts', 'detectors/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One broker and one server on 2 cores: run the integration files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
