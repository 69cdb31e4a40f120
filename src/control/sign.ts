import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../contracts/canonical.ts';
import { boundedId } from '../contracts/common.ts';
import { controlCommandSchema, type ControlCommand, type UnsignedControlCommand } from '../contracts/control.ts';

/**
 * Shared secrets of the warden and the guards. The warden signs with `activeKeyId`; a guard
 * accepts every key in `keys`, except a key listed in `retired` once its time is up. Rotation:
 * add the new key everywhere, switch `activeKeyId` on the warden, and retire the old key on the
 * guards with an until-time past the longest command TTL (commands it signed stay valid until
 * then); drop it from `keys` after that.
 */
export const keyRingSchema = z
  .object({
    activeKeyId: boundedId(64),
    keys: z.record(boundedId(64), z.string().min(16, 'a signing secret must be at least 16 characters')),
    /** Key id → epoch ms until which that key still verifies (the grace period after a rotation). */
    retired: z.record(boundedId(64), z.number().int().nonnegative()).optional(),
  })
  .refine((r) => Object.hasOwn(r.keys, r.activeKeyId), { message: 'activeKeyId must name one of keys', path: ['activeKeyId'] })
  .refine((r) => r.retired === undefined || !Object.hasOwn(r.retired, r.activeKeyId), { message: 'the active key cannot be retired', path: ['retired'] })
  .refine((r) => r.retired === undefined || Object.keys(r.retired).every((id) => Object.hasOwn(r.keys, id)), {
    message: 'every retired key must be one of keys (its secret is needed to verify during the grace period)',
    path: ['retired'],
  });
export type KeyRing = z.infer<typeof keyRingSchema>;

export type VerifyFailure = 'unsigned' | 'bad_signature' | 'unknown_key' | 'expired' | 'malformed';
export type VerifyResult = { ok: true; command: ControlCommand } | { ok: false; reason: VerifyFailure };

/** Hex HMAC-SHA256 of the canonical JSON of `body` (which must not contain `signature`). */
function hmacHex(body: object, secret: string): string {
  return createHmac('sha256', secret).update(canonicalJson(body)).digest('hex');
}

/**
 * Signs a command with the ring's active key: sets `key_id`, then HMACs the canonical JSON of
 * the whole command without `signature`. Throws TypeError if the ring has no active secret
 * (a configuration error that keyRingSchema rejects at start).
 */
export function signCommand(unsigned: UnsignedControlCommand, ring: KeyRing): ControlCommand {
  const secret = Object.hasOwn(ring.keys, ring.activeKeyId) ? ring.keys[ring.activeKeyId] : undefined;
  if (secret === undefined) throw new TypeError(`signCommand: key ring has no secret for active key "${ring.activeKeyId}"`);
  // A signed command passed back in must not sign its old signature.
  const body: Record<string, unknown> = { ...unsigned, key_id: ring.activeKeyId };
  delete body['signature'];
  return { ...(body as UnsignedControlCommand), signature: hmacHex(body, secret) };
}

/**
 * Verifies a command as received (e.g. JSON.parse of the message). The HMAC is recomputed over
 * the received object itself, minus `signature`, so fields this version does not know are
 * still covered. Order of checks: unsigned → malformed → unknown_key → bad_signature → expired
 * (`expires_at` ≤ nowMs). A command without `key_id` is tried against every usable key; a key
 * retired at or before `nowMs` counts as unknown. Replay
 * detection (a command_id already applied) is the guard's job.
 */
export function verifyCommand(command: unknown, ring: KeyRing, nowMs: number): VerifyResult {
  if (command === null || typeof command !== 'object' || Array.isArray(command)) return { ok: false, reason: 'malformed' };
  const { signature, ...body } = command as Record<string, unknown>;
  if (signature === undefined || signature === null || signature === '') return { ok: false, reason: 'unsigned' };
  const parsed = controlCommandSchema.safeParse(command);
  if (!parsed.success) return { ok: false, reason: 'malformed' };

  const keyId = parsed.data.key_id;
  // A retired key verifies until its grace period ends; after that it is as good as unknown.
  const usable = (id: string) => !(ring.retired !== undefined && Object.hasOwn(ring.retired, id) && (ring.retired[id] as number) <= nowMs);
  let secrets: string[];
  if (keyId === undefined) secrets = Object.entries(ring.keys).filter(([id]) => usable(id)).map(([, secret]) => secret);
  else if (Object.hasOwn(ring.keys, keyId) && usable(keyId)) secrets = [ring.keys[keyId] as string];
  else return { ok: false, reason: 'unknown_key' };

  const given = Buffer.from(parsed.data.signature, 'hex');
  let expected: string[];
  try {
    expected = secrets.map((s) => hmacHex(body, s));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  // Compare against every candidate (no early exit) so timing does not reveal which key matched.
  let match = false;
  for (const hex of expected) match = timingSafeEqual(given, Buffer.from(hex, 'hex')) || match;
  if (!match) return { ok: false, reason: 'bad_signature' };

  if (parsed.data.expires_at !== undefined && parsed.data.expires_at <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, command: parsed.data };
}
