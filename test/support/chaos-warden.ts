import type { ChildProcess } from 'node:child_process';
import { topicsEnv, type Topics } from '../../src/config/env.ts';
import { CHAOS_KEY_RING } from './chaos-stream.ts';
import { clickhouseUrl, kafkaBrokers } from './services.ts';
import { spawnWarden } from './warden-process.ts';

export interface WardenEnvOptions {
  topics: Topics;
  database: string;
  brokers?: string[];
  logLevel?: string;
  /** Extra variables (RUNWARDEN_SHUTDOWN_TIMEOUT_MS, …). */
  extra?: Record<string, string>;
}

/**
 * The environment of a `runwarden start` under chaos: its own topics and database, the chaos
 * key ring, and short group sessions (6 s, the broker's minimum) so that the partitions of a
 * killed process move within seconds rather than the production default's 15–30 s.
 */
export function wardenEnv(options: WardenEnvOptions): Record<string, string | undefined> {
  return {
    ...process.env,
    KAFKA_BROKERS: (options.brokers ?? kafkaBrokers()).join(','),
    CLICKHOUSE_URL: clickhouseUrl(),
    CLICKHOUSE_DATABASE: options.database,
    ...topicsEnv(options.topics),
    RUNWARDEN_HMAC_KEYS: `${CHAOS_KEY_RING.activeKeyId}:${CHAOS_KEY_RING.keys[CHAOS_KEY_RING.activeKeyId] ?? ''}`,
    RUNWARDEN_KAFKA_SESSION_TIMEOUT_MS: '6000',
    RUNWARDEN_CHECKPOINT_INTERVAL_MS: '2000',
    LOG_LEVEL: options.logLevel ?? 'warn',
    ...options.extra,
  };
}

export interface RunningWarden {
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every stderr line (pino JSON under LOG_LEVEL), for asserting on logged events. */
  lines: string[];
}

/** `runwarden start <args>` as a real process; stderr is echoed (unless `quiet`) and kept. */
export function startWarden(args: readonly string[], env: Record<string, string | undefined>, quiet = false): RunningWarden {
  const child = spawnWarden(['start', ...args], env, quiet);
  const lines: string[] = [];
  let rest = '';
  child.stderr?.on('data', (d: Buffer) => {
    const parts = (rest + d.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, lines };
}
