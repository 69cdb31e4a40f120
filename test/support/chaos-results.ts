import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Where the chaos suite leaves its figures (an ignored directory) for the lead to quote. */
export const CHAOS_RESULTS_FILE = join(root, '.runwarden', 'chaos-results.json');

/** One fault injected and recovered from. */
export interface Trial {
  trial: number;
  /** Events produced when the fault hit (the prefix that must be fully processed afterwards). */
  events: number;
  /** Events (or commands) of that prefix missing after recovery. */
  lost: number;
  /** Events counted twice in a rollup, or command ids emitted with differing content. */
  duplicated: number;
  /** Fault → caught up again (ms); null when the scenario has no such moment. */
  recoveryMs: number | null;
  /** What else a reader needs (re-delivered copies, restored events, …). */
  note?: string;
}

export interface ScenarioResult {
  scenario: string;
  command: string;
  seed?: number;
  /** Totals over the scenario's streams (every event of them, not only the prefixes). */
  totals: { trials: number; events: number; lost: number; duplicated: number; recoveryMsMedian: number | null; recoveryMsMax: number | null };
  trials: Trial[];
  at: string;
}

/** Summarises `trials`, prints a table on stderr and merges it into .runwarden/chaos-results.json. */
export function recordScenario(scenario: string, command: string, trials: readonly Trial[], extra: { seed?: number; events: number }): ScenarioResult {
  const rec = trials.map((t) => t.recoveryMs).filter((ms): ms is number => ms !== null).sort((a, b) => a - b);
  const result: ScenarioResult = {
    scenario,
    command,
    ...(extra.seed !== undefined ? { seed: extra.seed } : {}),
    totals: {
      trials: trials.length,
      events: extra.events,
      lost: trials.reduce((s, t) => s + t.lost, 0),
      duplicated: trials.reduce((s, t) => s + t.duplicated, 0),
      recoveryMsMedian: rec.length > 0 ? (rec[Math.floor(rec.length / 2)] ?? null) : null,
      recoveryMsMax: rec.at(-1) ?? null,
    },
    trials: [...trials],
    at: new Date().toISOString(),
  };
  const lines = [
    `[chaos] ${scenario}${extra.seed !== undefined ? ` (seed ${extra.seed})` : ''}`,
    '  trial    events   lost   dup   recovery ms   note',
    ...trials.map((t) => `  ${String(t.trial).padStart(5)} ${String(t.events).padStart(9)} ${String(t.lost).padStart(6)} ${String(t.duplicated).padStart(5)} ${String(t.recoveryMs ?? '-').padStart(13)}   ${t.note ?? ''}`),
    `  total: ${result.totals.trials} trials, ${result.totals.events} events, lost ${result.totals.lost}, duplicated ${result.totals.duplicated}, recovery median ${result.totals.recoveryMsMedian ?? '-'} ms, max ${result.totals.recoveryMsMax ?? '-'} ms`,
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  let all: Record<string, ScenarioResult> = {};
  try {
    all = JSON.parse(readFileSync(CHAOS_RESULTS_FILE, 'utf8')) as Record<string, ScenarioResult>;
  } catch {
    // first scenario of the run, or an unreadable file: start afresh
  }
  all[scenario] = result;
  mkdirSync(dirname(CHAOS_RESULTS_FILE), { recursive: true });
  writeFileSync(CHAOS_RESULTS_FILE, `${JSON.stringify(all, null, 2)}\n`);
  return result;
}
