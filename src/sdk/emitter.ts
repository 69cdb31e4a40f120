import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { canonicalJson } from '../contracts/canonical.ts';
import {
  SPAN_SCHEMA_VERSION,
  spanEventSchema,
  type JudgeScore,
  type LlmUsage,
  type RunStatus,
  type SpanEventInput,
  type SpanLimits,
  type ToolUse,
} from '../contracts/span.ts';
import { RunwardenMisuseError } from './errors.ts';

/** A span event as the caller writes it: the emitter adds `schema` and, if absent, `event_id`. */
export type EmitInput = SpanEventInput extends infer E ? (E extends unknown ? Omit<E, 'schema' | 'event_id'> & { event_id?: string } : never) : never;

export interface SpanEmitterOptions {
  /** A connected or unconnected kafkajs producer; the emitter connects it on first send. */
  producer: Producer;
  agentId: string;
  tenantId: string;
  topic?: string;
  /** Cohort attributes stamped on every event (model_version, prompt_hash, env, …). */
  attrs?: Record<string, string>;
  /**
   * Events held at most before the oldest are dropped (and counted). Default 10,000. Events whose
   * send failed stay queued (in order) and are retried, so this also bounds what a broker
   * outage can hold: at 100 events/s the default rides out ~100 s.
   */
  maxQueue?: number;
  /** First wait before retrying a failed send (ms, default 100); doubles per failure up to `maxRetryBackoffMs`. */
  retryBackoffMs?: number;
  /** Longest wait between retries (ms, default 5,000). */
  maxRetryBackoffMs?: number;
  /** How long flush() and close() wait for a broker that does not answer (ms, default 30,000). */
  flushTimeoutMs?: number;
  /** How long an event may wait for companions before a send (ms). Default 5. */
  lingerMs?: number;
  /** Told about send failures and drops; the emitter itself never throws into the agent. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

export interface StartRunOptions {
  userId: string;
  runId?: string;
  attrs?: Record<string, string>;
  limits?: SpanLimits;
}

export interface ToolCallOptions extends Omit<ToolUse, 'args_hash'> {
  /** Raw arguments: hashed locally (sha256 of canonical JSON), never sent. */
  args?: unknown;
  args_hash?: string;
}

/** One agent run: every method returns at once; events are sent in the background. */
export interface RunHandle {
  readonly runId: string;
  readonly spanId: string;
  llmCall(llm: LlmUsage): string;
  toolCall(tool: ToolCallOptions): string;
  judgeScore(judge: JudgeScore): string;
  sideEffect(tool?: ToolCallOptions): string;
  end(status: RunStatus): string;
}

export interface SpanEmitter {
  startRun(options: StartRunOptions): RunHandle;
  /** Emits a complete, caller-built event (validated like the others). Returns its event_id. */
  emit(event: EmitInput): string;
  /**
   * Resolves when every event emitted so far has been acknowledged by Kafka (or dropped), or
   * after `flushTimeoutMs` with the rest still queued for retry. Never rejects.
   */
  flush(): Promise<void>;
  /** Flushes (within `flushTimeoutMs`), then disconnects; what is still queued is dropped and counted. */
  close(): Promise<void>;
  /** `failed`: events of send attempts that failed (each is retried, so not lost); `dropped`: events given up. */
  stats(): { sent: number; dropped: number; failed: number; queued: number };
}

/** Hash of tool arguments for `args_hash`: equal arguments (any key order) → equal hash. */
export function argsHash(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args ?? null)).digest('hex').slice(0, 32);
}

/**
 * The producer half of the SDK: typed span events to `agent.spans`, keyed by run_id, batched in
 * the background so that the agent never waits on Kafka. Misuse (an invalid event) throws
 * RunwardenMisuseError at the call site; transport failures go to `onError`, never to the agent.
 */
export function createSpanEmitter(options: SpanEmitterOptions): SpanEmitter {
  const topic = options.topic ?? 'agent.spans';
  const maxQueue = options.maxQueue ?? 10_000;
  const lingerMs = options.lingerMs ?? 5;
  const now = options.now ?? Date.now;
  const onError = options.onError ?? (() => undefined);
  const queue: Array<{ key: string; value: string }> = [];
  const counters = { sent: 0, dropped: 0, failed: 0 };
  const initialBackoffMs = options.retryBackoffMs ?? 100;
  const maxBackoffMs = options.maxRetryBackoffMs ?? 5_000;
  const flushTimeoutMs = options.flushTimeoutMs ?? 30_000;
  /** Current wait before the next retry (ms); 0 after a success. */
  let backoffMs = 0;
  let connected: Promise<void> | undefined;
  let sending: Promise<void> = Promise.resolve();
  let scheduled = false;
  let closed = false;

  function emit(input: EmitInput): string {
    if (closed) throw new RunwardenMisuseError('emit after close()');
    const event = { schema: SPAN_SCHEMA_VERSION, event_id: input.event_id ?? randomUUID(), ...input };
    const parsed = spanEventSchema.safeParse(event);
    if (!parsed.success) {
      throw new RunwardenMisuseError(
        `invalid ${String(input.kind)} event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    queue.push({ key: event.run_id, value: JSON.stringify(event) });
    enforceBound();
    // While a send is backing off, the retry timer drains the queue (new events join it).
    if (backoffMs === 0) schedule();
    return event.event_id;
  }

  function schedule(delayMs = lingerMs): void {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      sending = sending.then(drain);
    }, delayMs).unref();
  }

  /** Drops the oldest events beyond maxQueue (after failed ones were put back in front). */
  function enforceBound(): void {
    const over = queue.length - maxQueue;
    if (over <= 0) return;
    queue.splice(0, over);
    counters.dropped += over;
    onError(new Error(`span queue full (${maxQueue}); dropped the ${over} oldest events`));
  }

  /**
   * Sends what is queued, oldest first. A failed send puts its events back in front (order per
   * run is kept) and retries after a backoff that doubles up to maxRetryBackoffMs: a broker
   * restart costs latency, not events. Duplicates a retry may cause (a send that reached the
   * broker but whose ack was lost) carry the same event_id, which the consumers drop.
   */
  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const messages = queue.splice(0, 1_000);
      try {
        connected ??= options.producer.connect();
        await connected;
        await options.producer.send({ topic, messages, acks: -1 });
        counters.sent += messages.length;
        backoffMs = 0;
      } catch (err) {
        connected = undefined;
        counters.failed += messages.length;
        queue.unshift(...messages);
        enforceBound();
        backoffMs = Math.min(maxBackoffMs, backoffMs === 0 ? initialBackoffMs : backoffMs * 2);
        onError(err);
        schedule(backoffMs);
        return;
      }
    }
  }
  function startRun(run: StartRunOptions): RunHandle {
    const runId = run.runId ?? randomUUID();
    const spanId = randomBytes(8).toString('hex');
    const attrs = { ...options.attrs, ...run.attrs };
    const common = () => ({
      ts: now(),
      run_id: runId,
      agent_id: options.agentId,
      tenant_id: options.tenantId,
      user_id: run.userId,
      ...(Object.keys(attrs).length > 0 ? { attrs } : {}),
    });
    const child = () => ({ ...common(), span_id: randomBytes(8).toString('hex'), parent_span_id: spanId });
    const tool = (t: ToolCallOptions): ToolUse => {
      const { args, ...rest } = t;
      return args === undefined ? rest : { ...rest, args_hash: rest.args_hash ?? argsHash(args) };
    };
    emit({ ...common(), span_id: spanId, kind: 'run_start', ...(run.limits ? { limits: run.limits } : {}) });
    return {
      runId,
      spanId,
      llmCall: (llm) => emit({ ...child(), kind: 'llm_call', llm }),
      toolCall: (t) => emit({ ...child(), kind: 'tool_call', tool: tool(t) }),
      judgeScore: (judge) => emit({ ...child(), kind: 'judge_score', judge }),
      sideEffect: (t) => emit({ ...child(), kind: 'side_effect', ...(t ? { tool: tool(t) } : {}) }),
      end: (status) => emit({ ...common(), span_id: spanId, kind: 'run_end', status }),
    };
  }

  async function flush(): Promise<void> {
    const deadline = Date.now() + flushTimeoutMs;
    for (;;) {
      sending = sending.then(drain);
      await sending;
      if (queue.length === 0 || Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, Math.min(backoffMs || initialBackoffMs, Math.max(0, deadline - Date.now()))));
    }
  }

  return {
    startRun,
    emit,
    flush,
    async close() {
      if (closed) return;
      await flush();
      closed = true;
      if (queue.length > 0) {
        counters.dropped += queue.length;
        onError(new Error(`closed with ${queue.length} events undelivered after ${flushTimeoutMs} ms; dropped`));
        queue.length = 0;
      }
      await options.producer.disconnect().catch(onError);
    },
    stats: () => ({ ...counters, queued: queue.length }),
  };
}
