import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
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
        // The broker must advertise the address clients reach it on, known only once a host port
        // is chosen: take a free one first and bind the container's listener to it.
        const port = await freePort();
        const kafka = await new tc.GenericContainer('apache/kafka:4.1.1')
          .withExposedPorts({ container: 9092, host: port })
          .withEnvironment({
            KAFKA_NODE_ID: '1',
            KAFKA_PROCESS_ROLES: 'broker,controller',
            KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093,INTERNAL://:19092',
            KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port},INTERNAL://localhost:19092`,
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT',
            KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
            KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
            KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
            // The pipeline and the cohort stage commit with Kafka transactions.
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
          })
          .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
          .start();
        process.env.KAFKA_BROKERS = `127.0.0.1:${port}`;
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

/** A TCP port free on the loopback interface right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
