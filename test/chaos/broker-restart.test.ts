import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { topicsWithPrefix } from '../../src/config/env.ts';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createSpanEmitter, type EmitInput, type SpanEmitter } from '../../src/sdk/emitter.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { recordScenario, type Trial } from '../support/chaos-results.ts';
import { awaitReplayCommands, chaosStream, conflictingIds, controlLog, oracleOf } from '../support/chaos-stream.ts';
import { startWarden, wardenEnv, type RunningWarden } from '../support/chaos-warden.ts';
import { auditDiff, cleanPassStore, controlDiff, rollupDiffs, spanCounts } from '../support/clean-pass.ts';
import { startDedicatedBroker, type DedicatedBroker } from '../support/dedicated-broker.ts';
import { caughtUp, endMarks } from '../support/group-progress.ts';
import { clickhouseUrl, uniqueName } from '../support/services.ts';
import { tailTopic, type TopicTail } from '../support/topic-tail.ts';
import { until } from '../support/warden-process.ts';

const COMMAND = 'flock /tmp/runwarden-heavy.lock npx vitest run --project chaos test/chaos/broker-restart.test.ts';
/** How long the broker stays down per outage (ms). */
const DOWN_MS = 10_000;
const OUTAGES = [{ signal: 'SIGTERM' }, { signal: 'SIGKILL' }] as const;
const SEED = 4_242;

const dlqRow = z.object({ reason: z.string(), n: z.coerce.number() });

/** A stream event as the SDK takes it (the emitter stamps `schema`). */
const toEmit = (e: SpanEventInput): EmitInput => {
  const rest: Partial<SpanEventInput> = { ...e };
  delete rest.schema;
  return rest as EmitInput;
};

describe('Kafka broker restart under load: SDK producers and the consumers reconnect, nothing lost or counted twice', () => {
  let broker: DedicatedBroker;
  let kafka: Kafka;
  let admin: Admin;
  let topicOfSpans = '';
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    // Never the shared broker (nor a KAFKA_BROKERS the user gave): one of this test's own.
    broker = await startDedicatedBroker();
    cleanups.push(() => broker.destroy());
    // Client-side retries of the test's own clients span an outage (the warden's are its own business).
    kafka = createKafka({ brokers: broker.brokers, clientId: 'rw-chaos', ssl: false });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it(`${OUTAGES.length} outages of ${DOWN_MS / 1000} s (controlled stop, then kill -9) while agents emit and the warden consumes`, async () => {
    const id = uniqueName('brk');
    const topics = topicsWithPrefix(id);
    const database = uniqueName('rw_brk');
    const refDatabase = uniqueName('rw_brkref');
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    const events = chaosStream(900, SEED);
    const oracle = oracleOf(events);
    const reference = cleanPassStore(events, refDatabase);
    const store: Store = await createServerStore({ url: clickhouseUrl(), database });
    cleanups.push(async () => {
      const ref = await reference;
      for (const [s, db] of [[ref, refDatabase], [store, database]] as const) {
        await s.exec(`DROP DATABASE IF EXISTS ${db}`);
        await s.close();
      }
    });
    const env = wardenEnv({ topics, database, brokers: broker.brokers, logLevel: 'error' });
    const groups = { ingest: `${id}-ingest`, detect: `${id}-detect` };
    const warden: RunningWarden = startWarden(['--group-prefix', id, '--instance-id', 'brk-0'], env);
    cleanups.push(async () => {
      warden.child.kill('SIGKILL');
      await warden.exited;
    });

    // The agents: SDK emitters (one per agent) sending the stream at a steady pace, keeping no
    // more than their bounded queue while the broker is away.
    const errors: unknown[] = [];
    const emitters = new Map<string, SpanEmitter>();
    const emitterOf = (agent: string) => {
      let e = emitters.get(agent);
      if (!e) {
        // Few client retries (~1.5 s): the outage reaches the emitter, whose own buffering and
        // retry must carry the events across it (a plain producer: a re-sent batch may duplicate,
        // which the event_id dedup downstream absorbs).
        e = createSpanEmitter({ producer: kafka.producer({ retry: { retries: 3, initialRetryTime: 100 } }), agentId: agent, tenantId: 'chaos', topic: topics.spans, maxQueue: 50_000, onError: (err) => errors.push(err) });
        emitters.set(agent, e);
      }
      return e;
    };
    const perSecond = events.length / 45;
    let emitted = 0;
    const emitting = (async () => {
      const t0 = Date.now();
      while (emitted < events.length) {
        const upto = Math.min(emitted + 25, events.length);
        for (const e of events.slice(emitted, upto)) emitterOf(e.agent_id).emit(toEmit(e));
        emitted = upto;
        const due = t0 + (emitted / perSecond) * 1_000;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      }
    })();
    const control = await tailTopic(kafka, topics.control);
    cleanups.push(() => control.stop());

    const trials: Trial[] = [];
    for (const [i, outage] of OUTAGES.entries()) {
      // Under load: the warden caught up once with what is flowing, then the broker goes.
      const marks = await endMarks(admin, topics.spans);
      await until('the warden following the stream', () => caughtUp(admin, topics.spans, marks, groups), 120_000);
      await new Promise((r) => setTimeout(r, 2_000));
      const atOutage = emitted;
      const downAt = Date.now();
      await broker.stop(outage.signal);
      await new Promise((r) => setTimeout(r, Math.max(0, downAt + DOWN_MS - Date.now())));
      await broker.start();
      const upAt = Date.now();
      // Recovered: what the agents emitted until the broker came back is delivered and consumed.
      const atRestart = emitted;
      await until('the emitters delivered their backlog', async () => [...emitters.values()].every((e) => e.stats().queued === 0), 120_000);
      const after = await endMarks(admin, topics.spans);
      await until('the warden caught up after the restart', () => caughtUp(admin, topics.spans, after, groups), 180_000);
      const recoveredAt = Date.now();
      trials.push({
        trial: i + 1,
        events: atRestart,
        lost: 0,
        duplicated: 0,
        recoveryMs: recoveredAt - upAt,
        note: `${outage.signal} broker, down ${upAt - downAt} ms; ${atRestart - atOutage} events emitted while down; kill→caught up ${recoveredAt - downAt} ms`,
      });
    }

    await emitting;
    for (const e of emitters.values()) await e.flush();
    const end = await endMarks(admin, topics.spans);
    await until('the whole stream processed', () => caughtUp(admin, topics.spans, end, groups), 180_000);
    await awaitReplayCommands(control, oracle, 90_000);
    warden.child.kill('SIGTERM');
    expect((await warden.exited).code).toBe(0);
    await control.readToEnd();
    const sdk = [...emitters.values()].map((e) => e.stats()).reduce((a, b) => ({ sent: a.sent + b.sent, dropped: a.dropped + b.dropped, failed: a.failed + b.failed, queued: a.queued + b.queued }));
    for (const e of emitters.values()) await e.close();

    topicOfSpans = topics.spans;
    await checkAll(events, store, await reference, control, trials, sdk);
  });

  async function checkAll(events: readonly SpanEventInput[], store: Store, reference: Store, control: TopicTail, trials: Trial[], sdk: { sent: number; dropped: number; failed: number; queued: number }): Promise<void> {
    const oracle = oracleOf(events);
    const log = controlLog(control.values);
    const counts = await spanCounts(store);
    const dlq = await store.query('SELECT reason, count() AS n FROM dlq_events GROUP BY reason', dlqRow);
    const last = trials.at(-1) as Trial;
    last.lost = events.length - counts.final + controlDiff(log.byId, oracle).missing.length + sdk.dropped;
    last.duplicated = counts.final - counts.distinct + conflictingIds(log).length;
    last.note = `${last.note}; spans topic ${[...(await endMarks(admin, topicOfSpans)).values()].reduce((n, v) => n + Number(v), 0)} messages; SDK: sent ${sdk.sent}, failed attempts ${sdk.failed}, dropped ${sdk.dropped}; DLQ ${JSON.stringify(dlq)}; ${log.messages - log.byId.size} commands re-sent`;
    for (const t of trials.slice(0, -1)) {
      t.lost = 0; // the whole-stream comparison below covers every outage's events
      t.duplicated = 0;
    }
    // Known limit: after an outage the per-run stage's partitions catch up unevenly, and a cohort
    // episode can be split differently from replay (an extra cohort throttle, never a missed
    // one). Reported, not hidden; the fix is event-time ordering of partials at the cohort stage.
    const extra = [...log.byId].filter(([c]) => !oracle.commands.has(c)).map(([, contents]) => JSON.parse([...contents][0] ?? '{}') as { action: string; scope: { id: string }; reason: { detector: string; rule: string }; issued_at: number });
    if (extra.length > 0) {
      process.stderr.write(`[chaos] broker-restart: ${extra.length} cohort commands replay does not send:\n  ${extra.map((c) => `${c.action} ${c.scope.id} ${c.reason.detector}/${c.reason.rule} at ${c.issued_at}`).join('\n  ')}\n`);
      last.note = `${last.note}; ${extra.length} extra cohort throttles (cohort episodes split differently from replay)`;
    }
    recordScenario('broker-restart', COMMAND, trials, { seed: SEED, events: events.length });
    expect(sdk).toMatchObject({ sent: events.length, dropped: 0, queued: 0 });
    expect(sdk.failed, 'the outage was felt by the SDK').toBeGreaterThan(0);
    expect(counts.final).toBe(events.length);
    expect(counts.distinct).toBe(events.length);
    // Only true duplicates (a batch the SDK re-sent because its ack was lost) go to the DLQ; a
    // message the consumer reads again after the outage is not one.
    const onTopic = [...(await endMarks(admin, topicOfSpans)).values()].reduce((n, v) => n + Number(v), 0);
    expect(dlq.filter((r) => r.reason !== 'duplicate')).toEqual([]);
    expect(dlq.find((r) => r.reason === 'duplicate')?.n ?? 0).toBe(onTopic - events.length);
    // An id sent with two contents, shown with both (the diagnosis needs them).
    expect(Object.fromEntries(conflictingIds(log).map((id) => [id, [...(log.byId.get(id) ?? [])]]))).toEqual({});
    // Every command replay sends is sent (no abort or throttle missed), per-run ones byte for byte.
    expect(controlDiff(log.byId, oracle)).toMatchObject({ missing: [], extra: [] });
    for (const [commandId] of oracle.perRunCommandAt) expect(log.byId.get(commandId)).toEqual(new Set([oracle.commands.get(commandId)]));
    for (const diff of await rollupDiffs(store, reference)) expect(diff, diff.table).toMatchObject({ missing: 0, extra: 0 });
    const audit = await auditDiff(store, oracle);
    expect(audit).toMatchObject({ findingsMissing: [], findingsExtra: [], findingsChanged: [], commandsMissing: [], commandsExtra: [] });
    expect(extra.filter((c) => c.reason.detector !== 'cost-spike' && c.reason.detector !== 'judge-drift')).toEqual([]);
  }
});
