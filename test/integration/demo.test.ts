import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { topicsEnv, topicsWithPrefix } from '../../src/config/env.ts';
import { DEMO_NEXT_SQL } from '../../src/demo/render-summary.ts';
import { createEmbeddedStore } from '../../src/store/embedded-store.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import { sqlString } from '../../src/store/sql-literal.ts';
import type { Store } from '../../src/store/store.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/runwarden.js', import.meta.url).pathname;

/** The demo's --json output: the summary and the ground truth it is scored against. */
const demoOutput = z.object({
  mode: z.enum(['kafka', 'embedded']),
  store: z.enum(['server', 'embedded']),
  summary: z.object({
    events: z.number(),
    bad: z.record(z.string(), z.number()),
    runs: z.number(),
    aborts: z.object({ commands: z.number(), byRule: z.record(z.string(), z.number()), scopes: z.array(z.string()) }),
    throttles: z.object({ commands: z.number(), byRule: z.record(z.string(), z.number()), scopes: z.array(z.string()) }),
    findings: z.record(z.string(), z.number()),
    drift: z.array(z.object({ cohort: z.string(), rule: z.string() })),
    spendUsd: z.number(),
  }),
  truth: z.object({
    runaways: z.object({ tool_loop: z.array(z.string()), step_cap: z.array(z.string()), token_spike: z.array(z.string()) }),
    abortedRuns: z.array(z.string()),
    incidents: z.array(z.object({ kind: z.string() })),
  }),
  caught: z.object({
    toolLoops: z.tuple([z.number(), z.number()]),
    stepCaps: z.tuple([z.number(), z.number()]),
    spendSpikes: z.tuple([z.number(), z.number()]),
    unexpected: z.array(z.string()),
  }),
});

// A small fleet: 2.5 h of 6 cohorts (long enough for the spend incidents after their 90-minute warm-up) and 200 single runs.
const SMALL = ['--duration', '150m', '--cohorts', '6', '--runs', '200', '--seed', '11'];

async function demo(args: string[], env: Record<string, string>) {
  const { stdout } = await run(process.execPath, [BIN, 'demo', '--json', ...SMALL, ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return demoOutput.parse(JSON.parse(stdout));
}

/**
 * The aborts match the simulator's ground truth: every injected runaway is stopped, and any other
 * aborted run is an ordinary run that really crossed a step cap (the cohort fleet's token counts
 * are lognormal: now and then an ordinary run is that long) — checked against its totals in the store.
 */
async function expectGroundTruth(store: Store, out: z.infer<typeof demoOutput>) {
  const { summary, truth } = out;
  expect(truth.runaways.tool_loop.length + truth.runaways.step_cap.length).toBeGreaterThan(0);
  expect(truth.incidents.filter((i) => i.kind === 'spend_spike').length).toBeGreaterThan(0);
  const aborted = new Set(summary.aborts.scopes);
  expect(truth.abortedRuns.filter((r) => !aborted.has(r))).toEqual([]);
  // The summary's "caught N of N" counts, against the ground truth.
  expect(out.caught.toolLoops).toEqual([truth.runaways.tool_loop.length, truth.runaways.tool_loop.length]);
  expect(out.caught.stepCaps).toEqual([truth.runaways.step_cap.length, truth.runaways.step_cap.length]);
  const spikes = truth.incidents.filter((i) => i.kind === 'spend_spike').length;
  expect(out.caught.spendSpikes).toEqual([spikes, spikes]);
  expect(out.caught.unexpected).toEqual(summary.aborts.scopes.filter((r) => !truth.abortedRuns.includes(r)));
  if (out.caught.unexpected.length > 0) {
    const totals = await store.query(
      `SELECT run_id, llm_calls, tool_calls, tokens, cost_usd FROM runs WHERE run_id IN (${out.caught.unexpected.map(sqlString).join(', ')}) ORDER BY run_id`,
      z.object({ run_id: z.string(), llm_calls: z.coerce.number(), tool_calls: z.coerce.number(), tokens: z.coerce.number(), cost_usd: z.coerce.number() }),
    );
    expect(totals.map((t) => t.run_id)).toEqual([...out.caught.unexpected].sort());
    // The default caps: 30 LLM calls, 100 tool calls, 200k tokens, $5.
    for (const t of totals) expect(t.llm_calls >= 30 || t.tool_calls >= 100 || t.tokens >= 200_000 || t.cost_usd >= 5).toBe(true);
  }
  // One identical-args loop abort per injected tool loop (ordinary runs never repeat a call verbatim).
  expect(summary.aborts.byRule['tool-loop/identical_consecutive']).toBe(truth.runaways.tool_loop.length);
  // The four bad-input classes went to the DLQ.
  expect(Object.keys(summary.bad).sort()).toEqual(['future_timestamp', 'invalid_json', 'invalid_number', 'unknown_version']);
  expect(summary.throttles.commands).toBeGreaterThan(0);
  expect(summary.spendUsd).toBeGreaterThan(0);
}

/** What the summary says is what the store holds; the printed analyst SQL runs there. */
async function expectStoreAgrees(store: Store, out: z.infer<typeof demoOutput>) {
  const n = z.object({ n: z.coerce.number() });
  const [spans] = await store.query('SELECT count() AS n FROM spans FINAL', n);
  expect(spans?.n).toBe(out.summary.events);
  const [aborts] = await store.query("SELECT count() AS n FROM control_commands FINAL WHERE action = 'abort'", n);
  expect(aborts?.n).toBe(out.summary.aborts.commands);
  const [dlq] = await store.query('SELECT count() AS n FROM dlq_events FINAL', n);
  expect(dlq?.n).toBe(4);
  const rows = await Promise.all(DEMO_NEXT_SQL.map(({ sql }) => store.query(sql, z.record(z.string(), z.unknown()))));
  // Aborts, spend and throttles are in every demo; judge drift needs ≥ 6 h of fleet time, longer than this one.
  expect(rows.slice(0, 3).map((r) => r.length > 0)).toEqual([true, true, true]);
}

describe('runwarden demo', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('embedded: the in-process engine and chdb abort every injected runaway, and only runs past a cap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-demo-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const database = uniqueName('rw_demo');
    const out = await demo(['--mode', 'embedded'], { RUNWARDEN_DATA_DIR: dir, CLICKHOUSE_DATABASE: database });
    expect(out).toMatchObject({ mode: 'embedded', store: 'embedded' });
    const store = await createEmbeddedStore({ path: join(dir, 'chdb'), database });
    try {
      await expectGroundTruth(store, out);
      await expectStoreAgrees(store, out);
    } finally {
      await store.close();
    }
  });

  it('kafka: the stages of `start` over Kafka and the ClickHouse server abort every injected runaway, and only runs past a cap', async () => {
    const database = uniqueName('rw_demo');
    const topics = topicsWithPrefix(uniqueName('rw-demo'));
    const out = await demo(['--mode', 'kafka'], { KAFKA_BROKERS: kafkaBrokers().join(','), CLICKHOUSE_URL: clickhouseUrl(), CLICKHOUSE_DATABASE: database, ...topicsEnv(topics) });
    const store = await createServerStore({ url: clickhouseUrl(), database });
    cleanups.push(async () => {
      await store.exec(`DROP DATABASE IF EXISTS ${database}`);
      await store.close();
    });
    expect(out).toMatchObject({ mode: 'kafka', store: 'server' });
    await expectGroundTruth(store, out);
    await expectStoreAgrees(store, out);
  }, 300_000);
});
