import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHUTDOWN_STEPS } from '../../consumers/shutdown.ts';
import { topicsWithPrefix } from '../../src/config/env.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createRng } from '../../src/sim/prng.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import { recordScenario, type Trial } from '../support/chaos-results.ts';
import { awaitReplayCommands, chaosStream, conflictingIds, controlLog, oracleOf, perRunCommandsBefore, producePaced } from '../support/chaos-stream.ts';
import { startWarden, wardenEnv, type RunningWarden } from '../support/chaos-warden.ts';
import { auditDiff, cleanPassStore, controlDiff, rollupDiffs, spanCounts } from '../support/clean-pass.ts';
import { caughtUp, endMarks } from '../support/group-progress.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { tailTopic } from '../support/topic-tail.ts';
import { until } from '../support/warden-process.ts';

const SEED = Number(process.env.RUNWARDEN_CHAOS_SEED ?? Date.now() % 1_000_000);
const STOPS = 3;
/** The shutdown bound given to the warden (ms); it must exit 0 well within it. */
const SHUTDOWN_TIMEOUT_MS = 15_000;
const COMMAND = 'flock /tmp/runwarden-heavy.lock npx vitest run --project chaos test/chaos/sigterm.test.ts';

interface LogLine {
  event?: string;
  msg?: string;
  stats?: { consumed?: number; restored?: number };
}

const parseLines = (lines: readonly string[]): LogLine[] =>
  lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });

describe('SIGTERM under load: the ordered shutdown (stop fetching, flush sinks, commit, disconnect) within its bound', () => {
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

  it(`${STOPS} stops mid-stream: exit 0 in order within the bound; restarts re-read nothing already written and re-send no command`, async () => {
    process.stderr.write(`[chaos] sigterm: seed ${SEED}\n`);
    const rng = createRng(SEED);
    const id = uniqueName('term');
    const topics = topicsWithPrefix(id);
    const database = uniqueName('rw_term');
    const refDatabase = uniqueName('rw_termref');
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    cleanups.push(() => admin.deleteTopics({ topics: Object.values(topics) }));
    const events = chaosStream(900, SEED);
    const oracle = oracleOf(events);
    const reference = cleanPassStore(events, refDatabase);
    const store = await createServerStore({ url: clickhouseUrl(), database });
    cleanups.push(async () => {
      const ref = await reference;
      for (const [s, db] of [[ref, refDatabase], [store, database]] as const) {
        await s.exec(`DROP DATABASE IF EXISTS ${db}`);
        await s.close();
      }
    });
    const control = await tailTopic(kafka, topics.control);
    cleanups.push(() => control.stop());
    const env = wardenEnv({ topics, database, logLevel: 'info', extra: { RUNWARDEN_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) } });
    const args = ['--group-prefix', id, '--instance-id', 'term-0'];
    const groups = { ingest: `${id}-ingest`, detect: `${id}-detect` };
    const paced = producePaced(kafka, topics.spans, events, events.length / 40);

    const trials: Trial[] = [];
    const runs: RunningWarden[] = [];
    let previous = new Map([[0, 1n]]);
    for (let t = 1; t <= STOPS + 1; t++) {
      const startedAt = Date.now();
      const warden = startWarden(args, env, true);
      runs.push(warden);
      // Running (every stage started), then caught up with what was there at the last stop.
      const started = ['ingest consumer started', 'pipeline consumer started', 'cohort consumer started'];
      await until('every stage started', async () => started.every((m) => parseLines(warden.lines).some((l) => l.msg === m)), 120_000);
      await until('caught up after the (re)start', () => caughtUp(admin, topics.spans, previous, groups), 120_000);
      const recoveryMs = Date.now() - startedAt;
      const before = trials.at(-1);
      if (before) {
        // Caught up with what was there at the stop: every per-run command of that prefix is out, once.
        before.recoveryMs = recoveryMs;
        await control.readToEnd();
        const log = controlLog(control.values);
        before.lost = perRunCommandsBefore(oracle, before.events).filter((c) => !log.byId.has(c)).length;
        before.duplicated = conflictingIds(log).length + (log.messages - log.byId.size);
        expect.soft(before.lost, `stop ${before.trial}: per-run commands missing after the restart`).toBe(0);
      }
      if (t > STOPS) {
        // The last run finishes the stream.
        await paced.done;
        const end = await endMarks(admin, topics.spans);
        await until('the whole stream processed', () => caughtUp(admin, topics.spans, end, groups), 120_000);
        await awaitReplayCommands(control, oracle, 60_000);
      } else {
        await new Promise((r) => setTimeout(r, 1_000 + rng() * 3_000)); // a random moment under load
      }
      const produced = paced.produced;
      previous = await endMarks(admin, topics.spans);
      const termAt = Date.now();
      warden.child.kill('SIGTERM');
      const { code } = await warden.exited;
      const shutdownMs = Date.now() - termAt;
      expect(code, `stop ${t}: exit code`).toBe(0);
      expect(shutdownMs, `stop ${t}: within the bound`).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
      const logged = parseLines(warden.lines);
      const steps = logged.map((l) => l.event).filter((e): e is string => e?.startsWith('shutdown.') === true);
      expect(steps, `stop ${t}: steps in the written order`).toEqual(['shutdown.begin', ...SHUTDOWN_STEPS.map((s) => `shutdown.${s}`), 'shutdown.done']);
      trials.push({ trial: t, events: produced, lost: 0, duplicated: 0, recoveryMs: null, note: `${t > STOPS ? 'final stop' : 'mid-stream'}; shutdown ${shutdownMs} ms` });
    }

    // Nothing re-read by ingest after an ordered stop (its last commit covered every written row),
    // no command sent twice, and every table as one clean pass.
    const consumed = runs.flatMap((r) => parseLines(r.lines)).filter((l) => l.msg === 'ingest consumer stopped').reduce((n, l) => n + (l.stats?.consumed ?? 0), 0);
    await control.readToEnd();
    const log = controlLog(control.values);
    const resent = log.messages - log.byId.size;
    const last = trials.at(-1) as Trial;
    last.lost = [...oracle.commands.keys()].filter((c) => !log.byId.has(c)).length + Math.max(0, events.length - (await spanCounts(store)).final);
    last.duplicated = conflictingIds(log).length + resent + Math.max(0, consumed - events.length);
    last.note = `${last.note}; ingest consumed ${consumed} messages for ${events.length} events; ${resent} commands re-sent`;
    recordScenario('sigterm', COMMAND, trials, { seed: SEED, events: events.length });

    expect(consumed).toBe(events.length);
    expect(resent).toBe(0);
    expect(conflictingIds(log)).toEqual([]);
    // Per-run commands by id; cohort ones by episode key (controlDiff: the known limit after restarts).
    expect(controlDiff(log.byId, oracle)).toMatchObject({ missing: [], extra: [] });
    const counts = await spanCounts(store);
    expect(counts).toEqual({ final: events.length, distinct: events.length, raw: events.length });
    for (const diff of await rollupDiffs(store, await reference)) expect(diff, diff.table).toMatchObject({ missing: 0, extra: 0 });
    expect(await auditDiff(store, oracle)).toMatchObject({ findingsMissing: [], findingsExtra: [], findingsChanged: [], commandsMissing: [], commandsExtra: [] });
  });
});
