import { topicsWithPrefix } from '../../src/config/env.ts';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPipelineConsumer, type PipelineConsumer } from '../../consumers/pipeline.ts';
import { CONTROL_SCHEMA_VERSION } from '../../src/contracts/control.ts';
import { commandId } from '../../src/control/command-id.ts';
import { signCommand, type KeyRing } from '../../src/control/sign.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createLogger } from '../../src/log.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import { createGuard, RunAbortedError, WardenUnavailableError, type Guard, type GuardEvent } from '../../src/sdk/index.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const secret = 'enforcement-test-secret-0123456789';
const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: secret } };
const HEARTBEAT_MS = 200;
const HEARTBEAT_TIMEOUT_MS = 1_500;

interface AgentOutcome {
  event: 'aborted' | 'completed';
  call?: number;
  calls?: number;
  details?: { detector: string; rule: string; observed: number; threshold: number; action: string };
}

/** Runs test/support/agent-process.ts as its own process and resolves with its outcome line. */
function runAgent(env: Record<string, string>): Promise<AgentOutcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/agent-process.ts'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as AgentOutcome | { event: 'ready' };
      if (parsed.event !== 'ready') resolve(parsed);
    });
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`agent exited ${code}: ${stderr}`))));
  });
}

/** Resolves with the first guard event that matches, from a listener the guard calls. */
function eventsOf(): { onEvent: (e: GuardEvent) => void; next: (match: (e: GuardEvent) => boolean) => Promise<GuardEvent> } {
  const waiters: Array<{ match: (e: GuardEvent) => boolean; resolve: (e: GuardEvent) => void }> = [];
  return {
    onEvent(e) {
      for (const w of [...waiters]) {
        if (w.match(e)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    },
    next: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
  };
}

describe('enforcement end to end: SDK agent → Kafka → pipeline → signed command → guard', () => {
  let kafka: Kafka;
  let pipeline: PipelineConsumer;
  const id = uniqueName('enf');
  const topics = topicsWithPrefix(id);
  const agentEnv = {
    AGENT_BROKERS: kafkaBrokers().join(','),
    AGENT_KEY: `k1:${secret}`,
    AGENT_SPANS_TOPIC: topics.spans,
    AGENT_CONTROL_TOPIC: topics.control,
    AGENT_STEP_MS: '400',
  };

  /** The detect stage in this process, in the same consumer group each time (a restart resumes it). */
  async function startPipeline(): Promise<PipelineConsumer> {
    const started = createPipelineConsumer({
      kafka,
      sink: { insert: async () => undefined },
      topics,
      logger: createLogger('warn'),
      policy: DEFAULT_POLICY,
      keyRing,
      groupId: `${id}-detect`,
      heartbeatIntervalMs: HEARTBEAT_MS,
    });
    await started.start();
    return started;
  }

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-test', ssl: false });
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    pipeline = await startPipeline();
  });

  afterAll(async () => {
    await pipeline.stop();
  });

  it('an agent looping on one tool with identical arguments is stopped before its 7th call', async () => {
    const outcome = await runAgent({ ...agentEnv, AGENT_SCENARIO: 'loop', AGENT_RUN_ID: uniqueName('loop') });
    expect(outcome.event).toBe('aborted');
    expect(outcome.call).toBe(7);
    expect(outcome.details).toMatchObject({ detector: 'tool-loop', rule: 'identical_consecutive', observed: 6, threshold: 5 });
  });

  it('a run capped at 4 LLM calls by its own limits stops at the cap', async () => {
    const outcome = await runAgent({ ...agentEnv, AGENT_SCENARIO: 'llm', AGENT_MAX_LLM_CALLS: '4', AGENT_RUN_ID: uniqueName('cap') });
    expect(outcome.event).toBe('aborted');
    expect(outcome.call).toBe(5);
    expect(outcome.details).toMatchObject({ detector: 'step-cap', rule: 'llm_calls_abort', observed: 4, threshold: 4 });
  });

  describe('with a guard in this process', () => {
    let guard: Guard;
    const events = eventsOf();
    const ctx = (runId: string, tenantId = 'tenant-a') => ({ runId, agentId: 'agent-e2e', tenantId, userId: 'u1' });

    beforeAll(async () => {
      guard = createGuard({ kafka, keyRing, topic: topics.control, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, onEvent: events.onEvent });
      await guard.start();
    });

    afterAll(async () => {
      await guard.stop();
    });

    it('a forged abort is ignored and counted', async () => {
      const forger: KeyRing = { activeKeyId: 'k1', keys: { k1: 'not-the-shared-secret-at-all' } };
      const runId = uniqueName('victim');
      const forged = signCommand(
        {
          schema: CONTROL_SCHEMA_VERSION,
          command_id: commandId('forged', runId),
          issued_at: Date.now(),
          action: 'abort',
          scope: { kind: 'run', id: runId },
          reason: { detector: 'tool-loop', rule: 'identical_consecutive', observed: 99, threshold: 5, finding_id: 'forged' },
          expires_at: Date.now() + 60_000,
        },
        forger,
      );
      const rejected = events.next((e) => e.type === 'rejected' && e.reason === 'bad_signature');
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: topics.control, messages: [{ key: runId, value: JSON.stringify(forged) }] });
      await producer.disconnect();
      await rejected;
      await expect(guard.check(ctx(runId))).resolves.toBeUndefined();
      expect(guard.stats().rejected.bad_signature).toBeGreaterThanOrEqual(1);
    });

    it('a tenant kill switch blocks that tenant\'s next step, resume lifts it (CLI, signed and audited)', async () => {
      const database = uniqueName('rw_enf');
      const env = {
        ...process.env,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        CLICKHOUSE_URL: clickhouseUrl(),
        CLICKHOUSE_DATABASE: database,
        RUNWARDEN_TOPIC_CONTROL: topics.control,
        RUNWARDEN_HMAC_KEYS: `k1:${secret}`,
        LOG_LEVEL: 'warn',
      };
      const cli = (args: string[]) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, ['bin/runwarden.js', ...args], { cwd: root, env, stdio: 'ignore' });
          child.once('exit', resolve);
        });
      const killed = events.next((e) => e.type === 'applied' && e.command.action === 'kill_switch');
      expect(await cli(['kill-switch', '--scope', 'tenant:tenant-a', '--reason', 'incident drill'])).toBe(0);
      await killed;
      const blocked = await guard.check(ctx('any-run', 'tenant-a')).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(blocked).toBeInstanceOf(RunAbortedError);
      expect((blocked as RunAbortedError).details).toMatchObject({ action: 'kill_switch', scope: { kind: 'tenant', id: 'tenant-a' } });
      await expect(guard.check(ctx('other-run', 'tenant-b'))).resolves.toBeUndefined();

      const resumed = events.next((e) => e.type === 'applied' && e.command.action === 'resume');
      expect(await cli(['resume', '--scope', 'tenant:tenant-a'])).toBe(0);
      await resumed;
      await expect(guard.check(ctx('any-run', 'tenant-a'))).resolves.toBeUndefined();

      // Both commands are in the audit trail, marked as an operator's.
      const store = await createServerStore({ url: clickhouseUrl(), database });
      try {
        const audited = await store.query(`SELECT action, source FROM control_commands FINAL ORDER BY issued_at_ms`, z.object({ action: z.string(), source: z.string() }));
        expect(audited).toEqual([
          { action: 'kill_switch', source: 'operator' },
          { action: 'resume', source: 'operator' },
        ]);
      } finally {
        await store.exec(`DROP DATABASE IF EXISTS ${database}`);
        await store.close();
      }
    });

    it('stopping the pipeline makes the guard fail closed within its heartbeat timeout', async () => {
      await expect(guard.check(ctx('alive'))).resolves.toBeUndefined();
      const stoppedAt = Date.now();
      await pipeline.stop();
      // Waiting for time itself to pass is the point here: poll until the guard gives up.
      let err: unknown;
      while (err === undefined && Date.now() - stoppedAt < HEARTBEAT_TIMEOUT_MS + 5_000) {
        err = await guard.check(ctx('alive')).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      const after = Date.now() - stoppedAt;
      expect(err).toBeInstanceOf(WardenUnavailableError);
      // The last beat may have left just before the stop: silence is noticed within timeout + one interval.
      expect(after).toBeLessThanOrEqual(HEARTBEAT_TIMEOUT_MS + HEARTBEAT_MS + 500);
      // A pipeline that is back makes the guard pass again once its first heartbeat arrives.
      const beat = events.next((e) => e.type === 'applied' && e.command.action === 'heartbeat');
      pipeline = await startPipeline();
      await beat;
      await expect(guard.check(ctx('alive'))).resolves.toBeUndefined();
    });
  });
});
