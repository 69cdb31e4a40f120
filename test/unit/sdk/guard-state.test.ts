import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Scope } from '../../../src/contracts/common.ts';
import { createGuardState, type StepDecision } from '../../../src/sdk/guard-state.ts';
import type { StepContext } from '../../../src/sdk/scope-match.ts';
import { cmd, T0 } from './commands.ts';

const ctx: StepContext = {
  runId: 'r1',
  userId: 'u1',
  tenantId: 'acme',
  agentId: 'support-bot',
  attrs: { model_version: 'v2', plan_tier: 'free' },
};
const other: StepContext = { runId: 'r2', userId: 'u2', tenantId: 'globex', agentId: 'sales-bot', attrs: { model_version: 'v1', plan_tier: 'pro' } };

const kind = (d: StepDecision) => d.kind;

describe('guard state: aborts and kill switches by scope', () => {
  const scopes: Array<[string, Scope]> = [
    ['run', { kind: 'run', id: 'r1' }],
    ['user', { kind: 'user', id: 'u1' }],
    ['tenant', { kind: 'tenant', id: 'acme' }],
    ['agent', { kind: 'agent', id: 'support-bot' }],
    ['cohort (one dimension)', { kind: 'cohort', id: 'model_version=v2' }],
    ['cohort (agent × attr)', { kind: 'cohort', id: 'agent_id=support-bot,plan_tier=free' }],
    ['global', { kind: 'global', id: '*' }],
  ];

  it.each(scopes)('an abort on the %s scope stops the steps it covers and only those', (_, scope) => {
    const state = createGuardState();
    expect(state.apply(cmd('abort', scope), T0)).toBe('applied');
    const d = state.decide(ctx, T0);
    expect(d).toMatchObject({ kind: 'abort', command: { action: 'abort', scope } });
    expect(kind(state.decide(other, T0))).toBe(scope.kind === 'global' ? 'abort' : 'allow');
  });

  it.each(scopes)('a kill switch on the %s scope blocks until a resume on exactly that scope', (_, scope) => {
    const state = createGuardState();
    state.apply(cmd('kill_switch', scope), T0);
    expect(state.decide(ctx, T0)).toMatchObject({ kind: 'abort', command: { action: 'kill_switch' } });
    // A resume elsewhere lifts nothing.
    const elsewhere: Scope = scope.kind === 'global' ? { kind: 'tenant', id: 'acme' } : { kind: 'global', id: '*' };
    state.apply(cmd('resume', elsewhere), T0 + 1);
    expect(kind(state.decide(ctx, T0 + 1))).toBe('abort');
    state.apply(cmd('resume', scope), T0 + 2);
    expect(kind(state.decide(ctx, T0 + 2))).toBe('allow');
    expect(state.live(T0 + 2)).toEqual([]);
  });

  it('a cohort scope with a dimension the step lacks does not match', () => {
    const state = createGuardState();
    state.apply(cmd('abort', { kind: 'cohort', id: 'model_version=v2,region=eu' }), T0);
    expect(kind(state.decide(ctx, T0))).toBe('allow');
  });

  it('every global scope is one scope, whatever its id', () => {
    const state = createGuardState();
    state.apply(cmd('kill_switch', { kind: 'global', id: 'everything' }), T0);
    state.apply(cmd('resume', { kind: 'global', id: '*' }), T0);
    expect(kind(state.decide(ctx, T0))).toBe('allow');
  });

  it('resume does not lift an abort: an aborted run stays aborted', () => {
    const state = createGuardState();
    state.apply(cmd('abort', { kind: 'run', id: 'r1' }), T0);
    state.apply(cmd('resume', { kind: 'run', id: 'r1' }), T0);
    expect(kind(state.decide(ctx, T0))).toBe('abort');
  });

  it('a kill switch wins over an abort in what the step is told', () => {
    const state = createGuardState();
    state.apply(cmd('abort', { kind: 'run', id: 'r1' }), T0);
    state.apply(cmd('kill_switch', { kind: 'tenant', id: 'acme' }), T0);
    expect(state.stopFor(ctx, T0)?.action).toBe('kill_switch');
  });

  it('warn and heartbeat never stop a step', () => {
    const state = createGuardState();
    state.apply(cmd('warn', { kind: 'run', id: 'r1' }), T0);
    state.apply(cmd('heartbeat', { kind: 'global', id: '*' }), T0);
    expect(kind(state.decide(ctx, T0))).toBe('allow');
    expect(state.live(T0)).toEqual([]);
  });
});

describe('guard state: expiry', () => {
  it.each([
    ['abort', 'abort'],
    ['kill_switch', 'abort'],
  ] as const)('%s is live before expires_at and gone from it on', (action, decided) => {
    const state = createGuardState();
    state.apply(cmd(action, { kind: 'user', id: 'u1' }, { expiresAt: T0 + 1_000 }), T0);
    expect(kind(state.decide(ctx, T0 + 999))).toBe(decided);
    expect(kind(state.decide(ctx, T0 + 1_000))).toBe('allow');
    expect(state.live(T0 + 1_000)).toEqual([]);
    expect(state.sizes()).toMatchObject({ aborts: 0, killSwitches: 0 });
  });

  it('an expired throttle stops delaying', () => {
    const state = createGuardState();
    state.apply(cmd('throttle', { kind: 'tenant', id: 'acme' }, { expiresAt: T0 + 10_000, throttle: { delay_ms: 500 } }), T0);
    expect(state.decide(ctx, T0)).toMatchObject({ kind: 'delay', delayMs: 500 });
    expect(kind(state.decide(ctx, T0 + 10_000))).toBe('allow');
  });
});

describe('guard state: replays', () => {
  it('the same command id is refused the second time and has no effect', () => {
    const state = createGuardState();
    const kill = cmd('kill_switch', { kind: 'tenant', id: 'acme' });
    expect(state.apply(kill, T0)).toBe('applied');
    state.apply(cmd('resume', { kind: 'tenant', id: 'acme' }), T0 + 1);
    expect(state.apply(structuredClone(kill), T0 + 2)).toBe('replayed');
    expect(kind(state.decide(ctx, T0 + 2))).toBe('allow');
  });

  it('property: applying any sequence twice leaves the same decisions as once (replays are no-ops)', () => {
    const scopeArb = fc.constantFrom<Scope>({ kind: 'run', id: 'r1' }, { kind: 'user', id: 'u1' }, { kind: 'tenant', id: 'acme' }, { kind: 'global', id: '*' });
    const commandArb = fc.record({
      action: fc.constantFrom('abort', 'kill_switch', 'resume', 'throttle', 'warn') as fc.Arbitrary<'abort' | 'kill_switch' | 'resume' | 'throttle' | 'warn'>,
      scope: scopeArb,
    });
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 20 }), (specs) => {
        const commands = specs.map((s) => cmd(s.action, s.scope, s.action === 'throttle' ? { throttle: { delay_ms: 10 } } : {}));
        const once = createGuardState();
        const twice = createGuardState();
        for (const c of commands) once.apply(c, T0);
        for (const c of commands) twice.apply(c, T0);
        for (const c of commands) expect(twice.apply(c, T0)).toBe('replayed');
        expect(twice.decide(ctx, T0)).toEqual(once.decide(ctx, T0));
      }),
    );
  });
});

describe('guard state: throttles', () => {
  it('delay_ms delays every step in the scope, and not others', () => {
    const state = createGuardState();
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { delay_ms: 2_000 } }), T0);
    expect(state.decide(ctx, T0)).toMatchObject({ kind: 'delay', delayMs: 2_000, overrun: false, command: { action: 'throttle' } });
    expect(kind(state.decide(other, T0))).toBe('allow');
  });

  it('the strictest of several matching throttles wins', () => {
    const state = createGuardState();
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { delay_ms: 100 } }), T0);
    state.apply(cmd('throttle', { kind: 'tenant', id: 'acme' }, { throttle: { delay_ms: 700 } }), T0);
    expect(state.decide(ctx, T0)).toMatchObject({ kind: 'delay', delayMs: 700, command: { scope: { kind: 'tenant' } } });
  });

  it('a throttle on a scope replaces the older one; resume lifts it', () => {
    const state = createGuardState();
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { delay_ms: 100 } }), T0);
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { delay_ms: 300 } }), T0);
    expect(state.decide(ctx, T0)).toMatchObject({ delayMs: 300 });
    state.apply(cmd('resume', { kind: 'user', id: 'u1' }), T0);
    expect(kind(state.decide(ctx, T0))).toBe('allow');
  });

  it('a delay longer than maxDelayMs is cut and flagged as an overrun', () => {
    const state = createGuardState({ maxDelayMs: 1_000 });
    state.apply(cmd('throttle', { kind: 'global', id: '*' }, { throttle: { delay_ms: 5_000 } }), T0);
    expect(state.decide(ctx, T0)).toMatchObject({ kind: 'delay', delayMs: 1_000, overrun: true });
  });

  it('max_llm_calls_per_minute: 3 steps pass, the 4th waits until the first leaves the minute', () => {
    const state = createGuardState();
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { max_llm_calls_per_minute: 3 } }), T0);
    expect([0, 10, 20].map((dt) => kind(state.decide(ctx, T0 + dt)))).toEqual(['allow', 'allow', 'allow']);
    expect(state.decide(ctx, T0 + 30)).toMatchObject({ kind: 'delay', delayMs: 60_000 - 30 });
    // The per-minute cap is per scope: another run of the same user shares it.
    expect(state.decide({ ...ctx, runId: 'r9' }, T0 + 40)).toMatchObject({ kind: 'delay', delayMs: 60_010 - 40 });
    expect(kind(state.decide(other, T0 + 40))).toBe('allow');
  });

  it('only LLM steps count against the per-minute cap (a step without a kind counts)', () => {
    const state = createGuardState();
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { max_llm_calls_per_minute: 1 } }), T0);
    expect(kind(state.decide({ ...ctx, step: 'llm_call' }, T0))).toBe('allow');
    expect(kind(state.decide({ ...ctx, step: 'tool_call' }, T0))).toBe('allow');
    expect(kind(state.decide(ctx, T0))).toBe('delay');
  });

  it('max_llm_calls_per_minute 0 holds every LLM step for the longest wait', () => {
    const state = createGuardState({ maxDelayMs: 5_000 });
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { max_llm_calls_per_minute: 0 } }), T0);
    expect(state.decide(ctx, T0)).toMatchObject({ kind: 'delay', delayMs: 5_000, overrun: true });
  });

  it('property: admitted LLM steps never exceed the cap in any 60 s window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 40 }), (cap, gaps) => {
        const state = createGuardState({ maxDelayMs: 120_000 });
        state.apply(cmd('throttle', { kind: 'tenant', id: 'acme' }, { throttle: { max_llm_calls_per_minute: cap } }), T0);
        const admitted: number[] = [];
        let t = T0;
        for (const gap of gaps) {
          t += gap;
          const d = state.decide(ctx, t);
          expect(d.kind === 'allow' || (d.kind === 'delay' && !d.overrun)).toBe(true);
          const at = t + (d.kind === 'delay' ? d.delayMs : 0);
          admitted.push(at);
          // The agent waits out the delay before its next step.
          t = at;
        }
        for (let i = cap; i < admitted.length; i++) expect((admitted[i] as number) - (admitted[i - cap] as number)).toBeGreaterThanOrEqual(60_000);
      }),
    );
  });

  it('max_concurrent_runs holds a new run back until a running one ends', () => {
    const state = createGuardState({ runIdleMs: 10_000 });
    state.apply(cmd('throttle', { kind: 'tenant', id: 'acme' }, { throttle: { max_concurrent_runs: 1 } }), T0);
    expect(kind(state.decide({ ...ctx, runId: 'a' }, T0))).toBe('allow');
    expect(kind(state.decide({ ...ctx, runId: 'a' }, T0 + 1))).toBe('allow'); // a running run goes on
    expect(state.decide({ ...ctx, runId: 'b' }, T0 + 2)).toMatchObject({ kind: 'wait', command: { action: 'throttle' } });
    expect(kind(state.decide(other, T0 + 2))).toBe('allow'); // another tenant
    state.endRun('a');
    expect(kind(state.decide({ ...ctx, runId: 'b' }, T0 + 3))).toBe('allow');
  });

  it('max_concurrent_runs: runs that started before the throttle count; idle runs stop counting; force admits', () => {
    const state = createGuardState({ runIdleMs: 10_000 });
    expect(kind(state.decide({ ...ctx, runId: 'a' }, T0))).toBe('allow');
    state.apply(cmd('throttle', { kind: 'user', id: 'u1' }, { throttle: { max_concurrent_runs: 1 } }), T0);
    const held = state.decide({ ...ctx, runId: 'b' }, T0 + 1_000);
    expect(held).toMatchObject({ kind: 'wait', retryMs: 9_000 });
    expect(kind(state.decide({ ...ctx, runId: 'c' }, T0 + 1_000, { force: true }))).toBe('allow');
    expect(kind(state.decide({ ...ctx, runId: 'b' }, T0 + 20_000))).toBe('allow'); // a and c went idle
  });
});

describe('guard state: heartbeats', () => {
  const beat = (issuedAt: number, expiresAt?: number) => cmd('heartbeat', { kind: 'global', id: '*' }, { issuedAt, ...(expiresAt === undefined ? {} : { expiresAt }) });

  it('no heartbeat yet: not alive', () => {
    expect(createGuardState().liveness(T0)).toEqual({ alive: false, lastHeartbeatMs: undefined });
  });

  it.each([
    // [what, issued_at relative to receipt, checked at (ms after receipt), alive]
    ['a fresh beat, checked within the timeout', 0, 15_000, true],
    ['a fresh beat, checked past the timeout', 0, 15_001, false],
    ['an old beat read at start-up (lookback)', -60_000, 0, false],
    ['a beat sent 10 s ago: counts from issued_at + skew, still alive', -10_000, 10_000, true],
    ['a beat sent 10 s ago: counts from issued_at + skew, then stale', -10_000, 10_001, false],
    ['a warden clock 3 s behind (within the 5 s skew): counts from receipt', -3_000, 15_000, true],
    ['a warden clock 8 s behind: counts from issued_at + skew', -8_000, 13_000, false],
    ['a warden clock ahead: never past receipt', 60_000, 15_001, false],
  ] as const)('%s', (_, issuedDelta, checkedAfter, alive) => {
    const state = createGuardState({ heartbeatTimeoutMs: 15_000, maxClockSkewMs: 5_000 });
    state.apply(beat(T0 + issuedDelta), T0);
    expect(state.liveness(T0 + checkedAfter).alive).toBe(alive);
  });

  it('a heartbeat ttl (expires_at) shortens its liveness', () => {
    const state = createGuardState({ heartbeatTimeoutMs: 15_000 });
    state.apply(beat(T0, T0 + 3_000), T0);
    expect(state.liveness(T0 + 2_999).alive).toBe(true);
    expect(state.liveness(T0 + 3_000).alive).toBe(false);
  });

  it('an older beat arriving late does not shorten liveness; lastHeartbeatMs is the freshest send time', () => {
    const state = createGuardState({ heartbeatTimeoutMs: 15_000 });
    state.apply(beat(T0), T0);
    state.apply(beat(T0 - 30_000), T0 + 1);
    expect(state.liveness(T0 + 14_000)).toEqual({ alive: true, lastHeartbeatMs: T0 });
  });
});

describe('guard state: bounded memory', () => {
  it('remembers at most maxRememberedIds command ids', () => {
    const state = createGuardState({ maxRememberedIds: 100 });
    for (let i = 0; i < 1_000; i++) state.apply(cmd('warn', { kind: 'run', id: `r${i}` }), T0);
    expect(state.sizes().rememberedIds).toBeLessThanOrEqual(100);
    expect(state.sizes().evicted).toBeGreaterThan(0);
  });

  it('forgets expired ids before live ones (their replay fails as expired at verification)', () => {
    const state = createGuardState({ maxRememberedIds: 12 });
    const keep = cmd('abort', { kind: 'run', id: 'keep' });
    state.apply(keep, T0);
    for (let i = 0; i < 10; i++) state.apply(cmd('warn', { kind: 'run', id: `r${i}` }, { expiresAt: T0 + 1 }), T0);
    state.apply(cmd('warn', { kind: 'run', id: 'late-1' }), T0 + 5);
    state.apply(cmd('warn', { kind: 'run', id: 'late-2' }), T0 + 5); // 13 ids > 12: the 10 expired go
    expect(state.sizes()).toMatchObject({ rememberedIds: 3, evicted: 0 });
    expect(state.apply(keep, T0 + 5)).toBe('replayed');
  });

  it('property: ids, live commands and tracked runs never exceed their bounds', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('abort', 'kill_switch', 'throttle', 'step') as fc.Arbitrary<'abort' | 'kill_switch' | 'throttle' | 'step'>, fc.nat(200)), { maxLength: 300 }),
        (ops) => {
          const state = createGuardState({ maxRememberedIds: 20, maxLiveCommands: 10, maxActiveRuns: 5 });
          for (const [op, n] of ops) {
            if (op === 'step') state.decide({ runId: `r${n}` }, T0);
            else state.apply(cmd(op, { kind: 'run', id: `r${n}` }, op === 'throttle' ? { throttle: { max_concurrent_runs: 100 } } : {}), T0);
            const s = state.sizes();
            expect(s.rememberedIds).toBeLessThanOrEqual(20);
            expect(Math.max(s.aborts, s.killSwitches, s.throttles)).toBeLessThanOrEqual(10);
            expect(s.activeRuns).toBeLessThanOrEqual(5);
          }
        },
      ),
    );
  });

  it('a full abort table keeps the newest abort', () => {
    const state = createGuardState({ maxLiveCommands: 10 });
    for (let i = 0; i < 50; i++) state.apply(cmd('abort', { kind: 'run', id: `r${i}` }), T0);
    expect(kind(state.decide({ runId: 'r49' }, T0))).toBe('abort');
    expect(kind(state.decide({ runId: 'r0' }, T0))).toBe('allow');
  });
});
