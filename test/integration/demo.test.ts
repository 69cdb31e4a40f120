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
  caught: z.object({ unexpected: z.array(z.string()) }),
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

/** The aborts match the simulator's ground truth exactly: every injected runaway stopped, nothing else. */
function expectGroundTruth(out: z.infer<typeof demoOutput>) {
  const { summary, truth } = out;
  expect(truth.runaways.tool_loop.length + truth.runaways.step_cap.length).toBeGreaterThan(0);
  expect(truth.incidents.filter((i) => i.kind === 'spend_spike').length).toBeGreaterThan(0);
  expect(summary.aborts.scopes).toEqual(truth.abortedRuns);
  expect(out.caught.unexpected).toEqual([]);
  // One identical-args loop abort per injected tool loop; each step-cap runaway trips the LLM-call cap.
  expect(summary.aborts.byRule['tool-loop/identical_consecutive']).toBe(truth.runaways.tool_loop.length);
  expect(summary.aborts.byRule['step-cap/llm_calls_abort']).toBe(truth.runaways.step_cap.length + truth.abortedRuns.filter((r) => r.endsWith('.runaway')).length);
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

  it('embedded: the in-process engine and chdb abort exactly the injected runaways', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-demo-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const database = uniqueName('rw_demo');
    const out = await demo(['--mode', 'embedded'], { RUNWARDEN_DATA_DIR: dir, CLICKHOUSE_DATABASE: database });
    expect(out).toMatchObject({ mode: 'embedded', store: 'embedded' });
    expectGroundTruth(out);
    const store = await createEmbeddedStore({ path: join(dir, 'chdb'), database });
    try {
      await expectStoreAgrees(store, out);
    } finally {
      await store.close();
    }
  });

  it('kafka: the stages of `start` over Kafka and the ClickHouse server abort exactly the injected runaways', async () => {
    const database = uniqueName('rw_demo');
    const topics = topicsWithPrefix(uniqueName('rw-demo'));
    const out = await demo(['--mode', 'kafka'], { KAFKA_BROKERS: kafkaBrokers().join(','), CLICKHOUSE_URL: clickhouseUrl(), CLICKHOUSE_DATABASE: database, ...topicsEnv(topics) });
    const store = await createServerStore({ url: clickhouseUrl(), database });
    cleanups.push(async () => {
      await store.exec(`DROP DATABASE IF EXISTS ${database}`);
      await store.close();
    });
    expect(out).toMatchObject({ mode: 'kafka', store: 'server' });
    expectGroundTruth(out);
    await expectStoreAgrees(store, out);
  }, 300_000);
});
