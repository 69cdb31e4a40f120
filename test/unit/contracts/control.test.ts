import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/contracts/canonical.ts';
import { SCOPE_KINDS } from '../../../src/contracts/common.ts';
import {
  CONTROL_ACTIONS,
  controlCommandSchema,
  unsignedControlCommandSchema,
  type ControlCommand,
} from '../../../src/contracts/control.ts';

const command: ControlCommand = {
  schema: 'runwarden.control/v1',
  command_id: 'cmd-3f2a',
  issued_at: 1_768_478_400_000,
  action: 'throttle',
  scope: { kind: 'user', id: 'u-42' },
  reason: { detector: 'cost-spike', rule: 'spend_per_minute', observed: 4.2, threshold: 1.5, baseline: 0.3, finding_id: 'f-9' },
  expires_at: 1_768_478_700_000,
  throttle: { max_concurrent_runs: 1, max_llm_calls_per_minute: 10, delay_ms: 2_000 },
  key_id: 'k1',
  signature: 'a'.repeat(64),
};

type Json = Record<string, unknown>;
function withField(value: Json, path: string, field: unknown): Json {
  const copy = structuredClone(value);
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node: Json = copy;
  for (const k of keys) node = node[k] as Json;
  if (field === undefined) delete node[last];
  else node[last] = field;
  return copy;
}

describe('controlCommandSchema', () => {
  it.each(CONTROL_ACTIONS.map((action) => [action]))('accepts action %s', (action) => {
    expect(controlCommandSchema.parse({ ...command, action })).toEqual({ ...command, action });
  });

  it.each(SCOPE_KINDS.map((kind) => [kind]))('accepts scope kind %s', (kind) => {
    const scope = { kind, id: kind === 'global' ? '*' : 'x' };
    expect(controlCommandSchema.parse({ ...command, scope }).scope).toEqual(scope);
  });

  it('accepts the minimal command (no expiry, throttle, baseline or key id)', () => {
    const minimal = {
      schema: 'runwarden.control/v1',
      command_id: 'c',
      issued_at: 0,
      action: 'abort',
      scope: { kind: 'run', id: 'run-1' },
      reason: { detector: 'step-cap', rule: 'max_llm_calls', observed: 30, threshold: 30, finding_id: 'f' },
      signature: '0123456789abcdef'.repeat(4),
    };
    expect(controlCommandSchema.parse(minimal)).toEqual(minimal);
  });

  it.each([
    ['missing signature', withField(command, 'signature', undefined), 'signature'],
    ['uppercase hex signature', { ...command, signature: 'A'.repeat(64) }, 'signature'],
    ['short signature', { ...command, signature: 'a'.repeat(63) }, 'signature'],
    ['unknown version', { ...command, schema: 'runwarden.control/v2' }, 'schema'],
    ['unknown action', { ...command, action: 'reboot' }, 'action'],
    ['unknown scope kind', withField(command, 'scope.kind', 'planet'), 'scope.kind'],
    ['empty scope id', withField(command, 'scope.id', ''), 'scope.id'],
    ['command_id of 129', { ...command, command_id: 'c'.repeat(129) }, 'command_id'],
    ['negative issued_at', { ...command, issued_at: -1 }, 'issued_at'],
    ['fractional expires_at', { ...command, expires_at: 1.5 }, 'expires_at'],
    ['ISO issued_at (commands carry epoch ms only)', { ...command, issued_at: '2026-01-15T11:00:00Z' }, 'issued_at'],
    ['missing reason.finding_id', withField(command, 'reason.finding_id', undefined), 'reason.finding_id'],
    ['non-finite reason.observed', withField(command, 'reason.observed', Infinity), 'reason.observed'],
    ['negative throttle delay', withField(command, 'throttle.delay_ms', -1), 'throttle.delay_ms'],
    ['fractional throttle concurrency', withField(command, 'throttle.max_concurrent_runs', 0.5), 'throttle.max_concurrent_runs'],
  ])('rejects %s', (_name, value, path) => {
    const result = controlCommandSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});

describe('unsignedControlCommandSchema', () => {
  it('is the command without its signature: what the HMAC covers', () => {
    const { signature: _signature, ...unsigned } = command;
    expect(unsignedControlCommandSchema.parse(unsigned)).toEqual(unsigned);
    // Parsing a signed command strips the signature, so the signed bytes can be rebuilt from it.
    const rebuilt = unsignedControlCommandSchema.parse(command);
    expect(rebuilt).toEqual(unsigned);
    expect(canonicalJson(rebuilt)).not.toContain('signature');
  });

  it('signing input is independent of key order on the wire', () => {
    const { signature: _signature, ...unsigned } = command;
    fc.assert(
      fc.property(fc.shuffledSubarray(Object.keys(unsigned), { minLength: Object.keys(unsigned).length }), (order) => {
        const reordered = Object.fromEntries(order.map((k) => [k, unsigned[k as keyof typeof unsigned]]));
        expect(canonicalJson(unsignedControlCommandSchema.parse(JSON.parse(JSON.stringify(reordered))))).toBe(canonicalJson(unsigned));
      }),
    );
  });
});
