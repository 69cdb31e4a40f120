import type { Kafka, Producer } from 'kafkajs';
import type { TopicTail } from './topic-tail.ts';
import type { ControlCommand } from '../../src/contracts/control.ts';
import type { Finding } from '../../src/contracts/finding.ts';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import type { KeyRing } from '../../src/control/sign.ts';
import { createEmbeddedEngine } from '../../src/engine/embedded-engine.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { FLEET_T0, parseAll, withCostSpike } from './cohort-fleet.ts';

export const CHAOS_KEY_RING: KeyRing = { activeKeyId: 'k1', keys: { k1: 'chaos-suite-secret-0123456789' } };

/** Per-run detectors (the detect stage) versus cohort detectors (the cohort stage). */
export const isCohortDetector = (detector: string): boolean => detector === 'cost-spike' || detector === 'judge-drift';

/**
 * A fleet with injected runaways (tool loops, step-cap breaches, token spikes; `runawayShare` of
 * the runs) and a cohort cost spike in minute 25: what every chaos scenario pushes through.
 */
export function chaosStream(runs: number, seed: number, runawayShare = 0.08): SpanEventInput[] {
  return withCostSpike(simulateFleet({ runs, seed, startMs: FLEET_T0, runawayShare }).events, 25);
}

/** What replay's embedded engine emits for the stream: the reference every scenario is held to. */
export interface Oracle {
  /** command_id → canonical JSON of every command (per-run and cohort). */
  commands: Map<string, string>;
  /** command_id → index of the event that triggered it (per-run commands only). */
  perRunCommandAt: Map<string, number>;
  /** finding_id → finding. */
  findings: Map<string, Finding>;
  /** Runs that must end up aborted (scope ids of per-run `abort` commands). */
  abortedRuns: Set<string>;
}

export function oracleOf(events: readonly SpanEventInput[], keyRing: KeyRing = CHAOS_KEY_RING): Oracle {
  const engine = createEmbeddedEngine({ policy: DEFAULT_POLICY, keyRing });
  const oracle: Oracle = { commands: new Map(), perRunCommandAt: new Map(), findings: new Map(), abortedRuns: new Set() };
  parseAll(events).forEach((event, i) => {
    for (const { finding, command } of engine.apply(event)) {
      oracle.findings.set(finding.finding_id, finding);
      if (!command) continue;
      oracle.commands.set(command.command_id, JSON.stringify(command));
      if (!isCohortDetector(finding.detector)) {
        oracle.perRunCommandAt.set(command.command_id, i);
        if (command.action === 'abort' && command.scope.kind === 'run') oracle.abortedRuns.add(command.scope.id);
      }
    }
  });
  return oracle;
}

/** Per-run command ids that must exist once the first `n` events of the stream are processed. */
export function perRunCommandsBefore(oracle: Oracle, n: number): string[] {
  return [...oracle.perRunCommandAt].filter(([, at]) => at < n).map(([id]) => id);
}

export interface PacedProducer {
  /** Events acknowledged by Kafka so far (a prefix of the stream). */
  readonly produced: number;
  /** Resolves once the whole stream is produced. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Produces `events` in order (key = run_id, idempotent, acks from all replicas) at about
 * `perSecond`, in slices of `slice` events: a live stream that keeps the warden under load.
 */
export function producePaced(kafka: Kafka, topic: string, events: readonly SpanEventInput[], perSecond: number, slice = 50): PacedProducer {
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let produced = 0;
  let stopped = false;
  const done = (async () => {
    await producer.connect();
    const t0 = Date.now();
    try {
      while (!stopped && produced < events.length) {
        const upto = Math.min(produced + slice, events.length);
        await producer.send({ topic, acks: -1, messages: events.slice(produced, upto).map((e) => ({ key: e.run_id, value: JSON.stringify(e) })) });
        produced = upto;
        const due = t0 + (produced / perSecond) * 1_000; // ms: when this many should be out at the pace
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      }
    } finally {
      await producer.disconnect();
    }
  })();
  return {
    get produced() {
      return produced;
    },
    done,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** The commands of a control topic read whole: per id, every distinct content seen, and message counts. */
export interface ControlLog {
  byId: Map<string, Set<string>>;
  messages: number;
  heartbeats: number;
}

export function controlLog(values: readonly Buffer[]): ControlLog {
  const log: ControlLog = { byId: new Map(), messages: 0, heartbeats: 0 };
  for (const value of values) {
    const command = JSON.parse(value.toString('utf8')) as ControlCommand;
    if (command.action === 'heartbeat') {
      log.heartbeats++;
      continue;
    }
    log.messages++;
    const seen = log.byId.get(command.command_id) ?? new Set<string>();
    seen.add(value.toString('utf8'));
    log.byId.set(command.command_id, seen);
  }
  return log;
}

/** Ids emitted with more than one content: must always be empty. */
export const conflictingIds = (log: ControlLog): string[] => [...log.byId].filter(([, contents]) => contents.size > 1).map(([id]) => id);

/**
 * Waits (up to `timeoutMs`) for every command replay emits to be on the control topic; on time
 * out, prints the missing ones and returns, so that the comparison after it shows the difference.
 */
export async function awaitReplayCommands(control: TopicTail, oracle: Oracle, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await control.readToEnd();
    const log = controlLog(control.values);
    const missing = [...oracle.commands].filter(([id]) => !log.byId.has(id));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      const what = missing.map(([, json]) => {
        const c = JSON.parse(json) as ControlCommand;
        return `${c.action} ${c.scope.kind}:${c.scope.id} ${c.reason.detector}/${c.reason.rule} at ${c.issued_at}`;
      });
      process.stderr.write(`[chaos] ${missing.length} commands of replay not on the control topic after ${timeoutMs} ms:\n  ${what.join('\n  ')}\n`);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
