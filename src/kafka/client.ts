import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type KafkaConfig as KafkaJsConfig, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config/env.ts';
import type { Logger } from '../log.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

/**
 * The one place where runwarden's Kafka settings become kafkajs options: brokers, TLS (CA,
 * client certificate and key, rejectUnauthorized) and SASL (plain, scram-sha-256/512).
 * `readFile` reads the PEM files (injected by unit tests).
 */
export function kafkaJsConnectionOptions(options: KafkaConfig, readFile: (path: string) => Buffer = (p) => readFileSync(p)): Pick<KafkaJsConfig, 'clientId' | 'brokers' | 'ssl' | 'sasl'> {
  const out: Pick<KafkaJsConfig, 'clientId' | 'brokers' | 'ssl' | 'sasl'> = { clientId: options.clientId, brokers: options.brokers, ssl: options.ssl };
  if (options.ssl && options.tls) {
    const t = options.tls;
    const tls: ConnectionOptions = { rejectUnauthorized: t.rejectUnauthorized };
    if (t.caFile !== undefined) tls.ca = [readFile(t.caFile)];
    if (t.certFile !== undefined) tls.cert = readFile(t.certFile);
    if (t.keyFile !== undefined) tls.key = readFile(t.keyFile);
    if (t.keyPassword !== undefined) tls.passphrase = t.keyPassword;
    out.ssl = tls;
  }
  if (options.sasl) {
    const { mechanism, username, password } = options.sasl;
    // kafkajs types each mechanism as its own object; all three take username and password.
    const sasl: SASLOptions =
      mechanism === 'plain' ? { mechanism, username, password } : mechanism === 'scram-sha-256' ? { mechanism, username, password } : { mechanism, username, password };
    out.sasl = sasl;
  }
  return out;
}

/** Builds a kafkajs client from validated options; kafkajs logs go through our pino logger. */
export function createKafka(options: KafkaConfig, logger?: Logger): Kafka {
  const config: KafkaJsConfig = {
    ...kafkaJsConnectionOptions(options),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 100, retries: 8 },
  };
  if (logger) {
    const child = logger.child({ component: 'kafkajs' });
    config.logCreator = () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      const level = entry.level <= logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'debug';
      child[level]({ ns: entry.namespace, ...rest }, message);
    };
  } else {
    config.logCreator = () => () => undefined;
  }
  const kafka = new Kafka(config);
  configs.set(kafka, config);
  return kafka;
}

/** The config each client of createKafka was built with, so that a sibling can be built from it. */
const configs = new WeakMap<Kafka, KafkaJsConfig>();

/**
 * A second kafkajs client with the same settings as `kafka` (built by createKafka), or `kafka`
 * itself when it was built elsewhere.
 *
 * Every client made by one kafkajs `Kafka` shares a map of committed offsets per group, and a
 * transactional producer's `sendOffsets` writes into it BEFORE its transaction commits. A consumer
 * of the same group that rejoins meanwhile then starts fetching from offsets that may never be
 * committed (the transaction can still abort), past the state restored from the last commit: a
 * silent gap. Transactional producers therefore get a client of their own.
 */
export function siblingKafka(kafka: Kafka): Kafka {
  const config = configs.get(kafka);
  return config ? new Kafka(config) : kafka;
}

/**
 * The producer for anything that must arrive once and in order (DLQ, commands, findings):
 * idempotent with one request in flight. Its retries are bounded by time, not by count — kafkajs
 * warns that counting them could break the idempotence guarantee.
 */
export function createReliableProducer(kafka: Kafka, maxRetryTimeMs = 30_000): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: maxRetryTimeMs } });
}

/**
 * A transactional producer (checkpoints and partials committed atomically with consumer offsets).
 * `transactionalId` should be stable across restarts of the same process slot, so that a restart
 * fences the transaction a crashed predecessor left open; the broker aborts one after `timeoutMs`.
 */
export function createTransactionalProducer(kafka: Kafka, transactionalId: string, timeoutMs: number, maxRetryTimeMs = 30_000): Producer {
  // Its own client: see siblingKafka (sendOffsets marks offsets committed in the shared map early).
  return siblingKafka(kafka).producer({
    transactionalId,
    transactionTimeout: timeoutMs,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: maxRetryTimeMs },
  });
}
