import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SCOPE_KINDS, type Scope } from '../../../src/contracts/common.ts';
import { controlCommandSchema, unsignedControlCommandSchema } from '../../../src/contracts/control.ts';
import { FINDING_SCHEMA_VERSION, SEVERITIES, type Finding, type Severity } from '../../../src/contracts/finding.ts';
import { commandId } from '../../../src/control/command-id.ts';
import { actionForFinding, commandForFinding } from '../../../src/control/commands.ts';
import { signCommand, verifyCommand, type KeyRing } from '../../../src/control/sign.ts';
import { COMMANDS_DEFAULTS, type CommandsPolicy } from '../../../src/policy/policy-schema.ts';

const TS = 1_768_478_400_000;
const POLICY = { commands: COMMANDS_DEFAULTS };

function finding(o: Partial<Finding> = {}): Finding {
  return {
    schema: FINDING_SCHEMA_VERSION,
    finding_id: 'f-1',
    ts: TS,
    detector: 'tool-loop',
    rule: 'identical_consecutive',
    severity: 'critical',
    scope: { kind: 'run', id: 'run-1' },
    observed: 6,
    threshold: 5,
    details: { tool: 'search' },
    ...o,
  };
}

describe('commandId', () => {
  it('is 32 lower-case hex characters', () => {
    expect(commandId('f-1', 'abort')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('is the same for the same finding and action, different for another action or finding', () => {
    expect(commandId('f-1', 'abort')).toBe(commandId('f-1', 'abort'));
    expect(commandId('f-1', 'abort')).not.toBe(commandId('f-1', 'warn'));
    expect(commandId('f-1', 'abort')).not.toBe(commandId('f-2', 'abort'));
  });

  it('property: distinct (finding, action) pairs give distinct ids', () => {
    const id = fc.stringMatching(/^[0-9a-f]{32}$/);
    const action = fc.constantFrom('abort', 'warn', 'throttle');
    fc.assert(
      fc.property(id, action, id, action, (f1, a1, f2, a2) => {
        fc.pre(f1 !== f2 || a1 !== a2);
        expect(commandId(f1, a1)).not.toBe(commandId(f2, a2));
      }),
    );
  });
});

describe('actionForFinding', () => {
  const scopes = SCOPE_KINDS.map((kind): Scope => ({ kind, id: kind === 'global' ? '*' : `${kind}-1` }));
  const expected = (severity: Severity, scope: Scope) => {
    if (severity === 'info') return null;
    if (severity === 'warning') return 'warn';
    return scope.kind === 'run' ? 'abort' : 'warn';
  };

  it.each(SEVERITIES.flatMap((severity) => scopes.map((scope) => [severity, scope] as const)))('%s on %o', (severity, scope) => {
    expect(actionForFinding(finding({ severity, scope }))).toBe(expected(severity, scope));
  });

  it.each([
    ['throttle', 'warning', { kind: 'user', id: 'u' }, 'throttle'],
    ['throttle', 'info', { kind: 'cohort', id: 'c' }, 'throttle'],
    ['warn', 'critical', { kind: 'run', id: 'r' }, 'warn'],
    ['abort', 'warning', { kind: 'run', id: 'r' }, 'abort'],
  ] as const)('a stated details.action %s wins (severity %s, scope %o)', (stated, severity, scope, action) => {
    expect(actionForFinding(finding({ severity, scope, details: { action: stated } }))).toBe(action);
  });

  it.each(SEVERITIES.flatMap((severity) => scopes.map((scope) => [severity, scope] as const)))('a stated details.action none means no command (severity %s, scope %o)', (severity, scope) => {
    const f = finding({ severity, scope, details: { action: 'none' } });
    expect(actionForFinding(f)).toBeNull();
    expect(commandForFinding(f, POLICY)).toBeNull();
  });

  it.each([['kill_switch'], ['resume'], ['heartbeat'], ['ABORT'], [1]])('an unsupported details.action %j falls back to the severity', (stated) => {
    expect(actionForFinding(finding({ severity: 'warning', details: { action: stated } }))).toBe('warn');
  });

  it('a finding without details uses its severity', () => {
    const bare: Finding = finding();
    delete bare.details;
    expect(actionForFinding(bare)).toBe('abort');
  });
});

describe('commandForFinding', () => {
  it('an abort: reason from the finding, issued at its ts, expiring after the abort ttl, id from (finding_id, action)', () => {
    const c = commandForFinding(finding(), POLICY);
    expect(c).toEqual({
      schema: 'runwarden.control/v1',
      command_id: commandId('f-1', 'abort'),
      issued_at: TS,
      action: 'abort',
      scope: { kind: 'run', id: 'run-1' },
      reason: { detector: 'tool-loop', rule: 'identical_consecutive', observed: 6, threshold: 5, finding_id: 'f-1' },
      expires_at: TS + COMMANDS_DEFAULTS.ttl.abort,
    });
    expect(unsignedControlCommandSchema.parse(c)).toEqual(c);
  });

  it.each([
    ['abort', finding({ severity: 'critical' }), 3_600_000],
    ['warn', finding({ severity: 'warning', rule: 'repeated_call' }), 900_000],
    ['throttle', finding({ detector: 'cost-spike', severity: 'warning', scope: { kind: 'user', id: 'u' }, details: { action: 'throttle' } }), 900_000],
  ] as const)('%s expires after its ttl (policy defaults)', (action, f, ttl) => {
    const c = commandForFinding(f, POLICY);
    expect(c?.action).toBe(action);
    expect(c?.expires_at).toBe(TS + ttl);
  });

  it('uses the agent policy’s ttls', () => {
    const commands: CommandsPolicy = { ttl: { abort: 5, warn: 6, throttle: 7 } };
    expect(commandForFinding(finding(), { commands })?.expires_at).toBe(TS + 5);
    expect(commandForFinding(finding({ severity: 'warning' }), { commands })?.expires_at).toBe(TS + 6);
    expect(commandForFinding(finding({ details: { action: 'throttle' } }), { commands })?.expires_at).toBe(TS + 7);
  });

  it('an info finding calls for no command', () => {
    expect(commandForFinding(finding({ severity: 'info', rule: 'unpriced_model' }), POLICY)).toBeNull();
  });

  it('carries the baseline when the finding has one', () => {
    const c = commandForFinding(finding({ severity: 'warning', baseline: 0.3 }), POLICY);
    expect(c?.reason.baseline).toBe(0.3);
    expect(commandForFinding(finding(), POLICY)?.reason).not.toHaveProperty('baseline');
  });

  it('a throttle carries the limits the detector put in details.throttle', () => {
    const f = finding({
      detector: 'cost-spike',
      rule: 'spend_per_minute',
      severity: 'warning',
      scope: { kind: 'user', id: 'u-42' },
      details: { action: 'throttle', throttle: { max_llm_calls_per_minute: 10, delay_ms: 2_000 } },
    });
    const c = commandForFinding(f, POLICY);
    expect(c).toMatchObject({ action: 'throttle', scope: { kind: 'user', id: 'u-42' }, throttle: { max_llm_calls_per_minute: 10, delay_ms: 2_000 } });
    expect(unsignedControlCommandSchema.safeParse(c).success).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['not an object', 'slow down'],
    ['a negative delay', { delay_ms: -1 }],
    ['a fractional concurrency', { max_concurrent_runs: 0.5 }],
  ])('a throttle whose details.throttle is %s has no throttle member, and still validates', (_name, throttle) => {
    const c = commandForFinding(finding({ details: { action: 'throttle', ...(throttle === undefined ? {} : { throttle }) } }), POLICY);
    expect(c?.action).toBe('throttle');
    expect(c).not.toHaveProperty('throttle');
    expect(unsignedControlCommandSchema.safeParse(c).success).toBe(true);
  });

  it('a warn or abort never carries throttle limits', () => {
    const c = commandForFinding(finding({ details: { throttle: { delay_ms: 5 } } }), POLICY);
    expect(c?.action).toBe('abort');
    expect(c).not.toHaveProperty('throttle');
  });

  it('is deterministic: a replayed finding gives an identical command', () => {
    expect(commandForFinding(finding(), POLICY)).toEqual(commandForFinding(structuredClone(finding()), POLICY));
  });

  it('the same finding under another action gets another id', () => {
    const abort = commandForFinding(finding(), POLICY);
    const warn = commandForFinding(finding({ details: { action: 'warn' } }), POLICY);
    expect(abort?.command_id).not.toBe(warn?.command_id);
    expect(warn?.command_id).toBe(commandId('f-1', 'warn'));
  });

  it('property: every command of a valid finding validates, signs and verifies', () => {
    const ring: KeyRing = { activeKeyId: 'k1', keys: { k1: 'a-secret-of-16-chars' } };
    const findingArb = fc.record({
      finding_id: fc.stringMatching(/^[0-9a-f]{32}$/),
      ts: fc.integer({ min: 0, max: TS }),
      detector: fc.constantFrom('step-cap', 'tool-loop', 'cost-spike', 'judge-drift', 'budget' as const),
      rule: fc.string({ minLength: 1, maxLength: 30 }),
      severity: fc.constantFrom(...SEVERITIES),
      scope: fc.record({ kind: fc.constantFrom(...SCOPE_KINDS), id: fc.string({ minLength: 1, maxLength: 30 }) }),
      observed: fc.double({ noNaN: true, noDefaultInfinity: true }),
      threshold: fc.double({ noNaN: true, noDefaultInfinity: true }),
      action: fc.option(fc.constantFrom('abort', 'warn', 'throttle')),
    });
    fc.assert(
      fc.property(findingArb, ({ action, ...f }) => {
        const full = finding({ ...f, details: action === null ? {} : { action } });
        const c = commandForFinding(full, POLICY);
        if (c === null) {
          expect(full.severity).toBe('info');
          expect(action).toBeNull();
          return;
        }
        expect(unsignedControlCommandSchema.safeParse(c).success).toBe(true);
        expect(c.reason).toMatchObject({ detector: full.detector, rule: full.rule, observed: full.observed, threshold: full.threshold, finding_id: full.finding_id });
        expect(c.scope).toEqual(full.scope);
        expect(c.issued_at).toBe(full.ts);
        expect(c.expires_at).toBeGreaterThan(c.issued_at);
        const signed = signCommand(c, ring);
        expect(controlCommandSchema.safeParse(signed).success).toBe(true);
        expect(verifyCommand(JSON.parse(JSON.stringify(signed)), ring, c.issued_at).ok).toBe(true);
      }),
    );
  });
});
