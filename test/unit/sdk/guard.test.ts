import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UnsignedControlCommand } from '../../../src/contracts/control.ts';
import { commandForFinding } from '../../../src/control/commands.ts';
import { heartbeatCommand, killSwitchCommand, resumeCommand } from '../../../src/control/operator.ts';
import { signCommand, type KeyRing } from '../../../src/control/sign.ts';
import { DEFAULT_POLICY } from '../../../src/policy/policy.ts';
import {
  createGuardCore,
  createGuardState,
  handleControlMessage,
  RunAbortedError,
  WardenUnavailableError,
  type GuardCoreOptions,
  type GuardEvent,
  type GuardLogger,
} from '../../../src/sdk/index.ts';
import { T0 } from './commands.ts';

const RING: KeyRing = { activeKeyId: 'k1', keys: { k1: 'shared-secret-0123456789abcdef' } };
const OTHER_KEY: KeyRing = { activeKeyId: 'k9', keys: { k9: 'somebody-elses-secret-0123456789' } };
const SAME_ID_WRONG_SECRET: KeyRing = { activeKeyId: 'k1', keys: { k1: 'not-the-shared-secret-at-all!!' } };
const ctx = { runId: 'r1', userId: 'u1', tenantId: 'acme', agentId: 'support-bot' };

function abortFor(runId: string, extra: Partial<UnsignedControlCommand> = {}): UnsignedControlCommand {
  return {
    schema: 'runwarden.control/v1',
    command_id: `abort-${runId}-${extra.issued_at ?? T0}`,
    issued_at: T0,
    action: 'abort',
    scope: { kind: 'run', id: runId },
    reason: { detector: 'tool-loop', rule: 'identical_consecutive', observed: 6, threshold: 5, finding_id: 'f-1' },
    expires_at: T0 + 600_000,
    ...extra,
  };
}
const wire = (c: object) => JSON.stringify(c);
const signed = (c: UnsignedControlCommand, ring = RING) => wire(signCommand(c, ring));
const beat = (at: number, sequence = 1) => signed(heartbeatCommand({ issuedAt: at, sequence, wardenId: 'w1' }));

describe('handleControlMessage: verify, refuse, apply', () => {
  const valid = signCommand(abortFor('r1'), RING);
  const cases: Array<[string, string | Buffer | null, string]> = [
    ['a signed abort', wire(valid), 'applied'],
    ['the same bytes as a Buffer', Buffer.from(wire(signCommand(abortFor('r2'), RING))), 'applied'],
    ['unsigned (no signature field)', wire(abortFor('r3')), 'unsigned'],
    ['unsigned (empty signature)', wire({ ...abortFor('r3'), signature: '' }), 'unsigned'],
    ['forged: the signature of another body', wire({ ...abortFor('r4'), key_id: 'k1', signature: valid.signature }), 'bad_signature'],
    ['tampered after signing (threshold changed)', wire({ ...valid, reason: { ...valid.reason, threshold: 1 } }), 'bad_signature'],
    ['signed with a key not in the ring', signed(abortFor('r5'), OTHER_KEY), 'unknown_key'],
    ['signed with a wrong secret under a known key id', signed(abortFor('r6'), SAME_ID_WRONG_SECRET), 'bad_signature'],
    ['expired', signed(abortFor('r7', { expires_at: T0 - 1 })), 'expired'],
    ['not JSON', '{"schema": "runwarden.control/v1", ', 'malformed'],
    ['JSON but not an object', '42', 'malformed'],
    ['an empty message (tombstone)', null, 'malformed'],
    ['oversize', wire({ ...valid, padding: 'x'.repeat(70_000) }), 'malformed'],
    ['an unknown schema version', wire({ ...valid, schema: 'runwarden.control/v9' }), 'malformed'],
    // A newer warden may add fields: they are covered by the signature and do not break verification.
    ['a signed command with a field this version does not know', wire(signCommand({ ...abortFor('r8'), future_field: 'x' } as UnsignedControlCommand, RING)), 'applied'],
  ];

  it.each(cases)('%s → %s', (_, bytes, expected) => {
    const state = createGuardState();
    const result = handleControlMessage(bytes, RING, state, T0);
    expect(result.kind === 'applied' ? 'applied' : result.reason).toBe(expected);
    // Nothing refused takes effect.
    if (expected !== 'applied') expect(state.live(T0)).toEqual([]);
  });

  it('a replay (the same message twice) is refused the second time, with its command id', () => {
    const state = createGuardState();
    const bytes = wire(valid);
    expect(handleControlMessage(bytes, RING, state, T0).kind).toBe('applied');
    expect(handleControlMessage(bytes, RING, state, T0 + 1)).toEqual({ kind: 'rejected', reason: 'replayed', commandId: valid.command_id });
  });

  it('a rejected message names its command id when it has one', () => {
    const result = handleControlMessage(wire(abortFor('r3')), RING, createGuardState(), T0);
    expect(result).toEqual({ kind: 'rejected', reason: 'unsigned', commandId: 'abort-r3-1768478400000' });
  });

  it('accepts every key of the ring (rotation)', () => {
    const ring: KeyRing = { activeKeyId: 'k2', keys: { ...RING.keys, k2: 'the-next-secret-0123456789' } };
    const state = createGuardState();
    expect(handleControlMessage(signed(abortFor('a')), ring, state, T0).kind).toBe('applied');
    expect(handleControlMessage(signed(abortFor('b'), ring), ring, state, T0).kind).toBe('applied');
  });

  it('property: never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a))), (bytes) => {
        expect(['applied', 'rejected']).toContain(handleControlMessage(bytes, RING, createGuardState(), T0).kind);
      }),
    );
  });
});

/** A guard core on a fake clock whose sleep advances the clock, recording every event and log line. */
function harness(options: Partial<GuardCoreOptions> = {}) {
  let t = T0;
  const events: GuardEvent[] = [];
  const logs: Array<{ level: string; obj: object; msg: string }> = [];
  const logger: GuardLogger = {
    error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
  };
  const slept: number[] = [];
  const guard = createGuardCore({
    keyRing: RING,
    heartbeatTimeoutMs: 15_000,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    onEvent: (e) => events.push(e),
    logger,
    ...options,
  });
  return {
    guard,
    events,
    logs,
    slept,
    advance: (ms: number) => (t += ms),
    now: () => t,
  };
}

const caught = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);

describe('guard core: check() before every step', () => {
  it('throws RunAbortedError carrying the reason for an aborted run; other runs pass', async () => {
    const h = harness();
    h.guard.receive(beat(T0));
    h.guard.receive(signed(abortFor('r1')));
    const err = await caught(h.guard.check(ctx));
    expect(err).toBeInstanceOf(RunAbortedError);
    expect((err as RunAbortedError).details).toEqual({
      commandId: 'abort-r1-1768478400000',
      action: 'abort',
      scope: { kind: 'run', id: 'r1' },
      detector: 'tool-loop',
      rule: 'identical_consecutive',
      observed: 6,
      threshold: 5,
      findingId: 'f-1',
    });
    expect((err as RunAbortedError).retriable).toBe(false);
    await expect(h.guard.check({ ...ctx, runId: 'r2' })).resolves.toBeUndefined();
    expect(h.guard.stats().steps).toEqual({ aborted: 1, throttled: 0, unavailable: 0 });
    expect(h.events.some((e) => e.type === 'aborted' && e.runId === 'r1')).toBe(true);
  });

  it('a kill switch carries the operator note; resume lifts it', async () => {
    const h = harness();
    h.guard.receive(beat(T0));
    h.guard.receive(signed(killSwitchCommand({ scope: { kind: 'tenant', id: 'acme' }, issuedAt: T0, note: 'incident 42' })));
    const err = await caught(h.guard.check(ctx));
    expect((err as RunAbortedError).details).toMatchObject({ action: 'kill_switch', scope: { kind: 'tenant', id: 'acme' }, detector: 'kill-switch', note: 'incident 42' });
    h.guard.receive(signed(resumeCommand({ scope: { kind: 'tenant', id: 'acme' }, issuedAt: T0 + 1 })));
    await expect(h.guard.check(ctx)).resolves.toBeUndefined();
  });

  it('fails closed without a heartbeat (default), and passes once one arrives', async () => {
    const h = harness();
    const err = await caught(h.guard.check(ctx));
    expect(err).toBeInstanceOf(WardenUnavailableError);
    expect((err as WardenUnavailableError).silentForMs).toBeNull();
    expect((err as WardenUnavailableError).retriable).toBe(true);
    h.guard.receive(beat(h.now()));
    await expect(h.guard.check(ctx)).resolves.toBeUndefined();
    h.advance(15_001);
    const stale = await caught(h.guard.check(ctx));
    expect(stale).toBeInstanceOf(WardenUnavailableError);
    expect((stale as WardenUnavailableError).silentForMs).toBe(15_001);
    expect(h.guard.stats().steps.unavailable).toBe(2);
  });

  it('fails open when told to, still enforcing what it knows; silence is reported once', async () => {
    const h = harness({ failMode: 'open' });
    h.guard.receive(signed(abortFor('r1')));
    await expect(h.guard.check({ ...ctx, runId: 'r2' })).resolves.toBeUndefined();
    await expect(h.guard.check({ ...ctx, runId: 'r3' })).resolves.toBeUndefined();
    await expect(h.guard.check(ctx)).rejects.toBeInstanceOf(RunAbortedError);
    expect(h.events.filter((e) => e.type === 'warden_unavailable')).toEqual([{ type: 'warden_unavailable', silentForMs: null, failMode: 'open' }]);
    expect(h.logs.filter((l) => l.level === 'warn' && l.msg.includes('failing open'))).toHaveLength(1);
    h.guard.receive(beat(h.now()));
    await h.guard.check({ ...ctx, runId: 'r2' });
    expect(h.events.at(-1)).toEqual({ type: 'warden_available' });
  });

  it('waits out a throttle (delay_ms), then lets the step go', async () => {
    const h = harness();
    h.guard.receive(beat(T0));
    const finding = {
      schema: 'runwarden.finding/v1' as const,
      finding_id: 'f-spike',
      ts: T0,
      detector: 'cost-spike' as const,
      rule: 'spend_per_minute',
      severity: 'warning' as const,
      scope: { kind: 'user' as const, id: 'u1' },
      observed: 4.2,
      threshold: 1.5,
      details: { action: 'throttle', throttle: { delay_ms: 2_000 } },
    };
    const throttle = commandForFinding(finding, DEFAULT_POLICY.defaults);
    expect(throttle?.throttle).toEqual({ delay_ms: 2_000 });
    h.guard.receive(signed(throttle as UnsignedControlCommand));
    await h.guard.check(ctx);
    expect(h.slept).toEqual([2_000]);
    expect(h.events.find((e) => e.type === 'throttled')).toMatchObject({ type: 'throttled', runId: 'r1', waitMs: 2_000, overrun: false });
  });

  it('an abort that arrives during a throttle wait stops the step after the wait', async () => {
    let t = T0;
    const guard = createGuardCore({
      keyRing: RING,
      now: () => t,
      // While the step waits, the warden aborts its run.
      sleep: async (ms) => {
        t += ms;
        guard.receive(signed(abortFor('r1', { issued_at: t })));
      },
    });
    guard.receive(beat(T0));
    guard.receive(signed({ ...abortFor('x'), command_id: 'th', action: 'throttle', scope: { kind: 'user', id: 'u1' }, throttle: { delay_ms: 500 } }));
    await expect(guard.check(ctx)).rejects.toBeInstanceOf(RunAbortedError);
  });

  it('enforces max_llm_calls_per_minute by waiting for the window', async () => {
    const h = harness({ heartbeatTimeoutMs: 600_000 });
    h.guard.receive(beat(T0));
    h.guard.receive(signed({ ...abortFor('x'), command_id: 'rate', action: 'throttle', scope: { kind: 'tenant', id: 'acme' }, throttle: { max_llm_calls_per_minute: 2 } }));
    for (let i = 0; i < 3; i++) await h.guard.check({ ...ctx, step: 'llm_call' });
    expect(h.slept).toEqual([60_000]);
  });

  it('holds a new run while max_concurrent_runs is full, and admits it once a run ends', async () => {
    const h = harness({ heartbeatTimeoutMs: 600_000 });
    h.guard.receive(beat(T0));
    h.guard.receive(signed({ ...abortFor('x'), command_id: 'conc', action: 'throttle', scope: { kind: 'tenant', id: 'acme' }, throttle: { max_concurrent_runs: 1 } }));
    await h.guard.check({ ...ctx, runId: 'a' });
    const b = h.guard.check({ ...ctx, runId: 'b' });
    // b is now parked in its first poll (the fake sleep has already advanced the clock): a ends.
    h.guard.endRun('a');
    await b;
    expect(h.guard.stats().live.activeRuns).toBe(1);
  });

  it('past maxThrottleWaitMs a held run goes ahead, flagged as an overrun (logged)', async () => {
    const h = harness({ heartbeatTimeoutMs: 600_000, maxThrottleWaitMs: 1_000 });
    h.guard.receive(beat(T0));
    h.guard.receive(signed({ ...abortFor('x'), command_id: 'conc', action: 'throttle', scope: { kind: 'tenant', id: 'acme' }, throttle: { max_concurrent_runs: 1 } }));
    await h.guard.check({ ...ctx, runId: 'a' });
    await h.guard.check({ ...ctx, runId: 'b' });
    expect(h.slept.reduce((a, b) => a + b, 0)).toBe(1_000);
    expect(h.events.some((e) => e.type === 'throttled' && e.overrun)).toBe(true);
    expect(h.logs.some((l) => l.level === 'warn' && l.msg.includes('maxThrottleWaitMs'))).toBe(true);
  });

  it('a warn command is reported through onEvent only: no effect on steps, not logged', async () => {
    const h = harness();
    h.guard.receive(beat(T0));
    h.guard.receive(signed({ ...abortFor('r1'), command_id: 'w', action: 'warn' }));
    await expect(h.guard.check(ctx)).resolves.toBeUndefined();
    expect(h.events.filter((e) => e.type === 'warn')).toHaveLength(1);
    expect(h.logs).toEqual([]);
    expect(h.guard.stats()).toMatchObject({ applied: 2, warnings: 1, heartbeats: 1 });
  });
});

describe('guard core: rejected commands are counted and logged', () => {
  it('counts each reason; forgeries at warn, expiry and replays at info; none takes effect', async () => {
    const h = harness();
    h.guard.receive(beat(T0), { partition: 0, offset: '0' });
    const abort = signed(abortFor('r1'));
    h.guard.receive(wire(abortFor('r1')), { partition: 0, offset: '1' });
    h.guard.receive(wire({ ...abortFor('r1'), key_id: 'k1', signature: 'ab'.repeat(32) }), { partition: 0, offset: '2' });
    h.guard.receive(signed(abortFor('r1'), OTHER_KEY), { partition: 0, offset: '3' });
    h.guard.receive(signed(abortFor('r1', { expires_at: T0 - 1 })), { partition: 0, offset: '4' });
    h.guard.receive('garbage', { partition: 0, offset: '5' });
    await expect(h.guard.check(ctx)).resolves.toBeUndefined();
    h.guard.receive(abort, { partition: 0, offset: '6' });
    h.guard.receive(abort, { partition: 0, offset: '7' });
    expect(h.guard.stats().rejected).toEqual({ malformed: 1, unsigned: 1, bad_signature: 1, unknown_key: 1, expired: 1, replayed: 1 });
    expect(h.logs.map((l) => [l.level, (l.obj as { reason?: string }).reason])).toEqual([
      ['warn', 'unsigned'],
      ['warn', 'bad_signature'],
      ['warn', 'unknown_key'],
      ['info', 'expired'],
      ['warn', 'malformed'],
      ['info', 'replayed'],
    ]);
    expect(h.logs[0]?.obj).toMatchObject({ component: 'runwarden-guard', commandId: 'abort-r1-1768478400000', source: { partition: 0, offset: '1' } });
    expect(h.events.filter((e) => e.type === 'rejected').map((e) => e.type === 'rejected' && e.source?.offset)).toEqual(['1', '2', '3', '4', '5', '7']);
  });

  it('while catching up (history), expired and replayed commands are counted but not logged one by one; forgeries still are', () => {
    const h = harness();
    const abort = signed(abortFor('r1'));
    h.guard.receive(signed(abortFor('old', { expires_at: T0 - 1 })), undefined, { history: true });
    h.guard.receive(abort, undefined, { history: true });
    h.guard.receive(abort, undefined, { history: true });
    h.guard.receive(signed(abortFor('r2'), OTHER_KEY), undefined, { history: true });
    expect(h.guard.stats().rejected).toMatchObject({ expired: 1, replayed: 1, unknown_key: 1 });
    expect(h.logs.map((l) => l.level)).toEqual(['warn']);
    expect(h.events.filter((e) => e.type === 'rejected')).toHaveLength(3);
  });

  it('a throwing listener or logger never reaches the agent or the receive path', async () => {
    const guard = createGuardCore({
      keyRing: RING,
      now: () => T0,
      onEvent: () => {
        throw new Error('listener bug');
      },
      logger: {
        error: () => {
          throw new Error('logger bug');
        },
        warn: () => {
          throw new Error('logger bug');
        },
        info: () => {
          throw new Error('logger bug');
        },
      },
    });
    expect(() => guard.receive('garbage')).not.toThrow();
    guard.receive(beat(T0));
    await expect(guard.check(ctx)).resolves.toBeUndefined();
  });

  it('property: check() throws nothing but RunAbortedError or WardenUnavailableError, whatever arrived', async () => {
    const commandArb = fc.record({
      action: fc.constantFrom('abort', 'throttle', 'warn', 'resume', 'kill_switch', 'heartbeat') as fc.Arbitrary<UnsignedControlCommand['action']>,
      scope: fc.oneof(
        fc.constant({ kind: 'run' as const, id: 'r1' }),
        fc.constant({ kind: 'tenant' as const, id: 'acme' }),
        fc.constant({ kind: 'global' as const, id: '*' }),
        fc.constant({ kind: 'cohort' as const, id: 'agent_id=support-bot' }),
      ),
      throttle: fc.record({ delay_ms: fc.nat(100_000), max_llm_calls_per_minute: fc.nat(5), max_concurrent_runs: fc.nat(3) }, { requiredKeys: [] }),
      ttl: fc.option(fc.integer({ min: -10, max: 100_000 })),
      garbage: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { maxLength: 12 }), fc.constantFrom<'open' | 'closed'>('open', 'closed'), async (specs, failMode) => {
        const h = harness({ failMode, maxThrottleWaitMs: 5_000 });
        specs.forEach((s, i) => {
          const c: UnsignedControlCommand = { ...abortFor('r1'), command_id: `p-${i}`, action: s.action, scope: s.scope, throttle: s.throttle };
          if (s.ttl === null) delete c.expires_at;
          else c.expires_at = Math.max(0, T0 + s.ttl);
          h.guard.receive(s.garbage ? wire(c).slice(0, 40) : signed(c));
        });
        for (const runId of ['r1', 'r2']) {
          const err = await caught(h.guard.check({ ...ctx, runId }));
          if (err !== undefined) expect(err instanceof RunAbortedError || err instanceof WardenUnavailableError).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
