import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka, Producer } from 'kafkajs';
import type { UnsignedControlCommand } from '../../src/contracts/control.ts';
import { heartbeatCommand, killSwitchCommand, resumeCommand } from '../../src/control/operator.ts';
import { signCommand, type KeyRing } from '../../src/control/sign.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { createGuard, RunAbortedError, WardenUnavailableError, type Guard, type GuardEvent, type GuardOptions } from '../../src/sdk/index.ts';
import { kafkaBrokers, uniqueName } from '../support/services.ts';

const RING: KeyRing = { activeKeyId: 'k1', keys: { k1: 'guard-it-shared-secret-0123456789' } };
const ctx = (runId: string, tenantId = 'acme') => ({ runId, tenantId, userId: 'u1', agentId: 'support-bot' });

function abortFor(runId: string, extra: Partial<UnsignedControlCommand> = {}): UnsignedControlCommand {
  const now = Date.now();
  return {
    schema: 'runwarden.control/v1',
    command_id: uniqueName(`abort-${runId}`),
    issued_at: now,
    action: 'abort',
    scope: { kind: 'run', id: runId },
    reason: { detector: 'tool-loop', rule: 'identical_consecutive', observed: 6, threshold: 5, finding_id: `f-${runId}` },
    expires_at: now + 600_000,
    ...extra,
  };
}
const sign = (c: UnsignedControlCommand, ring = RING) => JSON.stringify(signCommand(c, ring));
let beats = 0;
const beat = () => sign(heartbeatCommand({ issuedAt: Date.now(), sequence: ++beats, wardenId: 'it-warden' }));

/**
 * Every guard event, and promises for those still to come: the tests wait for the guard to
 * have processed a given offset, never for a fixed time.
 */
function eventLog() {
  const events: GuardEvent[] = [];
  const waiters: Array<{ match: (e: GuardEvent) => boolean; resolve: (e: GuardEvent) => void }> = [];
  return {
    events,
    onEvent(e: GuardEvent) {
      events.push(e);
      for (const w of [...waiters]) {
        if (!w.match(e)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    },
    until(match: (e: GuardEvent) => boolean, timeoutMs = 30_000): Promise<GuardEvent> {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching guard event within ${timeoutMs} ms; got ${JSON.stringify(events.map((x) => x.type))}`)), timeoutMs);
        waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
  };
}

const sourceOffset = (e: GuardEvent): bigint | undefined =>
  (e.type === 'applied' || e.type === 'warn' || e.type === 'rejected') && e.source !== undefined ? BigInt(e.source.offset) : undefined;

describe('guard: control topic → verify → check() (real Kafka)', () => {
  let kafka: Kafka;
  let producer: Producer;
  const guards: Guard[] = [];

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-guard-test', ssl: false });
    producer = kafka.producer();
    await producer.connect();
    return async () => {
      await producer.disconnect();
    };
  });

  afterEach(async () => {
    await Promise.all(guards.splice(0).map((g) => g.stop()));
  });

  /** A fresh control topic for one test. */
  async function freshTopic(partitions = 1): Promise<string> {
    const topic = uniqueName('guard-control');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }] });
    } finally {
      await admin.disconnect();
    }
    return topic;
  }

  async function startGuard(topic: string, options: Partial<GuardOptions> = {}) {
    const log = eventLog();
    const guard = createGuard({ kafka, keyRing: RING, topic, heartbeatTimeoutMs: 60_000, onEvent: log.onEvent, ...options });
    guards.push(guard);
    await guard.start();
    return { guard, log };
  }

  /** Produces the values in order (partition 0) and returns the offset of the last one. */
  async function produce(topic: string, values: string[], timestamp?: number): Promise<bigint> {
    const [meta] = await producer.send({
      topic,
      acks: -1,
      messages: values.map((value) => ({ key: 'k', value, partition: 0, ...(timestamp === undefined ? {} : { timestamp: String(timestamp) }) })),
    });
    return BigInt(meta!.baseOffset!) + BigInt(values.length - 1);
  }

  /** Resolves once the guard has processed every message up to `offset`. */
  const processed = (log: ReturnType<typeof eventLog>, offset: bigint) => log.until((e) => (sourceOffset(e) ?? -1n) >= offset);

  it('a signed abort stops run r1 with its reason; run r2 goes on', async () => {
    const topic = await freshTopic();
    const { guard, log } = await startGuard(topic);
    const abort = abortFor('r1');
    await processed(log, await produce(topic, [beat(), sign(abort)]));

    const err = await guard.check(ctx('r1')).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RunAbortedError);
    expect((err as RunAbortedError).details).toEqual({
      commandId: abort.command_id,
      action: 'abort',
      scope: { kind: 'run', id: 'r1' },
      detector: 'tool-loop',
      rule: 'identical_consecutive',
      observed: 6,
      threshold: 5,
      findingId: 'f-r1',
    });
    await expect(guard.check(ctx('r2'))).resolves.toBeUndefined();
    expect(guard.stats()).toMatchObject({ applied: 2, heartbeats: 1, steps: { aborted: 1 } });
  });

  it('unsigned, forged, wrong-key, expired and replayed commands are counted by reason and take no effect', async () => {
    const topic = await freshTopic();
    const { guard, log } = await startGuard(topic);
    const genuine = signCommand(abortFor('victim-0'), RING);
    const replayed = sign(abortFor('victim-5', { scope: { kind: 'tenant', id: 'other-tenant' } }));
    const last = await produce(topic, [
      beat(),
      JSON.stringify(abortFor('victim-1')), // unsigned
      JSON.stringify({ ...abortFor('victim-2'), key_id: 'k1', signature: genuine.signature }), // forged: another body's signature
      sign(abortFor('victim-3'), { activeKeyId: 'k-rogue', keys: { 'k-rogue': 'a-key-the-guard-does-not-hold' } }), // wrong key
      sign(abortFor('victim-4', { issued_at: Date.now() - 120_000, expires_at: Date.now() - 60_000 })), // expired
      replayed,
      replayed, // the same message again
    ]);
    await processed(log, last);

    expect(guard.stats().rejected).toEqual({ malformed: 0, unsigned: 1, bad_signature: 1, unknown_key: 1, expired: 1, replayed: 1 });
    for (const victim of ['victim-1', 'victim-2', 'victim-3', 'victim-4']) await expect(guard.check(ctx(victim))).resolves.toBeUndefined();
    // The replayed command's first copy took effect (a tenant abort); its replay changed nothing more.
    await expect(guard.check(ctx('x', 'other-tenant'))).rejects.toBeInstanceOf(RunAbortedError);
    expect(guard.live()).toHaveLength(1);
    const rejected = log.events.filter((e) => e.type === 'rejected');
    expect(rejected.map((e) => e.type === 'rejected' && [e.reason, e.source?.offset])).toEqual([
      ['unsigned', '1'],
      ['bad_signature', '2'],
      ['unknown_key', '3'],
      ['expired', '4'],
      ['replayed', '6'],
    ]);
  });

  it('a kill switch on a tenant blocks its steps until a resume on that tenant lifts it', async () => {
    const topic = await freshTopic();
    const { guard, log } = await startGuard(topic);
    const at = Date.now();
    await processed(log, await produce(topic, [beat(), sign(killSwitchCommand({ scope: { kind: 'tenant', id: 'acme' }, issuedAt: at, note: 'incident drill' }))]));

    const err = await guard.check(ctx('any-run')).then(() => undefined, (e: unknown) => e);
    expect((err as RunAbortedError).details).toMatchObject({ action: 'kill_switch', scope: { kind: 'tenant', id: 'acme' }, note: 'incident drill' });
    await expect(guard.check(ctx('any-run', 'globex'))).resolves.toBeUndefined();

    // A resume on another scope lifts nothing; on the tenant it lifts the switch.
    await processed(log, await produce(topic, [sign(resumeCommand({ scope: { kind: 'tenant', id: 'globex' }, issuedAt: at + 1 }))]));
    await expect(guard.check(ctx('any-run'))).rejects.toBeInstanceOf(RunAbortedError);
    await processed(log, await produce(topic, [sign(resumeCommand({ scope: { kind: 'tenant', id: 'acme' }, issuedAt: at + 2 }))]));
    await expect(guard.check(ctx('any-run'))).resolves.toBeUndefined();
  });

  it('without a heartbeat it fails closed by default and open when told to; a heartbeat lets steps through', async () => {
    const topic = await freshTopic();
    const closed = await startGuard(topic);
    const open = await startGuard(topic, { failMode: 'open' });

    const err = await closed.guard.check(ctx('r1')).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WardenUnavailableError);
    expect((err as WardenUnavailableError).silentForMs).toBeNull();
    await expect(open.guard.check(ctx('r1'))).resolves.toBeUndefined();
    expect(open.log.events).toContainEqual({ type: 'warden_unavailable', silentForMs: null, failMode: 'open' });

    const offset = await produce(topic, [beat()]);
    await Promise.all([processed(closed.log, offset), processed(open.log, offset)]);
    await expect(closed.guard.check(ctx('r1'))).resolves.toBeUndefined();
  });

  it('a heartbeat older than the timeout does not count (a dead warden stays dead across a restart)', async () => {
    const topic = await freshTopic();
    const old = sign(heartbeatCommand({ issuedAt: Date.now() - 120_000, sequence: 1, wardenId: 'dead-warden' }));
    await produce(topic, [old]);
    const { guard } = await startGuard(topic, { heartbeatTimeoutMs: 15_000 });
    expect(guard.stats().heartbeats).toBe(1);
    await expect(guard.check(ctx('r1'))).rejects.toBeInstanceOf(WardenUnavailableError);
  });

  it('a guard started after the commands were sent still sees them (lookback), not those before it', async () => {
    const topic = await freshTopic(2);
    const tooOld = Date.now() - 2 * 3_600_000;
    await produce(topic, [sign(abortFor('ancient', { expires_at: Date.now() + 3_600_000 }))], tooOld);
    await produce(topic, [beat(), sign(abortFor('r1')), sign(killSwitchCommand({ scope: { kind: 'user', id: 'u-banned' }, issuedAt: Date.now() }))]);

    // start() resolves only once caught up: no waiting on events here.
    const { guard } = await startGuard(topic, { lookbackMs: 3_600_000 });
    await expect(guard.check(ctx('r1'))).rejects.toBeInstanceOf(RunAbortedError);
    await expect(guard.check({ runId: 'r2', userId: 'u-banned' })).rejects.toMatchObject({ details: { action: 'kill_switch' } });
    await expect(guard.check(ctx('ancient'))).resolves.toBeUndefined();
    expect(guard.stats()).toMatchObject({ applied: 3, heartbeats: 1 });
  });

  it('stop() is idempotent, and start() after stop() is refused', async () => {
    const topic = await freshTopic();
    const { guard } = await startGuard(topic);
    await Promise.all([guard.stop(), guard.stop()]);
    await guard.stop();
    await expect(guard.start()).rejects.toThrow(/after stop/);
  });
});
