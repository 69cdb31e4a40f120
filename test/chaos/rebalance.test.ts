import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicsWithPrefix } from '../../src/config/env.ts';
import type { Finding } from '../../src/contracts/finding.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import { recordScenario, type Trial } from '../support/chaos-results.ts';
import { awaitReplayCommands, chaosStream, conflictingIds, controlLog, isCohortDetector, oracleOf, perRunCommandsBefore, producePaced } from '../support/chaos-stream.ts';
import { startWarden, wardenEnv, type RunningWarden } from '../support/chaos-warden.ts';
import { auditDiff, cleanPassStore, controlDiff, rollupDiffs, spanCounts } from '../support/clean-pass.ts';
import { caughtUp, endMarks, type Marks } from '../support/group-progress.ts';
import { readTopicToEnd } from '../support/read-topic.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { tailTopic } from '../support/topic-tail.ts';
import { until } from '../support/warden-process.ts';

const SEED = 7_331;
const COMMAND = 'flock /tmp/runwarden-heavy.lock npx vitest run --project chaos test/chaos/rebalance.test.ts';

/** What identifies a cohort finding whatever the partials' batching (see test/integration/cohort.test.ts). */
const identity = (f: Pick<Finding, 'detector' | 'rule' | 'scope' | 'finding_id'>) => `${f.detector}/${f.rule} ${f.scope.kind}:${f.scope.id} ${f.finding_id}`;

interface LogLine {
  msg?: string;
  partition?: number;
  component?: string;
}
const parse = (line: string): LogLine | undefined => {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
};

describe('two `start` processes in one group: a member dies, the other restores its state before taking over', () => {
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

  it('kill -9 of one member, its return, its orderly leave: aborts and cohort findings equal replay', async () => {
    const id = uniqueName('reb');
    const topics = topicsWithPrefix(id);
    const database = uniqueName('rw_reb');
    const refDatabase = uniqueName('rw_rebref');
    await ensureTopics(kafka, defaultTopicSpecs(topics, 4));
    cleanups.push(() => admin.deleteTopics({ topics: Object.values(topics) }));
    const events = chaosStream(1_000, SEED);
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
    const env = wardenEnv({ topics, database, logLevel: 'info' });
    const groups = { ingest: `${id}-ingest`, detect: `${id}-detect` };
    const member = (slot: string, stages: string): RunningWarden => startWarden(['--group-prefix', id, '--instance-id', slot, '--stages', stages], env, true);
    const survivor = member('slot-a', 'ingest,detect,cohort,budgets');
    let other = member('slot-b', 'ingest,detect,cohort');
    cleanups.push(async () => {
      for (const w of [survivor, other]) w.child.kill('SIGKILL');
    });
    const paced = producePaced(kafka, topics.spans, events, events.length / 50);

    /** Both members own partitions of every stage's group. */
    const bothMembers = async () => {
      const described = await admin.describeGroups([`${id}-ingest`, `${id}-detect`, `${id}-cohort`]);
      return described.groups.every((g) => g.state === 'Stable' && g.members.length === 2);
    };
    const trials: Trial[] = [];
    const settle = async () => {
      const marks = await endMarks(admin, topics.spans);
      await until('caught up', () => caughtUp(admin, topics.spans, marks, groups), 120_000);
    };
    /** One membership change, measured from `at` until the group caught up with `marks`. */
    const measure = async (name: string, at: number, marks: Marks, produced: number) => {
      await until(`${name}: caught up`, () => caughtUp(admin, topics.spans, marks, groups), 120_000);
      const recoveryMs = Date.now() - at;
      await control.readToEnd();
      const log = controlLog(control.values);
      const missing = perRunCommandsBefore(oracle, produced).filter((c) => !log.byId.has(c));
      trials.push({ trial: trials.length + 1, events: produced, lost: missing.length, duplicated: conflictingIds(log).length, recoveryMs, note: name });
      expect.soft(missing, `${name}: per-run commands of the first ${produced} events`).toEqual([]);
    };

    await until('both members in every group', bothMembers, 120_000);
    await settle();

    // 1. A member dies: the survivor gets its partitions once its session expires.
    const restoresBefore = survivor.lines.length;
    let produced = paced.produced;
    let marks = await endMarks(admin, topics.spans);
    let at = Date.now();
    other.child.kill('SIGKILL');
    await other.exited;
    await measure('kill -9 of one member: takeover', at, marks, produced);
    const takeover = () => survivor.lines.slice(restoresBefore).map(parse).filter((l): l is LogLine => l !== undefined);
    // The survivor rebuilt run state (detect) and restored the cohort checkpoints before going on.
    // A cohort partition is restored when its first partial after the takeover arrives, and the
    // cohort group rebalances on its own clock (caught up above is the per-run groups): awaited.
    await until('the survivor rebuilt the run state', async () => takeover().some((l) => l.msg === 'rebuilding run state from the committed offset'), 60_000);
    await until('the survivor restored a cohort checkpoint', async () => takeover().some((l) => l.msg === 'cohort state restored from its checkpoint'), 60_000);

    // 2. It comes back: partitions move from a live member (a rebalance, no crash).
    other = member('slot-b', 'ingest,detect,cohort');
    produced = paced.produced;
    marks = await endMarks(admin, topics.spans);
    at = Date.now();
    await until('both members again', bothMembers, 120_000);
    await measure('member back: rebalance', at, marks, produced);

    // 3. It leaves in order (SIGTERM): its last commits and checkpoint hand over exactly.
    produced = paced.produced;
    marks = await endMarks(admin, topics.spans);
    at = Date.now();
    other.child.kill('SIGTERM');
    expect((await other.exited).code).toBe(0);
    await measure('SIGTERM of one member: orderly handover', at, marks, produced);

    await paced.done;
    await settle();
    await awaitReplayCommands(control, oracle, 60_000);
    survivor.child.kill('SIGTERM');
    expect((await survivor.exited).code).toBe(0);
    recordScenario('rebalance', COMMAND, trials, { seed: SEED, events: events.length });

    await control.readToEnd();
    const log = controlLog(control.values);
    expect(conflictingIds(log)).toEqual([]);
    // Per-run commands by id; cohort ones by episode key (controlDiff: the known limit after restarts).
    expect(controlDiff(log.byId, oracle)).toMatchObject({ missing: [], extra: [] });
    const aborted = [...log.byId.values()].flatMap((c) => [...c].map((json) => JSON.parse(json) as { action: string; scope: { kind: string; id: string } })).filter((c) => c.action === 'abort' && c.scope.kind === 'run');
    expect(new Set(aborted.map((c) => c.scope.id))).toEqual(oracle.abortedRuns);
    const cohortFindings = (await readTopicToEnd(kafka, topics.findings, 60_000)).map((m) => JSON.parse(m.value.toString()) as Finding).filter((f) => isCohortDetector(f.detector));
    expect(new Set(cohortFindings.map(identity))).toEqual(new Set([...oracle.findings.values()].filter((f) => isCohortDetector(f.detector)).map(identity)));
    const counts = await spanCounts(store);
    expect(counts.final).toBe(events.length);
    for (const diff of await rollupDiffs(store, await reference)) expect(diff, diff.table).toMatchObject({ missing: 0, extra: 0 });
    expect(await auditDiff(store, oracle)).toMatchObject({ findingsMissing: [], findingsExtra: [], findingsChanged: [], commandsMissing: [], commandsExtra: [] });
  });
});
