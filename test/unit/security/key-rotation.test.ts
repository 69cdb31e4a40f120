import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/contracts/canonical.ts';
import type { UnsignedControlCommand } from '../../../src/contracts/control.ts';
import { ConfigError, loadConfig, parseKeyRing } from '../../../src/config/env.ts';
import { keyRingSchema, signCommand, type KeyRing } from '../../../src/control/sign.ts';
import { createGuardCore } from '../../../src/sdk/guard-core.ts';

const T0 = Date.UTC(2026, 5, 1);
const OLD = 'old-secret-0123456789abcdef';
const NEW = 'new-secret-0123456789abcdef';
const GRACE_UNTIL = T0 + 3_600_000;

const command = (id: string, issuedAt: number): UnsignedControlCommand => ({
  schema: 'runwarden.control/v1',
  command_id: id,
  issued_at: issuedAt,
  action: 'abort',
  scope: { kind: 'run', id: `run-${id}` },
  reason: { detector: 'step-cap', rule: 'max_llm_calls', observed: 31, threshold: 30, finding_id: `f-${id}` },
  expires_at: issuedAt + 86_400_000,
});

/** The warden before and after the rotation, and a guard that already has the new key and the old one retired. */
const beforeRotation: KeyRing = { activeKeyId: 'k1', keys: { k1: OLD } };
const afterRotation: KeyRing = { activeKeyId: 'k2', keys: { k1: OLD, k2: NEW } };
const guardRing: KeyRing = { activeKeyId: 'k2', keys: { k1: OLD, k2: NEW }, retired: { k1: GRACE_UNTIL } };

function guardAt(clock: { now: number }) {
  return createGuardCore({ keyRing: guardRing, now: () => clock.now, heartbeatTimeoutMs: 60_000 });
}

describe('HMAC key rotation with a grace period for the retired key', () => {
  it('the old key verifies until its until-time, then counts as unknown; the new key verifies throughout', () => {
    const clock = { now: T0 };
    const guard = guardAt(clock);
    guard.receive(JSON.stringify(signCommand(command('a', T0), beforeRotation)));
    guard.receive(JSON.stringify(signCommand(command('b', T0), afterRotation)));
    expect(guard.stats().applied).toBe(2);
    clock.now = GRACE_UNTIL - 1;
    guard.receive(JSON.stringify(signCommand(command('c', clock.now), beforeRotation)));
    expect(guard.stats().applied).toBe(3);
    clock.now = GRACE_UNTIL;
    guard.receive(JSON.stringify(signCommand(command('d', clock.now), beforeRotation)));
    guard.receive(JSON.stringify(signCommand(command('e', clock.now), afterRotation)));
    expect(guard.stats().applied).toBe(4);
    expect(guard.stats().rejected.unknown_key).toBe(1);
  });

  it('a command without key_id is tried only against keys still usable', () => {
    const clock = { now: GRACE_UNTIL + 1 };
    const guard = guardAt(clock);
    // Signed the way a warden without key ids did: HMAC of the canonical body, no key_id.
    const body = command('f', clock.now);
    const legacy = { ...body, signature: createHmac('sha256', OLD).update(canonicalJson(body)).digest('hex') };
    const fresh = { ...command('f2', clock.now) };
    guard.receive(JSON.stringify({ ...fresh, signature: createHmac('sha256', NEW).update(canonicalJson(fresh)).digest('hex') }));
    expect(guard.stats().applied).toBe(1);
    guard.receive(JSON.stringify(legacy));
    expect(guard.stats().applied).toBe(1);
    expect(guard.stats().rejected.bad_signature).toBe(1);
  });

  it('replays are refused: the same command twice, even re-signed with the new key', () => {
    const guard = guardAt({ now: T0 });
    const c = command('g', T0);
    guard.receive(JSON.stringify(signCommand(c, beforeRotation)));
    guard.receive(JSON.stringify(signCommand(c, beforeRotation)));
    guard.receive(JSON.stringify(signCommand(c, afterRotation)));
    expect(guard.stats().applied).toBe(1);
    expect(guard.stats().rejected.replayed).toBe(2);
  });

  it('the ring refuses a retired active key or a retired key without a secret', () => {
    expect(keyRingSchema.safeParse(guardRing).success).toBe(true);
    expect(keyRingSchema.safeParse({ ...guardRing, retired: { k2: GRACE_UNTIL } }).success).toBe(false);
    expect(keyRingSchema.safeParse({ ...guardRing, retired: { k9: GRACE_UNTIL } }).success).toBe(false);
  });

  it('RUNWARDEN_HMAC_RETIRED_KEYS: ISO or epoch ms; errors name the id and never a secret', () => {
    const keys = `k1:${OLD},k2:${NEW}`;
    expect(parseKeyRing(keys, 'k2', 'k1:2026-06-01T01:00:00Z')).toEqual(guardRing);
    expect(parseKeyRing(keys, 'k2', `k1:${GRACE_UNTIL}`).retired).toEqual({ k1: GRACE_UNTIL });
    const cases: Array<[string | undefined, string, RegExp]> = [
      ['k2', 'k1:yesterday', /"k1": "yesterday" is neither/],
      ['k2', 'k3:2026-06-01T00:00:00Z', /"k3" is not one of the ids/],
      ['k2', 'k2:2026-06-01T00:00:00Z', /"k2" is the active key/],
      ['k2', 'nocolon', /write it as id:until/],
    ];
    for (const [active, retired, message] of cases) {
      let error: unknown;
      try {
        loadConfig({ RUNWARDEN_HMAC_KEYS: keys, RUNWARDEN_HMAC_ACTIVE_KEY: active, RUNWARDEN_HMAC_RETIRED_KEYS: retired });
      } catch (err) {
        error = err;
      }
      expect(error, retired).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(OLD);
      expect((error as Error).message).not.toContain(NEW);
    }
  });
});
