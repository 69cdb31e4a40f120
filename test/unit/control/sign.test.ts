import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/contracts/canonical.ts';
import { controlCommandSchema, type UnsignedControlCommand } from '../../../src/contracts/control.ts';
import { keyRingSchema, signCommand, verifyCommand, type KeyRing, type VerifyFailure } from '../../../src/control/sign.ts';

const NOW = 1_768_478_400_000;
const SECRET_1 = 'secret-one-0123456789';
const SECRET_2 = 'secret-two-0123456789';
const RING: KeyRing = { activeKeyId: 'k1', keys: { k1: SECRET_1 } };

const UNSIGNED: UnsignedControlCommand = {
  schema: 'runwarden.control/v1',
  command_id: 'c0ffee',
  issued_at: NOW,
  action: 'throttle',
  scope: { kind: 'user', id: 'u-42' },
  reason: { detector: 'cost-spike', rule: 'spend_per_minute', observed: 4.2, threshold: 1.5, baseline: 0.3, finding_id: 'f-9' },
  expires_at: NOW + 60_000,
  throttle: { max_concurrent_runs: 1, delay_ms: 2_000 },
};

/** What a guard receives: the signed command through JSON, as off the wire. */
const wire = (c: object): Record<string, unknown> => JSON.parse(JSON.stringify(c)) as Record<string, unknown>;

type Json = Record<string, unknown>;
/** A copy with `path` (dot-separated) set to `value`, or deleted when value is undefined. */
function tamper(c: Json, path: string, value: unknown): Json {
  const copy = structuredClone(c);
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node = copy;
  for (const k of keys) node = node[k] as Json;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

const failure = (r: ReturnType<typeof verifyCommand>): VerifyFailure | 'ok' => (r.ok ? 'ok' : r.reason);

describe('signCommand', () => {
  it('sets key_id to the active key and a hex HMAC-SHA256 over the canonical command without signature', () => {
    const signed = signCommand(UNSIGNED, RING);
    expect(signed.key_id).toBe('k1');
    expect(controlCommandSchema.parse(signed)).toEqual(signed);
    const { signature, ...body } = signed;
    expect(signature).toBe(createHmac('sha256', SECRET_1).update(canonicalJson(body)).digest('hex'));
  });

  it('is deterministic: the same command and ring give the same bytes', () => {
    expect(JSON.stringify(signCommand(UNSIGNED, RING))).toBe(JSON.stringify(signCommand(structuredClone(UNSIGNED), RING)));
  });

  it('does not depend on key order', () => {
    const reordered = Object.fromEntries(Object.entries(UNSIGNED).reverse()) as UnsignedControlCommand;
    expect(signCommand(reordered, RING).signature).toBe(signCommand(UNSIGNED, RING).signature);
  });

  it('re-signing a signed command replaces its signature and key_id (never signs the old signature)', () => {
    const old = signCommand(UNSIGNED, RING);
    const rotated: KeyRing = { activeKeyId: 'k2', keys: { k1: SECRET_1, k2: SECRET_2 } };
    const again = signCommand(old, rotated);
    expect(again.key_id).toBe('k2');
    expect(again).toEqual(signCommand(UNSIGNED, rotated));
    expect(failure(verifyCommand(wire(again), rotated, NOW))).toBe('ok');
  });

  it('throws a TypeError when the ring has no secret for its active key', () => {
    expect(() => signCommand(UNSIGNED, { activeKeyId: 'k9', keys: { k1: SECRET_1 } })).toThrow(TypeError);
  });
});

describe('verifyCommand', () => {
  const signed = wire(signCommand(UNSIGNED, RING));

  it('accepts a command it signed, and returns it parsed', () => {
    const r = verifyCommand(signed, RING, NOW);
    expect(r).toEqual({ ok: true, command: signed });
  });

  it('property: any valid command round-trips sign → JSON → verify', () => {
    const scope = fc.record({ kind: fc.constantFrom('run', 'user', 'tenant', 'agent', 'cohort', 'global' as const), id: fc.string({ minLength: 1, maxLength: 40 }) });
    const command = fc.record(
      {
        schema: fc.constant('runwarden.control/v1' as const),
        command_id: fc.string({ minLength: 1, maxLength: 64 }),
        issued_at: fc.integer({ min: 0, max: NOW }),
        action: fc.constantFrom('abort', 'throttle', 'warn', 'resume', 'kill_switch', 'heartbeat' as const),
        scope,
        reason: fc.record({
          detector: fc.string({ minLength: 1, maxLength: 20 }),
          rule: fc.string({ minLength: 1, maxLength: 20 }),
          observed: fc.double({ noNaN: true, noDefaultInfinity: true }),
          threshold: fc.double({ noNaN: true, noDefaultInfinity: true }),
          finding_id: fc.string({ maxLength: 32 }),
        }),
        expires_at: fc.integer({ min: NOW + 1, max: NOW * 2 }),
      },
      { requiredKeys: ['schema', 'command_id', 'issued_at', 'action', 'scope', 'reason'] },
    );
    fc.assert(
      fc.property(command, (c) => {
        const r = verifyCommand(wire(signCommand(c, RING)), RING, NOW);
        expect(failure(r)).toBe('ok');
      }),
    );
  });

  const cases: { name: string; command: unknown; ring?: KeyRing; now?: number; expected: VerifyFailure }[] = [
    { name: 'no signature', command: tamper(signed, 'signature', undefined), expected: 'unsigned' },
    { name: 'an empty signature', command: tamper(signed, 'signature', ''), expected: 'unsigned' },
    { name: 'a null signature', command: tamper(signed, 'signature', null), expected: 'unsigned' },
    { name: 'a changed action', command: tamper(signed, 'action', 'abort'), expected: 'bad_signature' },
    { name: 'a changed scope id (nested)', command: tamper(signed, 'scope.id', 'u-43'), expected: 'bad_signature' },
    { name: 'a changed reason.observed (nested)', command: tamper(signed, 'reason.observed', 4.3), expected: 'bad_signature' },
    { name: 'a changed throttle.delay_ms (nested)', command: tamper(signed, 'throttle.delay_ms', 0), expected: 'bad_signature' },
    { name: 'a later expires_at', command: tamper(signed, 'expires_at', NOW + 3_600_000), expected: 'bad_signature' },
    { name: 'a removed expires_at', command: tamper(signed, 'expires_at', undefined), expected: 'bad_signature' },
    { name: 'a removed throttle', command: tamper(signed, 'throttle', undefined), expected: 'bad_signature' },
    { name: 'a removed optional reason.baseline', command: tamper(signed, 'reason.baseline', undefined), expected: 'bad_signature' },
    { name: 'an added top-level field', command: tamper(signed, 'priority', 'high'), expected: 'bad_signature' },
    { name: 'an added nested field', command: tamper(signed, 'throttle.max_llm_calls_per_minute', 1), expected: 'bad_signature' },
    { name: 'an added field in reason', command: tamper(signed, 'reason.note', 'trust me'), expected: 'bad_signature' },
    { name: 'an added field set to null', command: tamper(signed, 'extra', null), expected: 'bad_signature' },
    { name: 'a removed key_id (tried against every key)', command: tamper(signed, 'key_id', undefined), expected: 'bad_signature' },
    { name: 'a flipped signature bit', command: tamper(signed, 'signature', flipFirstHex(signed['signature'] as string)), expected: 'bad_signature' },
    { name: 'another command’s signature', command: tamper(signed, 'signature', signCommand({ ...UNSIGNED, command_id: 'other' }, RING).signature), expected: 'bad_signature' },
    { name: 'the right key id with the wrong secret', command: signed, ring: { activeKeyId: 'k1', keys: { k1: SECRET_2 } }, expected: 'bad_signature' },
    { name: 'a key id the guard does not hold', command: signed, ring: { activeKeyId: 'k2', keys: { k2: SECRET_1 } }, expected: 'unknown_key' },
    { name: 'a key id that is an Object.prototype name', command: tamper(signed, 'key_id', 'constructor'), expected: 'unknown_key' },
    { name: 'expires_at equal to now', command: signed, now: NOW + 60_000, expected: 'expired' },
    { name: 'expires_at before now', command: signed, now: NOW + 60_001, expected: 'expired' },
    { name: 'a forged command that is also expired is reported as forged', command: tamper(signed, 'action', 'abort'), now: NOW + 120_000, expected: 'bad_signature' },
    { name: 'null', command: null, expected: 'malformed' },
    { name: 'a string', command: 'abort everything', expected: 'malformed' },
    { name: 'an array', command: [signed], expected: 'malformed' },
    { name: 'a number', command: 42, expected: 'malformed' },
    { name: 'a signature that is not hex', command: tamper(signed, 'signature', 'z'.repeat(64)), expected: 'malformed' },
    { name: 'a short signature', command: tamper(signed, 'signature', 'ab'), expected: 'malformed' },
    { name: 'a signature that is a number', command: tamper(signed, 'signature', 123), expected: 'malformed' },
    { name: 'an unknown schema version', command: tamper(signed, 'schema', 'runwarden.control/v2'), expected: 'malformed' },
    { name: 'an unknown action', command: tamper(signed, 'action', 'reboot'), expected: 'malformed' },
    { name: 'a missing scope', command: tamper(signed, 'scope', undefined), expected: 'malformed' },
    { name: 'an empty key_id', command: tamper(signed, 'key_id', ''), expected: 'malformed' },
  ];

  it.each(cases)('rejects $name → $expected', ({ command, ring, now, expected }) => {
    expect(failure(verifyCommand(command, ring ?? RING, now ?? NOW))).toBe(expected);
  });

  it('rejects a __proto__ member smuggled in through JSON', () => {
    const text = JSON.stringify(signed).replace(/^\{/, '{"__proto__":{"action":"abort"},');
    expect(failure(verifyCommand(JSON.parse(text), RING, NOW))).toBe('bad_signature');
  });

  it('a command one ms before its expiry is accepted', () => {
    expect(failure(verifyCommand(signed, RING, NOW + 59_999))).toBe('ok');
  });

  it('a command without expires_at never expires', () => {
    const forever = wire(signCommand({ ...UNSIGNED, expires_at: undefined } as unknown as UnsignedControlCommand, RING));
    expect(forever).not.toHaveProperty('expires_at');
    expect(failure(verifyCommand(forever, RING, Number.MAX_SAFE_INTEGER))).toBe('ok');
  });

  it('a legacy command without key_id verifies when some key of the ring signed it', () => {
    const body: Json = { ...UNSIGNED };
    delete body['key_id'];
    const signature = createHmac('sha256', SECRET_2).update(canonicalJson(body)).digest('hex');
    const ring: KeyRing = { activeKeyId: 'k1', keys: { k1: SECRET_1, k2: SECRET_2 } };
    expect(failure(verifyCommand(wire({ ...body, signature }), ring, NOW))).toBe('ok');
    expect(failure(verifyCommand(wire({ ...body, signature }), RING, NOW))).toBe('bad_signature');
  });

  it('ignores fields it does not know only after checking them: the returned command has the schema fields', () => {
    const withExtra = { ...UNSIGNED, extra: 'x' } as UnsignedControlCommand;
    const signedExtra = wire(signCommand(withExtra, RING));
    const r = verifyCommand(signedExtra, RING, NOW);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.command).not.toHaveProperty('extra');
  });
});

describe('key rotation', () => {
  const OLD: KeyRing = { activeKeyId: 'k1', keys: { k1: SECRET_1 } };
  const BOTH_OLD_ACTIVE: KeyRing = { activeKeyId: 'k1', keys: { k1: SECRET_1, k2: SECRET_2 } };
  const BOTH_NEW_ACTIVE: KeyRing = { activeKeyId: 'k2', keys: { k1: SECRET_1, k2: SECRET_2 } };
  const NEW: KeyRing = { activeKeyId: 'k2', keys: { k2: SECRET_2 } };

  // Step 1: guards add k2; step 2: the warden signs with k2; step 3: guards drop k1.
  it.each<[string, KeyRing, KeyRing, VerifyFailure | 'ok']>([
    ['old warden → guard with both keys', OLD, BOTH_OLD_ACTIVE, 'ok'],
    ['new warden → guard with both keys', BOTH_NEW_ACTIVE, BOTH_OLD_ACTIVE, 'ok'],
    ['old warden → guard with both keys, new active', OLD, BOTH_NEW_ACTIVE, 'ok'],
    ['new warden → guard not yet updated', BOTH_NEW_ACTIVE, OLD, 'unknown_key'],
    ['old command → guard after k1 was removed', OLD, NEW, 'unknown_key'],
    ['new warden → guard after k1 was removed', BOTH_NEW_ACTIVE, NEW, 'ok'],
  ])('%s: %s', (_name, warden, guard, expected) => {
    expect(failure(verifyCommand(wire(signCommand(UNSIGNED, warden)), guard, NOW))).toBe(expected);
  });

  it('a command signed with k1 cannot be passed off as k2', () => {
    const forged = tamper(wire(signCommand(UNSIGNED, OLD)), 'key_id', 'k2');
    expect(failure(verifyCommand(forged, BOTH_NEW_ACTIVE, NOW))).toBe('bad_signature');
  });
});

describe('keyRingSchema', () => {
  it('accepts a ring whose active key is in it', () => {
    expect(keyRingSchema.parse({ activeKeyId: 'k2', keys: { k1: SECRET_1, k2: SECRET_2 } }).activeKeyId).toBe('k2');
  });

  it.each([
    ['an active key not in the ring', { activeKeyId: 'k3', keys: { k1: SECRET_1 } }, 'activeKeyId', 'activeKeyId must name one of keys'],
    ['a short secret', { activeKeyId: 'k1', keys: { k1: 'short' } }, 'keys.k1', 'a signing secret must be at least 16 characters'],
    ['an empty key id', { activeKeyId: '', keys: { k1: SECRET_1 } }, 'activeKeyId', 'must not be empty'],
  ])('rejects %s', (_name, ring, path, message) => {
    const r = keyRingSchema.safeParse(ring);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toContainEqual([path, message]);
  });
});

function flipFirstHex(hex: string): string {
  const first = hex[0] === '0' ? '1' : '0';
  return first + hex.slice(1);
}
