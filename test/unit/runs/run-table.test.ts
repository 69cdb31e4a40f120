import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/contracts/finding.ts';
import { SPAN_SCHEMA_VERSION, type SpanEvent, type SpanLimits } from '../../../src/contracts/span.ts';
import { parsePolicy, type Policy } from '../../../src/policy/policy.ts';
import { createRunTable, type EvictReason, type RunEntry, type RunTableOptions } from '../../../src/runs/run-table.ts';

const T0 = 1_700_000_000_000;
let seq = 0;

/** One event of run `run` at `at` ms after T0. */
function ev(run: string, at: number, body: Partial<SpanEvent> & Pick<SpanEvent, 'kind'>, agent = 'agent-a'): SpanEvent {
  seq += 1;
  return {
    schema: SPAN_SCHEMA_VERSION,
    event_id: `e${seq}`,
    ts: T0 + at,
    run_id: run,
    span_id: `s${seq}`,
    agent_id: agent,
    tenant_id: `tenant-of-${run}`,
    user_id: `user-of-${run}`,
    ...body,
  } as SpanEvent;
}
const llm = (run: string, at: number, agent?: string) =>
  ev(run, at, { kind: 'llm_call', llm: { model: 'gpt-4o', input_tokens: 10, output_tokens: 10, cost_usd: 0.001 } }, agent);
const tool = (run: string, at: number, name = 'search', args?: string, agent?: string) =>
  ev(run, at, { kind: 'tool_call', tool: { name, status: 'ok', ...(args === undefined ? {} : { args_hash: args }) } }, agent);
const start = (run: string, at: number, limits?: SpanLimits, agent?: string) => ev(run, at, { kind: 'run_start', ...(limits ? { limits } : {}) }, agent);
const end = (run: string, at: number) => ev(run, at, { kind: 'run_end', status: 'ok' });

const POLICY: Policy = parsePolicy({
  runs: { grace_after_end: '1m', idle_timeout: '30m', max_runs: 1000 },
  agents: {
    small: { step_cap: { max_llm_calls: 4 } },
    'no-loops': { tool_loop: { enabled: false } },
    'no-caps': { step_cap: { enabled: false } },
  },
});

function table(extra: Partial<RunTableOptions> = {}) {
  const evicted: { runId: string; reason: EvictReason; entry: RunEntry }[] = [];
  const t = createRunTable({
    policy: POLICY,
    onEvict: (entry, reason) => evicted.push({ runId: entry.runId, reason, entry: structuredClone(entry) }),
    ...extra,
  });
  const applyAll = (events: SpanEvent[]) => events.flatMap((e) => t.apply(e));
  return { t, evicted, applyAll };
}

const rules = (fs: Finding[]) => fs.map((f) => `${f.scope.id}:${f.rule}`);

describe('routing', () => {
  it('keeps one entry per run, with the run’s owners, and counts each run apart', () => {
    const { t, applyAll } = table();
    applyAll([llm('r1', 1), tool('r2', 2), llm('r1', 3), tool('r2', 4), tool('r3', 5)]);
    expect(t.size).toBe(3);
    expect(t.get('r1')).toMatchObject({ runId: 'r1', agentId: 'agent-a', tenantId: 'tenant-of-r1', userId: 'user-of-r1', lastSeenMs: T0 + 3 });
    expect(t.get('r1')?.stepCapState).toMatchObject({ llm_calls: 2, tool_calls: 0 });
    expect(t.get('r2')?.stepCapState).toMatchObject({ llm_calls: 0, tool_calls: 2 });
    expect(t.get('r3')?.toolLoopState.steps).toBe(1);
    expect(t.get('nope')).toBeUndefined();
  });

  it('interleaved runs do not feed each other’s loops or caps', () => {
    const { applyAll } = table();
    const events = Array.from({ length: 5 }, (_, i) => [tool('r1', 2 * i, 'A', 'x'), tool('r2', 2 * i + 1, 'A', 'x')]).flat();
    // Five identical calls each: a repeat warn per run, no abort (the 6th would be).
    expect(rules(applyAll(events))).toEqual(['r1:repeated_call', 'r2:repeated_call']);
  });

  it('returns the findings of both detectors in the order they arose, scoped to the run', () => {
    const { applyAll } = table();
    const events = Array.from({ length: 6 }, (_, i) => tool('r1', i, 'A', 'x'));
    const findings = applyAll(events);
    expect(findings.map((f) => [f.detector, f.rule])).toEqual([
      ['tool-loop', 'repeated_call'],
      ['tool-loop', 'identical_consecutive'],
    ]);
    for (const f of findings) expect(f.scope).toEqual({ kind: 'run', id: 'r1' });
  });

  it.each([
    ['small', Array.from({ length: 5 }, (_, i) => llm('r', i, 'small')), ['r:llm_calls_warn', 'r:llm_calls_abort']],
    ['no-loops', Array.from({ length: 8 }, (_, i) => tool('r', i, 'A', 'x', 'no-loops')), []],
    ['no-caps', Array.from({ length: 40 }, (_, i) => llm('r', i, 'no-caps')), []],
    ['an unlisted agent (defaults)', Array.from({ length: 30 }, (_, i) => llm('r', i, 'other')), ['r:llm_calls_warn', 'r:llm_calls_abort']],
  ])('applies the policy of the run’s agent: %s', (_agent, events, expected) => {
    expect(rules(table().applyAll(events))).toEqual(expected);
  });

  it('a run belongs to the agent of its first event', () => {
    const { t, applyAll } = table();
    const findings = applyAll([llm('r', 0, 'small'), ...Array.from({ length: 4 }, (_, i) => llm('r', i + 1, 'other'))]);
    expect(t.get('r')?.agentId).toBe('small');
    expect(rules(findings)).toEqual(['r:llm_calls_warn', 'r:llm_calls_abort']);
  });
});

describe('run limits', () => {
  it('a run_start first tightens the caps for the whole run', () => {
    const { t, applyAll } = table();
    const findings = applyAll([start('r', 0, { max_tool_calls: 4 }), ...Array.from({ length: 5 }, (_, i) => tool('r', i + 1, `T${i}`, 'a'))]);
    expect(t.get('r')?.caps.max_tool_calls).toBe(4);
    expect(findings.map((f) => [f.rule, f.observed, f.threshold])).toEqual([
      ['tool_calls_warn', 3, 3],
      ['tool_calls_abort', 4, 4],
    ]);
  });

  it('a late run_start tightens the caps and aborts at once a run already past them', () => {
    const { t, applyAll } = table();
    expect(applyAll(Array.from({ length: 10 }, (_, i) => llm('r', i)))).toEqual([]);
    const late = start('r', 11, { max_llm_calls: 8 });
    const findings = applyAll([late]);
    expect(findings.map((f) => [f.rule, f.observed, f.threshold, f.ts])).toEqual([['llm_calls_abort', 10, 8, late.ts]]);
    expect(t.get('r')?.limits).toEqual({ max_llm_calls: 8 });
  });

  it('limits above the policy caps are ignored (they can only tighten)', () => {
    const { t, applyAll } = table();
    applyAll([start('r', 0, { max_llm_calls: 1_000, max_cost_usd: 1_000 }, 'small')]);
    expect(t.get('r')?.caps).toMatchObject({ max_llm_calls: 4, max_cost_usd: 5 });
  });

  it('only the first run_start’s limits count (a duplicate cannot loosen them)', () => {
    const { t, applyAll } = table();
    applyAll([start('r', 0, { max_llm_calls: 3 }), start('r', 1, { max_llm_calls: 20 })]);
    expect(t.get('r')?.caps.max_llm_calls).toBe(3);
  });
});

describe('eviction (event time)', () => {
  it('drops a run grace_after_end after its run_end, not before; the clock is other runs’ events', () => {
    const { t, evicted, applyAll } = table();
    applyAll([llm('r1', 0), end('r1', 1_000)]);
    applyAll([llm('other', 60_999)]);
    expect(t.get('r1')).toBeDefined();
    applyAll([llm('other', 61_000)]);
    expect(t.get('r1')).toBeUndefined();
    expect(evicted.map((e) => [e.runId, e.reason])).toEqual([['r1', 'ended']]);
    expect(evicted[0]?.entry).toMatchObject({ endedAtMs: T0 + 1_000, stepCapState: { llm_calls: 1 } });
  });

  it('keeps counting late events of an ended run within the grace', () => {
    const { t, applyAll } = table();
    applyAll([llm('r', 0), end('r', 1_000), llm('r', 500)]);
    expect(t.get('r')?.stepCapState.llm_calls).toBe(2);
    expect(t.get('r')?.endedAtMs).toBe(T0 + 1_000);
  });

  it('drops a run that never ends after idle_timeout without events, not before', () => {
    const { t, evicted, applyAll } = table();
    applyAll([llm('r1', 0), llm('r1', 5_000)]);
    applyAll([llm('other', 5_000 + 1_800_000 - 1)]);
    expect(t.get('r1')).toBeDefined();
    applyAll([llm('other', 5_000 + 1_800_000)]);
    expect(t.get('r1')).toBeUndefined();
    expect(evicted.map((e) => [e.runId, e.reason])).toEqual([['r1', 'idle']]);
  });

  it('an active run is not idle', () => {
    const { t, applyAll } = table();
    applyAll(Array.from({ length: 10 }, (_, i) => llm('r', i * 1_000_000)));
    expect(t.get('r')).toBeDefined();
  });

  it('evicts ended runs by run_end time whatever order the run_ends arrived in', () => {
    const { evicted, applyAll } = table();
    // b ended first but its run_end arrives second.
    applyAll([end('a', 10_000), end('b', 5_000), llm('c', 65_000)]);
    expect(evicted.map((e) => e.runId)).toEqual(['b']);
    applyAll([llm('c', 70_000)]);
    expect(evicted.map((e) => e.runId)).toEqual(['b', 'a']);
  });

  it('without autoEvict nothing goes until evict(now) is called; evict returns how many went', () => {
    const { t, evicted, applyAll } = table({ autoEvict: false });
    applyAll([end('a', 0), llm('b', 0), llm('c', 3_600_000)]);
    expect(t.size).toBe(3);
    expect(t.evict(T0 + 59_999)).toBe(0);
    expect(t.evict(T0 + 60_000)).toBe(1);
    expect(t.evict(T0 + 1_800_000)).toBe(1);
    expect(evicted.map((e) => [e.runId, e.reason])).toEqual([
      ['a', 'ended'],
      ['b', 'idle'],
    ]);
    expect(t.size).toBe(1);
  });

  it('runs options override policy.runs', () => {
    const { t, applyAll } = table({ runs: { grace_after_end: 0 } });
    applyAll([llm('r', 0), end('r', 1)]);
    expect(t.get('r')).toBeUndefined();
  });

  it('capacity: past max_runs the least recently seen run goes, not the oldest created', () => {
    const { t, evicted, applyAll } = table({ runs: { max_runs: 3 } });
    applyAll([llm('r1', 0), llm('r2', 1), llm('r3', 2), llm('r1', 3), llm('r4', 4)]);
    expect(evicted.map((e) => [e.runId, e.reason])).toEqual([['r2', 'capacity']]);
    expect(t.snapshot().map((e) => e.runId)).toEqual(['r3', 'r1', 'r4']);
  });

  it('an evicted run that sends again reopens with fresh counters and the same finding ids', () => {
    const { t, applyAll } = table({ runs: { max_runs: 1 } });
    const first = applyAll(Array.from({ length: 6 }, (_, i) => tool('r', i, 'A', 'x')));
    applyAll([llm('other', 10)]);
    expect(t.get('r')).toBeUndefined();
    const again = applyAll(Array.from({ length: 6 }, (_, i) => tool('r', 20 + i, 'A', 'x')));
    expect(again.map((f) => f.finding_id)).toEqual(first.map((f) => f.finding_id));
  });

  it('stays bounded over many runs', () => {
    const { t, applyAll } = table({ runs: { max_runs: 50, idle_timeout: 10_000 } });
    for (let i = 0; i < 2_000; i++) applyAll([llm(`r${i}`, i * 100), ...(i % 3 ? [end(`r${i}`, i * 100 + 50)] : [])]);
    expect(t.size).toBeLessThanOrEqual(50);
  });
});

describe('watermark', () => {
  it('is the newest event time applied: an older, late event does not lower it', () => {
    const { t, applyAll } = table();
    expect(t.watermarkMs).toBe(0);
    applyAll([llm('a', 5_000)]);
    expect(t.watermarkMs).toBe(T0 + 5_000);
    applyAll([llm('b', 1_000)]);
    expect(t.watermarkMs).toBe(T0 + 5_000);
    expect(t.get('b')?.lastSeenMs).toBe(T0 + 1_000);
  });

  it('a run’s lastSeenMs never goes back for a late event', () => {
    const { t, applyAll } = table();
    applyAll([llm('a', 5_000), llm('a', 2_000)]);
    expect(t.get('a')?.lastSeenMs).toBe(T0 + 5_000);
  });

  it('restores from the checkpoint: restoreWatermarkMs, else the newest lastSeenMs', () => {
    const { t, applyAll } = table({ runs: { grace_after_end: 0 } });
    applyAll([llm('a', 1_000), end('b', 9_000)]);
    expect(t.watermarkMs).toBe(T0 + 9_000);
    expect(createRunTable({ policy: POLICY, restore: t.snapshot() }).watermarkMs).toBe(T0 + 1_000);
    expect(createRunTable({ policy: POLICY, restore: t.snapshot(), restoreWatermarkMs: t.watermarkMs }).watermarkMs).toBe(T0 + 9_000);
  });
});

describe('snapshot and restore', () => {
  it('the snapshot is a copy: the table moving on does not change it, restoring does not mutate it', () => {
    const { t, applyAll } = table();
    applyAll([llm('a', 0), tool('a', 1, 'A', 'x')]);
    const snap = t.snapshot();
    const frozen = structuredClone(snap);
    applyAll([llm('a', 2)]);
    expect(snap).toEqual(frozen);
    const restored = createRunTable({ policy: POLICY, restore: snap });
    restored.apply(llm('a', 3));
    expect(snap).toEqual(frozen);
  });

  it('the snapshot is plain JSON data', () => {
    const { t, applyAll } = table();
    applyAll([start('a', 0, { max_llm_calls: 3 }), llm('a', 1), tool('a', 2, 'A', 'x'), end('a', 3)]);
    const snap = t.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('a restored table under a lower max_runs is trimmed on the next event', () => {
    const { t, applyAll } = table();
    applyAll(Array.from({ length: 5 }, (_, i) => llm(`r${i}`, i)));
    const evicted: string[] = [];
    const small = createRunTable({ policy: POLICY, restore: t.snapshot(), runs: { max_runs: 2 }, onEvict: (e) => evicted.push(e.runId) });
    small.apply(llm('r9', 10));
    expect(small.size).toBe(2);
    expect(evicted).toEqual(['r0', 'r1', 'r2', 'r3']);
  });

  // Runs r0..r4 of agents with small caps; tight grace, idle and capacity so that every eviction
  // kind happens; event times jitter by up to ±3 s (SPEC §1 disorder).
  const RT_POLICY = parsePolicy({
    runs: { grace_after_end: '5s', idle_timeout: '20s', max_runs: 3 },
    defaults: { step_cap: { max_llm_calls: 5, max_tool_calls: 8 } },
    agents: { loose: { step_cap: { max_llm_calls: 50, max_tool_calls: 50 } } },
  });
  const stepArb = fc.record({
    run: fc.constantFrom('r0', 'r1', 'r2', 'r3', 'r4'),
    kind: fc.constantFrom('llm', 'tool', 'tool', 'tool', 'start', 'end'),
    tool: fc.constantFrom('A', 'B'),
    args: fc.constantFrom('1', '2'),
    gap: fc.integer({ min: 0, max: 8_000 }),
    jitter: fc.integer({ min: -3_000, max: 3_000 }),
    loose: fc.boolean(),
    limit: fc.nat(6),
  });

  type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

  function toEvents(steps: readonly Step[]): SpanEvent[] {
    let clock = 10_000;
    return steps.map((s) => {
      clock += s.gap;
      const at = clock + s.jitter;
      const agent = s.loose ? 'loose' : 'agent-a';
      switch (s.kind) {
        case 'llm':
          return llm(s.run, at, agent);
        case 'tool':
          return tool(s.run, at, s.tool, s.args, agent);
        case 'start':
          return start(s.run, at, { max_tool_calls: s.limit }, agent);
        case 'end':
          return end(s.run, at);
      }
    });
  }

  it('property: restoring a snapshot (and watermark) gives the same findings and evictions as running on', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 120 }), fc.nat(), (steps, cut) => {
        const events = toEvents(steps);
        const k = cut % (events.length + 1);
        const log = (name: string, into: string[]) => (e: Readonly<RunEntry>, reason: EvictReason) => into.push(`${name}:${e.runId}:${reason}`);

        const straightLog: string[] = [];
        const straight = createRunTable({ policy: RT_POLICY, onEvict: log('x', straightLog) });
        for (const e of events.slice(0, k)) straight.apply(e);
        const checkpoint = JSON.parse(JSON.stringify(straight.snapshot())) as RunEntry[];
        const watermark = straight.watermarkMs;
        straightLog.length = 0;

        const resumedLog: string[] = [];
        const resumed = createRunTable({ policy: RT_POLICY, restore: checkpoint, restoreWatermarkMs: watermark, onEvict: log('x', resumedLog) });
        const after = events.slice(k);
        const a = after.flatMap((e) => straight.apply(e));
        const b = after.flatMap((e) => resumed.apply(e));
        expect(b).toEqual(a);
        expect(resumedLog).toEqual(straightLog);
        expect(resumed.snapshot()).toEqual(straight.snapshot());
        expect(resumed.watermarkMs).toBe(straight.watermarkMs);
      }),
      { numRuns: 300 },
    );
  });

  it('property: the table never holds more than max_runs, and only ended or idle runs leave otherwise', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 150 }), (steps) => {
        const reasons: EvictReason[] = [];
        const t = createRunTable({ policy: RT_POLICY, onEvict: (_e, r) => reasons.push(r) });
        for (const e of toEvents(steps)) {
          t.apply(e);
          expect(t.size).toBeLessThanOrEqual(3);
          for (const entry of t.snapshot()) {
            // Idle runs leave from the head in arrival order: one behind a live head can be up to
            // the 6 s of jitter older than it.
            expect(entry.lastSeenMs + 20_000).toBeGreaterThan(t.watermarkMs - 6_000);
            if (entry.endedAtMs !== undefined) expect(entry.endedAtMs + 5_000).toBeGreaterThan(t.watermarkMs);
          }
        }
        for (const r of reasons) expect(['ended', 'idle', 'capacity']).toContain(r);
      }),
      { numRuns: 200 },
    );
  });
});
