import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/env.ts';
import { createLogger, redactUrl, type Logger } from '../log.ts';
import { DEFAULT_POLICY, PolicyError, loadPolicyFile, type Policy } from '../policy/policy.ts';
import type { Kafka } from 'kafkajs';
import type { KeyRing } from '../control/sign.ts';
import { createKafka } from '../kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../kafka/topics.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { CliError, EXIT } from './exit-codes.ts';

/** What every command gets: configuration parsed once from the environment, and a logger. */
export interface CliContext {
  config: Config;
  logger: Logger;
}

export function createContext(env: Record<string, string | undefined>): CliContext {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
  return { config, logger: createLogger(config.logLevel) };
}

/** The ClickHouse server when CLICKHOUSE_URL is set, the embedded chdb store otherwise. */
export async function openConfiguredStore(ctx: CliContext): Promise<Store> {
  const { clickhouse, dataDir } = ctx.config;
  try {
    if (clickhouse.url) {
      return await openStore({
        url: clickhouse.url,
        database: clickhouse.database,
        ...(clickhouse.username ? { username: clickhouse.username } : {}),
        ...(clickhouse.password ? { password: clickhouse.password } : {}),
      });
    }
    mkdirSync(dataDir, { recursive: true });
    return await openStore({ path: join(dataDir, 'chdb'), database: clickhouse.database });
  } catch (err) {
    const where = clickhouse.url !== undefined ? redactUrl(clickhouse.url) : `embedded store in ${dataDir}`;
    throw new CliError(
      `cannot open ClickHouse (${where}): ${redactUrl((err as Error).message)}\n` +
        'Start it (scripts/services.sh up) or set CLICKHOUSE_URL to a reachable server.',
      EXIT.unavailable,
    );
  }
}

/** The policy file named by RUNWARDEN_POLICY (or `--policy`), or every default without one. */
export async function loadConfiguredPolicy(ctx: CliContext, override?: string): Promise<Policy> {
  const path = override ?? ctx.config.policyPath;
  if (!path) return DEFAULT_POLICY;
  try {
    return await loadPolicyFile(path);
  } catch (err) {
    if (err instanceof PolicyError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** The signing keys; detection and operator commands cannot run without them. */
export function requireKeyRing(ctx: CliContext): KeyRing {
  if (ctx.config.hmac) return ctx.config.hmac;
  throw new CliError(
    'RUNWARDEN_HMAC_KEYS is not set: commands must be signed with a secret the agents\' guards share.\n' +
      'Set RUNWARDEN_HMAC_KEYS=key-id:secret (secret ≥ 16 characters; several keys comma-separated for rotation, ' +
      'RUNWARDEN_HMAC_ACTIVE_KEY names the one that signs).',
    EXIT.usage,
  );
}

/** A Kafka client with runwarden's topics in place; an unreachable cluster exits with EXIT.unavailable. */
export async function connectKafka(ctx: CliContext): Promise<Kafka> {
  let kafka: Kafka;
  try {
    kafka = createKafka(ctx.config.kafka, ctx.logger);
  } catch (err) {
    // The TLS files are read here: a path that does not exist is a configuration error.
    throw new CliError(`cannot read a Kafka TLS file (KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE): ${(err as Error).message}`, EXIT.usage);
  }
  try {
    await ensureTopics(kafka, defaultTopicSpecs(ctx.config.topics));
  } catch (err) {
    throw kafkaUnavailable(ctx, 'cannot reach Kafka', err);
  }
  return kafka;
}

/** The error for a Kafka cluster that did not answer, with what to do about it. */
export function kafkaUnavailable(ctx: CliContext, what: string, err: unknown, advice = 'Start it (scripts/services.sh up) or set KAFKA_BROKERS.'): CliError {
  return new CliError(`${what} at ${ctx.config.kafka.brokers.join(',')}: ${(err as Error).message}\n${advice}`, EXIT.unavailable);
}

/** Resolves with the signal's name at the first SIGINT or SIGTERM. */
export function untilShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
