import { defineConfig } from 'vitest/config';

// Three projects: `unit` is pure and fast (no I/O); `integration` talks to the real Kafka and
// ClickHouse that scripts/test.sh starts (or KAFKA_BROKERS / CLICKHOUSE_URL / testcontainers);
// `chaos` (npm run test:chaos) kills, cuts and floods them: crashes, outages, bad input at volume.
// `npm test` runs unit and integration; .ci/run runs both commands.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'src/**/*.test.ts', 'detectors/**/*.test.ts'],
          // Property tests and whole simulated fleets take seconds when the 2 cores are shared.
          testTimeout: 30_000,
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
      {
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
