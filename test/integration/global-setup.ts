import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Resolves the services for the integration project, in this order:
 * 1. KAFKA_BROKERS / CLICKHOUSE_URL from the environment;
 * 2. testcontainers, when a Docker engine answers;
 * 3. the local services of scripts/services.sh (started here if they are not running).
 */
export default async function setup(): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<unknown>> = [];
  const needKafka = !process.env.KAFKA_BROKERS;
  const needClickhouse = !process.env.CLICKHOUSE_URL;
  if (needKafka || needClickhouse) {
    if (await dockerAnswers()) {
      const tc = await import('testcontainers');
      if (needKafka) {
        const kafka = await new tc.GenericContainer('apache/kafka:4.1.1')
          .withExposedPorts(9092)
          .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
          .start();
        process.env.KAFKA_BROKERS = `${kafka.getHost()}:${kafka.getMappedPort(9092)}`;
        stops.push(() => kafka.stop());
      }
      if (needClickhouse) {
        const ch = await new tc.GenericContainer('clickhouse/clickhouse-server:25.8')
          .withExposedPorts(8123)
          .withWaitStrategy(tc.Wait.forHttp('/ping', 8123))
          .start();
        process.env.CLICKHOUSE_URL = `http://${ch.getHost()}:${ch.getMappedPort(8123)}`;
        stops.push(() => ch.stop());
      }
    } else {
      const which = needKafka && needClickhouse ? 'all' : needKafka ? 'kafka' : 'clickhouse';
      await run('bash', ['scripts/services.sh', 'up', which], { cwd: root });
      process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
      process.env.CLICKHOUSE_URL ??= 'http://127.0.0.1:8123';
    }
  }
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}

async function dockerAnswers(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}
