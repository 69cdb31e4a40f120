import type { Scope } from '../contracts/common.ts';
import type { ControlCommand } from '../contracts/control.ts';
import { scopeMatches, type StepContext } from './scope-match.ts';

/**
 * Commands of one kind (aborts, kill switches or throttles), at most one per scope: a newer
 * command on a scope replaces the older one. Lookup for a step is O(1) for run, user, tenant,
 * agent and global scopes (keyed directly) plus a scan of the cohort-scoped ones only.
 */
export interface ScopeTable {
  /** Stores `command` under its scope; returns how many older commands were evicted for room. */
  set(command: ControlCommand, nowMs: number): number;
  delete(scope: Scope): ControlCommand | undefined;
  /** Live commands whose scope applies to `ctx`; expired ones met on the way are dropped. */
  matching(ctx: StepContext, nowMs: number): ControlCommand[];
  /** Live commands, oldest first. */
  values(nowMs: number): ControlCommand[];
  readonly size: number;
}

/** A command is live until its `expires_at` (exclusive); without one, until lifted. */
export const isLive = (c: ControlCommand, nowMs: number): boolean => c.expires_at === undefined || c.expires_at > nowMs;

/** The table key of a scope. Every global scope is the same scope, whatever its id. */
export function scopeKey(scope: Scope): string {
  return scope.kind === 'global' ? 'global' : `${scope.kind}\u0000${scope.id}`;
}

function candidateKeys(ctx: StepContext): string[] {
  const keys = ['global', `run\u0000${ctx.runId}`];
  if (ctx.userId !== undefined) keys.push(`user\u0000${ctx.userId}`);
  if (ctx.tenantId !== undefined) keys.push(`tenant\u0000${ctx.tenantId}`);
  if (ctx.agentId !== undefined) keys.push(`agent\u0000${ctx.agentId}`);
  return keys;
}

/**
 * Creates a table holding at most `maxSize` commands. Past that, expired commands go first,
 * then the oldest (memory stays bounded even under a flood of never-expiring run aborts).
 */
export function createScopeTable(maxSize: number): ScopeTable {
  const byKey = new Map<string, ControlCommand>(); // insertion order = age
  const cohortKeys = new Set<string>();

  function remove(key: string): ControlCommand | undefined {
    const c = byKey.get(key);
    byKey.delete(key);
    cohortKeys.delete(key);
    return c;
  }

  function liveAt(key: string, nowMs: number): ControlCommand | undefined {
    const c = byKey.get(key);
    if (c === undefined) return undefined;
    if (isLive(c, nowMs)) return c;
    remove(key);
    return undefined;
  }

  function set(command: ControlCommand, nowMs: number): number {
    const key = scopeKey(command.scope);
    remove(key); // re-insert: the newest command on a scope is the youngest entry
    byKey.set(key, command);
    if (command.scope.kind === 'cohort') cohortKeys.add(key);
    if (byKey.size <= maxSize) return 0;
    for (const [k, c] of byKey) if (!isLive(c, nowMs)) remove(k);
    if (byKey.size <= maxSize) return 0;
    // Still full of live commands: drop the oldest down to 90 %, so the next inserts do not rescan.
    const target = Math.max(1, Math.floor(maxSize * 0.9));
    let evicted = 0;
    for (const k of byKey.keys()) {
      if (byKey.size <= target) break;
      if (k === key) continue;
      remove(k);
      evicted++;
    }
    return evicted;
  }

  function matching(ctx: StepContext, nowMs: number): ControlCommand[] {
    const out: ControlCommand[] = [];
    for (const key of candidateKeys(ctx)) {
      const c = liveAt(key, nowMs);
      if (c !== undefined) out.push(c);
    }
    for (const key of cohortKeys) {
      const c = liveAt(key, nowMs);
      if (c !== undefined && scopeMatches(c.scope, ctx)) out.push(c);
    }
    return out;
  }

  function values(nowMs: number): ControlCommand[] {
    for (const [k, c] of byKey) if (!isLive(c, nowMs)) remove(k);
    return [...byKey.values()];
  }

  return {
    set,
    delete: (scope) => remove(scopeKey(scope)),
    matching,
    values,
    get size() {
      return byKey.size;
    },
  };
}
