import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { controlCommandSchema, unsignedControlCommandSchema, type UnsignedControlCommand } from '../../../src/contracts/control.ts';
import { heartbeatCommand, killSwitchCommand, resumeCommand, type KillSwitchScope } from '../../../src/control/operator.ts';
import { signCommand, verifyCommand, type KeyRing } from '../../../src/control/sign.ts';

const AT = 1_768_478_400_000;
const RING: KeyRing = { activeKeyId: 'ops-2026', keys: { 'ops-2026': 'operator-secret-0123456789' } };

/** Valid unsigned, and valid and verifiable once signed and sent through JSON. */
function expectWireValid(c: UnsignedControlCommand) {
  expect(unsignedControlCommandSchema.parse(c)).toEqual(c);
  const signed = JSON.parse(JSON.stringify(signCommand(c, RING))) as unknown;
  expect(controlCommandSchema.safeParse(signed).success).toBe(true);
  expect(verifyCommand(signed, RING, c.issued_at)).toMatchObject({ ok: true });
}

describe('killSwitchCommand', () => {
  it.each<[KillSwitchScope, { kind: string; id: string }]>([
    [{ kind: 'user', id: 'u-42' }, { kind: 'user', id: 'u-42' }],
    [{ kind: 'tenant', id: 'acme' }, { kind: 'tenant', id: 'acme' }],
    [{ kind: 'agent', id: 'support-bot' }, { kind: 'agent', id: 'support-bot' }],
    [{ kind: 'global' }, { kind: 'global', id: '*' }],
    [{ kind: 'global', id: '*' }, { kind: 'global', id: '*' }],
  ])('scope %o → %o, a valid signed command', (scope, wireScope) => {
    const c = killSwitchCommand({ scope, issuedAt: AT });
    expect(c).toMatchObject({
      schema: 'runwarden.control/v1',
      action: 'kill_switch',
      issued_at: AT,
      scope: wireScope,
      reason: { detector: 'kill-switch', rule: 'operator', observed: 1, threshold: 1, finding_id: c.command_id },
    });
    expect(c).not.toHaveProperty('expires_at');
    expectWireValid(c);
  });

  it('a ttl sets expires_at = issuedAt + ttl', () => {
    expect(killSwitchCommand({ scope: { kind: 'tenant', id: 'acme' }, issuedAt: AT, ttlMs: 900_000 }).expires_at).toBe(AT + 900_000);
  });

  it('the note lands in reason.note, cut to 1024 characters', () => {
    expect(killSwitchCommand({ scope: { kind: 'global' }, issuedAt: AT, note: 'INC-7: runaway spend (alice)' }).reason.note).toBe('INC-7: runaway spend (alice)');
    const long = killSwitchCommand({ scope: { kind: 'global' }, issuedAt: AT, note: 'x'.repeat(5_000) });
    expect(long.reason.note).toHaveLength(1024);
    expectWireValid(long);
  });

  it('re-sending the same invocation is idempotent; another scope, time or action is another command', () => {
    const base = { scope: { kind: 'user', id: 'u-1' } as const, issuedAt: AT };
    const id = killSwitchCommand(base).command_id;
    expect(killSwitchCommand({ ...base, note: 'again' }).command_id).toBe(id);
    expect(killSwitchCommand({ ...base, issuedAt: AT + 1 }).command_id).not.toBe(id);
    expect(killSwitchCommand({ ...base, scope: { kind: 'user', id: 'u-2' } }).command_id).not.toBe(id);
    expect(killSwitchCommand({ ...base, scope: { kind: 'tenant', id: 'u-1' } }).command_id).not.toBe(id);
    expect(resumeCommand(base).command_id).not.toBe(id);
  });
});

describe('resumeCommand', () => {
  it.each([
    [{ kind: 'user', id: 'u-42' } as const, { kind: 'user', id: 'u-42' }],
    [{ kind: 'cohort', id: 'support-bot|v2|free' } as const, { kind: 'cohort', id: 'support-bot|v2|free' }],
    [{ kind: 'run', id: 'run-9' } as const, { kind: 'run', id: 'run-9' }],
    [{ kind: 'global', id: 'anything' } as const, { kind: 'global', id: '*' }],
  ])('lifts %o', (scope, wireScope) => {
    const c = resumeCommand({ scope, issuedAt: AT, note: 'resolved' });
    expect(c).toMatchObject({
      action: 'resume',
      scope: wireScope,
      issued_at: AT,
      reason: { detector: 'kill-switch', rule: 'resume', finding_id: c.command_id, note: 'resolved' },
    });
    expect(c).not.toHaveProperty('expires_at');
    expectWireValid(c);
  });
});

describe('heartbeatCommand', () => {
  it('a global liveness beat naming the warden and its sequence', () => {
    const c = heartbeatCommand({ issuedAt: AT, sequence: 7, wardenId: 'warden-a1', ttlMs: 3_000 });
    expect(c).toMatchObject({
      action: 'heartbeat',
      scope: { kind: 'global', id: '*' },
      issued_at: AT,
      expires_at: AT + 3_000,
      reason: { detector: 'heartbeat', rule: 'liveness', observed: 7, note: 'warden-a1' },
    });
    expectWireValid(c);
  });

  it('defaults: warden "warden", no expiry', () => {
    const c = heartbeatCommand({ issuedAt: AT, sequence: 1 });
    expect(c.reason.note).toBe('warden');
    expect(c).not.toHaveProperty('expires_at');
    expectWireValid(c);
  });

  it('is deterministic per (warden, sequence, time)', () => {
    const o = { issuedAt: AT, sequence: 3, wardenId: 'w' };
    expect(heartbeatCommand(o)).toEqual(heartbeatCommand({ ...o }));
    expect(heartbeatCommand({ ...o, sequence: 4 }).command_id).not.toBe(heartbeatCommand(o).command_id);
    expect(heartbeatCommand({ ...o, wardenId: 'v' }).command_id).not.toBe(heartbeatCommand(o).command_id);
  });

  it('a warden restarted under the same id (sequence from 1 again) does not repeat an id a guard has seen', () => {
    const before = heartbeatCommand({ issuedAt: AT, sequence: 1, wardenId: 'warden-main' });
    const afterRestart = heartbeatCommand({ issuedAt: AT + 60_000, sequence: 1, wardenId: 'warden-main' });
    expect(afterRestart.command_id).not.toBe(before.command_id);
  });

  it('property: every beat is a valid signed command', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: AT }), fc.nat(), fc.string({ minLength: 1, maxLength: 64 }), fc.option(fc.integer({ min: 1, max: 60_000 })), (issuedAt, sequence, wardenId, ttl) => {
        expectWireValid(heartbeatCommand({ issuedAt, sequence, wardenId, ...(ttl === null ? {} : { ttlMs: ttl }) }));
      }),
    );
  });
});
