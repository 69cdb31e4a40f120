import { performance } from 'node:perf_hooks';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { Topics } from '../../src/config/env.ts';
import type { KeyRing } from '../../src/control/sign.ts';
import { createGuard, RunAbortedError, type Guard, type GuardEvent, type StepContext } from '../../src/sdk/index.ts';
import { LOOP_AGENT, loopRun } from './loop-run.ts';

/** One abort, measured on its own: clocks start when producer.send of the triggering event is called. */
export interface AbortSample {
  runId: string;
  /** send() called → the guard's check() threw (ms): what the agent experiences. */
  latencyMs: number;
  /** send() called → the guard applied the abort (ms); check() throws from this moment. */
  appliedMs: number;
  /** send() called → the broker acknowledged the triggering event (acks from all replicas, ms). */
  sendAckMs: number | undefined;
  /** What check() threw right after the abort was applied: `RunAbortedError` is the expected outcome. */
  outcome: string;
  /** check() threw RunAbortedError for this run, by tool-loop identical_consecutive. */
  verified: boolean;
  /** Wall clock (ms, sub-ms) of the send() call and of the abort's arrival, to split the path with the command's Kafka timestamp. */
  wallSendMs: number;
  wallAppliedMs: number;
}

export interface AbortBatch {
  aborts: AbortSample[];
  /** Triggers whose abort did not arrive within the drain deadline: how long each had waited then (ms, a lower bound of its latency). */
  lostWaitedMs: number[];
  /** check() threw before the trigger was sent, by error name (it must not: the run had not looped yet). */
  preCheckThrew: Record<string, number>;
  /** Bare Kafka round trips (produce → a plain consumer's eachMessage, ms), interleaved with the triggers. */
  baselineMs: number[];
  /** Per abort: trigger send() → the warden produced the command (its Kafka CreateTime), and that → guard (ms). */
  legs: Array<{ toCommandMs: number; commandToGuardMs: number }>;
}

export interface Agent {
  /** Starts the guard, the baseline consumer and the control-topic tap; resolves when all are reading. */
  start(): Promise<void>;
  /** Resolves once the guard has seen a warden heartbeat. */
  wardenUp(timeoutMs: number): Promise<void>;
  /**
   * Sends `n` looping runs (each run's earlier events ~1 s ahead, then its trigger alone, with a
   * baseline probe before each) and measures every abort. `afterTriggers` runs once the last trigger is sent,
   * before the wait of at most `drainMs` for the aborts still to come.
   */
  runAborts(n: number, label: string, options?: { afterTriggers?: () => Promise<void>; drainMs?: number }): Promise<AbortBatch>;
  stop(): Promise<void>;
}

/** Iterations (~40 ms each) between a run's earlier events and its trigger. */
const LEAD = 25;
const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** 10–30 ms: two of them space the triggers ~40 ms apart, jittered so they do not lock to the fleet's 10 ms batches. */
const jitter = () => sleep(10 + Math.random() * 20);

/**
 * The agent side of the abort-latency bench: one process with the SDK guard (as an agent embeds
 * it), the producers an agent's spans go out on, a plain consumer for the bare Kafka round trip
 * baseline, and a tap on the control topic that reads each command's Kafka timestamp.
 */
export function createAgent(options: { kafka: Kafka; topics: Topics; baselineTopic: string; keyRing: KeyRing }): Agent {
  const { kafka, topics, baselineTopic } = options;
  interface Pending {
    ctx: StepContext;
    t0: number;
    wall0: number;
    ackMs?: number;
    done: (s: AbortSample) => void;
  }
  const pending = new Map<string, Pending>();
  const probes = new Map<string, number>();
  let baseline: number[] = [];
  const commandTimes = new Map<string, number>();
  let heartbeat!: () => void;
  const heartbeatSeen = new Promise<void>((r) => (heartbeat = r));
  let tapUp!: () => void;
  const tapReady = new Promise<void>((r) => (tapUp = r));

  function onEvent(e: GuardEvent): void {
    if (e.type !== 'applied') return;
    if (e.command.action === 'heartbeat') return heartbeat();
    if (e.command.action !== 'abort' || e.command.scope.kind !== 'run') return;
    const runId = e.command.scope.id;
    const p = pending.get(runId);
    if (!p) return;
    pending.delete(runId);
    const appliedAt = performance.now();
    const wallApplied = wallNow();
    const finish = (outcome: string, verified: boolean) => {
      const at = performance.now();
      p.done({ runId, latencyMs: at - p.t0, appliedMs: appliedAt - p.t0, sendAckMs: p.ackMs, outcome, verified, wallSendMs: p.wall0, wallAppliedMs: wallApplied });
      guard.endRun(runId);
    };
    // The real check an agent makes before its next step: it must throw RunAbortedError now.
    guard.check(p.ctx).then(
      () => finish('no-throw', false),
      (err: unknown) => {
        const ok = err instanceof RunAbortedError && err.details.scope.id === runId && err.details.rule === 'identical_consecutive';
        finish(err instanceof Error ? err.name : String(err), ok);
      },
    );
  }

  const guard: Guard = createGuard({ kafka, keyRing: options.keyRing, topic: topics.control, onEvent });
  // An agent's span producer: kafkajs defaults, acks from all replicas (as the SDK emitter sends).
  const triggerProducer: Producer = kafka.producer();
  const preProducer: Producer = kafka.producer();
  const baselineProducer: Producer = kafka.producer();
  const baselineConsumer: Consumer = kafka.consumer({ groupId: `${baselineTopic}-rtt` });
  const tap: Consumer = kafka.consumer({ groupId: `${topics.control}-tap` });

  async function probe(id: string): Promise<void> {
    probes.set(id, performance.now());
    await baselineProducer.send({ topic: baselineTopic, acks: -1, messages: [{ key: id, value: id }] });
  }

  async function start(): Promise<void> {
    await Promise.all([triggerProducer.connect(), preProducer.connect(), baselineProducer.connect(), baselineConsumer.connect(), tap.connect()]);
    await guard.start();
    await baselineConsumer.subscribe({ topic: baselineTopic, fromBeginning: true });
    await tap.subscribe({ topic: topics.control, fromBeginning: true });
    let first!: () => void;
    const firstProbe = new Promise<void>((r) => (first = r));
    await baselineConsumer.run({
      eachMessage: async ({ message }) => {
        const at = performance.now();
        const id = message.value?.toString() ?? '';
        const t0 = probes.get(id);
        probes.delete(id);
        if (id === 'ready') first();
        else if (t0 !== undefined) baseline.push(at - t0);
      },
    });
    await tap.run({
      eachMessage: async ({ message }) => {
        const c = JSON.parse(message.value?.toString() ?? 'null') as { action?: string; scope?: { kind: string; id: string } } | null;
        if (c?.action === 'heartbeat') tapUp();
        if (c?.action === 'abort' && c.scope?.kind === 'run') commandTimes.set(c.scope.id, Number(message.timestamp));
      },
    });
    await probe('ready');
    await firstProbe;
  }

  /** Sends one run's events before its trigger (run_start, 6 LLM calls, 5 identical tool calls). */
  async function sendPre(runId: string): Promise<void> {
    const messages = loopRun(runId, Date.now()).pre.map((e) => ({ key: runId, value: JSON.stringify(e) }));
    await preProducer.send({ topic: topics.spans, acks: -1, messages });
  }

  async function runAborts(n: number, label: string, options: { afterTriggers?: () => Promise<void>; drainMs?: number } = {}): Promise<AbortBatch> {
    const aborts: AbortSample[] = [];
    const waits: Array<Promise<void>> = [];
    const preCheckThrew: Record<string, number> = {};
    baseline = [];
    const ids = Array.from({ length: n }, (_, i) => `${label}-${String(i).padStart(5, '0')}`);
    // Each run's earlier events go out LEAD iterations (~1 s) before its trigger, one run per
    // iteration: spread like a fleet's, not in bursts (every run's 3rd call makes the warden
    // send a warn, and the warden sends each command before it reads on).
    const pre = new Map<string, Promise<void>>();
    const sendPreOf = (i: number) => {
      const runId = ids[i];
      if (runId !== undefined) pre.set(runId, sendPre(runId));
    };
    for (let i = 0; i < Math.min(LEAD, n); i++) {
      sendPreOf(i);
      await jitter();
      await jitter();
    }
    for (let i = 0; i < n; i++) {
      const runId = ids[i] as string;
      sendPreOf(i + LEAD);
      await jitter();
      probe(`${runId}-p`).catch((err: unknown) => process.stderr.write(`[bench] baseline probe failed: ${String(err)}\n`));
      await jitter();
      await pre.get(runId);
      pre.delete(runId);
      const ctx: StepContext = { runId, ...LOOP_AGENT, step: 'tool_call' };
      // Before the 6th identical call the run must still be allowed (only a warn is out).
      await guard.check(ctx).catch((err: unknown) => {
        const name = err instanceof Error ? err.name : String(err);
        preCheckThrew[name] = (preCheckThrew[name] ?? 0) + 1;
      });
      const value = JSON.stringify({ ...loopRun(runId, 0).trigger, ts: Date.now() });
      waits.push(
        new Promise<void>((done) => {
          const p: Pending = { ctx, t0: 0, wall0: 0, done: (s) => (aborts.push(s), done()) };
          pending.set(runId, p);
          p.wall0 = wallNow();
          p.t0 = performance.now();
          triggerProducer.send({ topic: topics.spans, acks: -1, messages: [{ key: runId, value }] }).then(
            () => (p.ackMs = performance.now() - p.t0),
            (err: unknown) => process.stderr.write(`[bench] trigger send failed (its abort will count as lost): ${String(err)}\n`),
          );
        }),
      );
    }
    await options.afterTriggers?.();
    await Promise.race([Promise.all(waits), sleep(options.drainMs ?? 15_000)]);
    const givenUpAt = performance.now();
    const lostWaitedMs = [...pending.values()].map((p) => givenUpAt - p.t0);
    pending.clear();
    // The tap reads the same commands; give it a moment to catch up before splitting the path.
    for (let i = 0; i < 40 && aborts.some((a) => !commandTimes.has(a.runId)); i++) await sleep(50);
    const legs = aborts.flatMap((a) => {
      const at = commandTimes.get(a.runId);
      return at === undefined ? [] : [{ toCommandMs: at - a.wallSendMs, commandToGuardMs: a.wallAppliedMs - at }];
    });
    for (const a of aborts) commandTimes.delete(a.runId);
    return { aborts, lostWaitedMs, preCheckThrew, baselineMs: baseline, legs };
  }

  return {
    start,
    async wardenUp(timeoutMs) {
      await Promise.race([
        Promise.all([heartbeatSeen, tapReady]),
        sleep(timeoutMs).then(() => {
          throw new Error(`no warden heartbeat within ${timeoutMs} ms`);
        }),
      ]);
    },
    runAborts,
    async stop() {
      await Promise.allSettled([guard.stop(), triggerProducer.disconnect(), preProducer.disconnect(), baselineProducer.disconnect(), baselineConsumer.disconnect(), tap.disconnect()]);
    },
  };
}
