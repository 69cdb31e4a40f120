import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { topicsWithPrefix } from '../../src/config/env.ts';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createRng } from '../../src/sim/prng.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { recordScenario, type Trial } from '../support/chaos-results.ts';
import { awaitReplayCommands, chaosStream, conflictingIds, controlLog, oracleOf, perRunCommandsBefore, producePaced, type Oracle } from '../support/chaos-stream.ts';
import { startWarden, wardenEnv, type RunningWarden } from '../support/chaos-warden.ts';
import { auditDiff, cleanPassStore, controlDiff, rollupDiffs, spanCounts } from '../support/clean-pass.ts';
import { caughtUp, endMarks, type Marks } from '../support/group-progress.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { tailTopic, type TopicTail } from '../support/topic-tail.ts';
import { until } from '../support/warden-process.ts';

/** Seeded kill moments: print the seed; RUNWARDEN_CHAOS_SEED=<seed> repeats a run. */
const SEED = Number(process.env.RUNWARDEN_CHAOS_SEED ?? Date.now() % 1_000_000);
const STREAMS = 2;
const KILLS_PER_STREAM = 10;
/** Runs per stream (~12 events each, with 8 % runaways and a cost spike). */
const RUNS = 1_200;
/** How long one stream is produced for (s): about as long as its kills and recoveries take. */
const STREAM_SECONDS = 90;
const COMMAND = 'flock /tmp/runwarden-heavy.lock npx vitest run --project chaos test/chaos/sigkill.test.ts';

const eventIdRow = z.object({ event_id: z.string() });

interface PendingTrial extends Trial {
  killedAt: number;
  marks: Marks;
}

describe('SIGKILL of `runwarden start` (every stage, a real process) at random moments under load', () => {
  let kafka: Kafka;
  let admin: Admin;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-chaos', ssl: false });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await admin.disconnect();
  });

  it(`${STREAMS * KILLS_PER_STREAM} kills over ${STREAMS} streams: every abort, every command once with one content, rollups equal a clean pass`, async () => {
    process.stderr.write(`[chaos] sigkill: seed ${SEED} (RUNWARDEN_CHAOS_SEED=${SEED} repeats these kill moments)\n`);
    const rng = createRng(SEED);
    const trials: Trial[] = [];
    let events = 0;
    for (let s = 0; s < STREAMS; s++) {
      const stream = chaosStream(RUNS, SEED + s);
      events += stream.length;
      await runStream(stream, trials, rng);
    }
    const result = recordScenario('sigkill', COMMAND, trials, { seed: SEED, events });
    expect(result.totals.trials).toBe(STREAMS * KILLS_PER_STREAM);
    expect(result.totals.lost).toBe(0);
    expect(result.totals.duplicated).toBe(0);
  });

  async function runStream(events: readonly SpanEventInput[], trials: Trial[], rng: () => number): Promise<void> {
    const id = uniqueName('kill');
    const topics = topicsWithPrefix(id);
    const database = uniqueName('rw_kill');
    const refDatabase = uniqueName('rw_killref');
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    cleanups.push(() => admin.deleteTopics({ topics: Object.values(topics) }));
    const oracle = oracleOf(events);
    const reference = cleanPassStore(events, refDatabase);
    cleanups.push(async () => {
      const ref = await reference;
      await ref.exec(`DROP DATABASE IF EXISTS ${refDatabase}`);
      await ref.close();
    });
    const env = wardenEnv({ topics, database, logLevel: 'error' });
    const args = ['--group-prefix', id, '--instance-id', 'chaos-0'];
    const groups = { ingest: `${id}-ingest`, detect: `${id}-detect` };
    const control = await tailTopic(kafka, topics.control);
    cleanups.push(() => control.stop());
    const store: Store = await createServerStore({ url: clickhouseUrl(), database });
    cleanups.push(async () => {
      await store.exec(`DROP DATABASE IF EXISTS ${database}`);
      await store.close();
    });

    let warden: RunningWarden = startWarden(args, env);
    let spawnedAt = Date.now();
    const paced = producePaced(kafka, topics.spans, events, events.length / STREAM_SECONDS);
    let pending: PendingTrial[] = [];
    // Under load from the first kill on: the warden has committed work and the stream flows.
    await until('a first commit', () => caughtUp(admin, topics.spans, new Map([[0, 1n]]), groups), 120_000);
    let steady = true;

    for (let k = 0; k < KILLS_PER_STREAM; k++) {
      if (steady) {
        // Killed while following the live stream: a random moment after it caught up.
        const marks = await endMarks(admin, topics.spans);
        await until('catching up before a kill', () => caughtUp(admin, topics.spans, marks, groups), 120_000);
        await sleep(200 + rng() * 2_800);
      } else {
        // Killed again while still restarting, restoring or catching up.
        await sleep(Math.max(0, spawnedAt + 500 + rng() * 4_500 - Date.now()));
      }
      const produced = paced.produced;
      const marks = await endMarks(admin, topics.spans);
      warden.child.kill('SIGKILL');
      const killedAt = Date.now();
      const { signal } = await warden.exited;
      expect(signal).toBe('SIGKILL');
      pending.push({ trial: trials.length + pending.length + 1, events: produced, lost: 0, duplicated: 0, recoveryMs: null, killedAt, marks, note: steady ? 'steady' : 'while recovering' });
      warden = startWarden(args, env);
      spawnedAt = Date.now();
      steady = k === KILLS_PER_STREAM - 1 || rng() >= 0.3;
      if (!steady) continue;
      // Recovery: every pending kill's prefix is ingested and processed again.
      const last = pending.at(-1) as PendingTrial;
      await until('recovery after a kill', () => caughtUp(admin, topics.spans, last.marks, groups), 120_000);
      const recoveredAt = Date.now();
      for (const t of pending) t.recoveryMs = recoveredAt - t.killedAt;
      await checkTrials(pending, oracle, events, control, store);
      trials.push(...pending.map(({ killedAt: _k, marks: _m, ...t }) => t));
      pending = [];
    }

    // The rest of the stream, then an ordered stop, then the whole-stream comparison.
    await paced.done;
    const end = await endMarks(admin, topics.spans);
    await until('the whole stream processed', () => caughtUp(admin, topics.spans, end, groups), 120_000);
    await awaitReplayCommands(control, oracle, 60_000);
    warden.child.kill('SIGTERM');
    expect((await warden.exited).code).toBe(0);
    await control.readToEnd();
    await checkWholeStream(events, oracle, control, store, await reference);
  }

  /** After recovery: each kill's prefix fully processed, nothing counted twice, no command id with two contents. */
  async function checkTrials(pending: PendingTrial[], oracle: Oracle, events: readonly SpanEventInput[], control: TopicTail, store: Store): Promise<void> {
    await control.readToEnd();
    const log = controlLog(control.values);
    const conflicts = conflictingIds(log);
    // Cohort commands replay lacks are a known limit (controlDiff), reported in the note.
    const cohortExtra = new Set(controlDiff(log.byId, oracle).cohortExtra);
    const notReplays = [...log.byId].filter(([commandId, contents]) => {
      const want = oracle.commands.get(commandId);
      if (want === undefined) return !cohortExtra.has(commandId);
      return oracle.perRunCommandAt.has(commandId) && ![...contents].every((c) => c === want);
    });
    const ingested = new Set((await store.query('SELECT DISTINCT event_id FROM spans', eventIdRow)).map((r) => r.event_id));
    const counts = await spanCounts(store);
    for (const t of pending) {
      const missingCommands = perRunCommandsBefore(oracle, t.events).filter((c) => !log.byId.has(c));
      const missingEvents = events.slice(0, t.events).filter((e) => !ingested.has(e.event_id)).length;
      t.lost = missingCommands.length + missingEvents;
      t.duplicated = conflicts.length + notReplays.length + (counts.final - counts.distinct);
      t.note = `${t.note}; re-delivered rows ${counts.raw - counts.final}${cohortExtra.size > 0 ? `; ${cohortExtra.size} extra cohort throttles (episodes split differently from replay)` : ''}`;
      expect.soft(missingCommands, `trial ${t.trial}: per-run commands of the first ${t.events} events`).toEqual([]);
      expect.soft(missingEvents, `trial ${t.trial}: events of the prefix missing from spans`).toBe(0);
    }
    expect.soft(conflicts, 'command ids emitted with different content').toEqual([]);
    expect.soft(notReplays, 'commands that replay does not emit (or emits with other content)').toEqual([]);
    expect.soft(counts.final).toBe(counts.distinct);
  }

  async function checkWholeStream(events: readonly SpanEventInput[], oracle: Oracle, control: TopicTail, store: Store, reference: Store): Promise<void> {
    const log = controlLog(control.values);
    expect(conflictingIds(log)).toEqual([]);
    const diff = controlDiff(log.byId, oracle);
    if (diff.cohortExtra.length > 0) process.stderr.write(`[chaos] sigkill: ${diff.cohortExtra.length} cohort commands replay does not send (cohort episodes split differently after restarts)\n`);
    expect(diff).toMatchObject({ missing: [], extra: [] });
    for (const [commandId, at] of oracle.perRunCommandAt) expect(log.byId.get(commandId), `command of event ${at}`).toEqual(new Set([oracle.commands.get(commandId)]));
    const aborted = new Set(
      [...log.byId.values()].flatMap((contents) => [...contents].map((c) => JSON.parse(c) as { action: string; scope: { kind: string; id: string } })).filter((c) => c.action === 'abort' && c.scope.kind === 'run').map((c) => c.scope.id),
    );
    expect([...aborted].sort()).toEqual([...oracle.abortedRuns].sort());
    const counts = await spanCounts(store);
    expect(counts.final).toBe(events.length);
    expect(counts.distinct).toBe(events.length);
    for (const diff of await rollupDiffs(store, reference)) expect(diff, diff.table).toMatchObject({ missing: 0, extra: 0 });
    expect(await auditDiff(store, oracle)).toMatchObject({ findingsMissing: [], findingsExtra: [], findingsChanged: [], commandsMissing: [], commandsExtra: [] });
    process.stderr.write(
      `[chaos] sigkill stream: ${events.length} events, ${oracle.commands.size} commands (${oracle.abortedRuns.size} runs aborted), ${log.messages} command messages on the topic, raw span rows ${counts.raw} for ${counts.final}\n`,
    );
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
