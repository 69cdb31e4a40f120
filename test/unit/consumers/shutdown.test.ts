import { describe, expect, it } from 'vitest';
import { SHUTDOWN_STEPS, shutdownInOrder, type ShutdownStep, type Stoppable } from '../../../consumers/shutdown.ts';

interface Line {
  level: 'info' | 'error';
  event: string;
  step?: string;
}

function recorder() {
  const lines: Line[] = [];
  const logger = {
    info: (obj: { event: string; step?: string }) => void lines.push({ level: 'info', event: obj.event }),
    error: (obj: { event: string; step?: string }) => void lines.push({ level: 'error', event: obj.event, ...(obj.step ? { step: obj.step } : {}) }),
  };
  return { lines, logger: logger as unknown as Parameters<typeof shutdownInOrder>[0]['logger'] };
}

/** A stage that records `name:step` when each of its steps finishes, after `delays[step]` ms. */
function stage(name: string, calls: string[], delays: Partial<Record<ShutdownStep, number>> = {}, fails: ShutdownStep[] = []): Stoppable {
  const s: Stoppable = { name };
  for (const step of SHUTDOWN_STEPS) {
    s[step] = async () => {
      await new Promise((r) => setTimeout(r, delays[step] ?? 0));
      calls.push(`${name}:${step}`);
      if (fails.includes(step)) throw new Error(`${name} ${step} broke`);
    };
  }
  return s;
}

describe('shutdownInOrder', () => {
  it('runs each step for every stage before the next step starts, and logs one typed event per step', async () => {
    const calls: string[] = [];
    const { lines, logger } = recorder();
    // The slow ingest flush must still finish before anyone commits.
    const result = await shutdownInOrder({ stages: [stage('ingest', calls, { flush_sinks: 30 }), stage('detect', calls)], logger, timeoutMs: 5_000 });
    expect(result.ok).toBe(true);
    const stepOf = (c: string) => SHUTDOWN_STEPS.indexOf(c.split(':')[1] as ShutdownStep);
    expect(calls.map(stepOf)).toEqual([...calls.map(stepOf)].sort((a, b) => a - b));
    expect(calls).toHaveLength(2 * SHUTDOWN_STEPS.length);
    expect(lines.map((l) => l.event)).toEqual([...SHUTDOWN_STEPS.map((s) => `shutdown.${s}`), 'shutdown.done']);
  });

  it('skips the steps a stage does not take part in', async () => {
    const calls: string[] = [];
    const { logger } = recorder();
    const store: Stoppable = { name: 'store', close: async () => void calls.push('store:close') };
    const cohort = stage('cohort', calls);
    delete cohort.close;
    await shutdownInOrder({ stages: [store, cohort], logger, timeoutMs: 5_000 });
    expect(calls.at(-1)).toBe('store:close');
    expect(calls.filter((c) => c.startsWith('store'))).toEqual(['store:close']);
  });

  it('goes on after a failed step and reports it', async () => {
    const calls: string[] = [];
    const { lines, logger } = recorder();
    const result = await shutdownInOrder({ stages: [stage('ingest', calls, {}, ['commit'])], logger, timeoutMs: 5_000 });
    expect(result).toMatchObject({ ok: false, step: 'commit', reason: 'failed' });
    expect(calls).toContain('ingest:disconnect');
    expect(lines).toContainEqual({ level: 'error', event: 'shutdown.step_failed', step: 'commit' });
  });

  it('gives up at the bound, naming the step that hung', async () => {
    const calls: string[] = [];
    const { lines, logger } = recorder();
    const hung: Stoppable = { name: 'detect', flush_sinks: () => new Promise<void>(() => undefined) };
    const t0 = Date.now();
    const result = await shutdownInOrder({ stages: [hung, stage('ingest', calls)], logger, timeoutMs: 50 });
    expect(result).toMatchObject({ ok: false, step: 'flush_sinks', reason: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(calls).not.toContain('ingest:commit');
    expect(lines.at(-1)).toEqual({ level: 'error', event: 'shutdown.timeout', step: 'flush_sinks' });
  });
});
