import { performance } from 'node:perf_hooks';
import type { Message, TopicMessages } from 'kafkajs';

export interface OrderedSenderOptions {
  /** Sends one batch (acks from all replicas, retried as the caller sees fit); a rejection is final. */
  send(topicMessages: TopicMessages[]): Promise<void>;
  /** enqueue() waits while this many messages are queued or in flight (default 5,000). */
  maxQueuedMessages?: number;
  /** A send takes whole entries up to about this many value bytes (default 512 KiB; one entry is never split). */
  maxBatchBytes?: number;
  /** A lazy entry goes out with the next send, or on its own once it has waited this long (ms, default 50). */
  lazyMaxWaitMs?: number;
}

/** Cumulative figures of the background delivery (ms and counts). */
export interface OrderedSenderMetrics {
  /** Batches sent (one request each) and the messages in them. */
  sends: number;
  messages: number;
  /** Time the sends took, from the call to the acknowledgement; and time one was in flight (the same, as there is one at a time). */
  ackMs: number;
  /** Entries with messages, and the sum of their waits from enqueue() to their send starting. */
  entries: number;
  queueWaitMs: number;
  /** Time callers of enqueue() waited for room in the queue (backpressure on the fetch loop). */
  backpressureMs: number;
  /** Messages queued or in flight right now. */
  queued: number;
}

export interface OrderedSender {
  /**
   * Queues `topicMessages` behind everything queued before; `after` runs once they, and
   * everything before them, are acknowledged, and after every earlier `after` has settled.
   * An entry without messages is a marker: its `after` runs once everything before it is done.
   * Resolves as soon as the entry is queued (waiting only while the queue is full); rejects once
   * a send has failed: nothing queued after a failed send is sent, no later `after` runs.
   */
  enqueue(topicMessages: TopicMessages[] | undefined, after?: () => void | Promise<void>, options?: { lazy?: boolean }): Promise<void>;
  /** True while an entry that is not lazy waits for the send in flight. */
  urgentWaiting(): boolean;
  /** Resolves once everything queued so far (lazy entries too) is sent and its `after` has run, or a send has failed. */
  drain(): Promise<void>;
  /** The error that stopped the sender, if one did. */
  readonly failure: unknown;
  /** After a failure: forget it and the entries that were dropped, and accept entries again. */
  reset(): void;
  metrics(): OrderedSenderMetrics;
}

interface Entry {
  topicMessages: TopicMessages[] | undefined;
  count: number;
  bytes: number;
  after: (() => void | Promise<void>) | undefined;
  queuedAt: number;
  lazy: boolean;
}

/**
 * Sends messages in the background, strictly in the order they were queued, one batch at a
 * time: while one batch is in flight, later entries gather and go out together in the next one.
 * The callers go on while their messages travel, and learn when they are safe through `after`
 * (for the pipeline: when a commit point may be taken). Only one request is ever in flight, so
 * the idempotent producer's order and deduplication hold as with awaited sends. A lazy entry
 * (nothing urgent in it) starts no send of its own before `lazyMaxWaitMs`: it rides along with
 * the next urgent one, which saves requests (each one costs the producer and the broker CPU).
 */
export function createOrderedSender(options: OrderedSenderOptions): OrderedSender {
  const maxQueued = options.maxQueuedMessages ?? 5_000;
  const maxBatchBytes = options.maxBatchBytes ?? 512 * 1024;
  const lazyMaxWaitMs = options.lazyMaxWaitMs ?? 50;
  let queue: Entry[] = [];
  /** Entries queued, not lazy, not yet taken into a send. */
  let urgent = 0;
  let lazyTimer: NodeJS.Timeout | undefined;
  let head = 0;
  let queued = 0;
  let active = false;
  let failure: unknown;
  let failed = false;
  let roomWaiters: Array<() => void> = [];
  let idleWaiters: Array<() => void> = [];
  const m = { sends: 0, messages: 0, ackMs: 0, entries: 0, queueWaitMs: 0, backpressureMs: 0 };

  const wake = (list: Array<() => void>) => {
    for (const w of list) w();
  };

  function kick(): void {
    if (active) return;
    active = true;
    void run();
  }

  function fail(err: unknown): void {
    failed = true;
    failure = err;
    queue = [];
    head = 0;
    urgent = 0;
    const room = roomWaiters;
    roomWaiters = [];
    wake(room);
  }

  async function run(): Promise<void> {
    try {
      while (head < queue.length && !failed) {
        const first = queue[head] as Entry;
        if (first.count === 0) {
          // A marker with nothing unacknowledged before it: it runs now, not behind the next send.
          head++;
          if (head === queue.length) {
            queue = [];
            head = 0;
          }
          try {
            if (first.after) await first.after();
          } catch (err) {
            fail(err);
            return;
          }
          continue;
        }
        if (urgent === 0 && idleWaiters.length === 0) {
          // Only lazy entries (and what is behind them) wait: they go with the next urgent send,
          // or once the oldest has waited long enough; unless someone is draining the queue.
          const wait = first.queuedAt + lazyMaxWaitMs - performance.now();
          if (wait > 0) {
            lazyTimer ??= setTimeout(() => {
              lazyTimer = undefined;
              kick();
            }, wait);
            return;
          }
        }
        // Whole entries, in order, up to the byte budget (at least one).
        let end = head;
        let bytes = 0;
        let count = 0;
        while (end < queue.length && (end === head || bytes + (queue[end] as Entry).bytes <= maxBatchBytes)) {
          const e = queue[end] as Entry;
          bytes += e.bytes;
          count += e.count;
          if (e.count > 0 && !e.lazy) urgent--;
          end++;
        }
        const entries = queue.slice(head, end);
        head = end;
        if (head === queue.length || head >= 1_024) {
          queue = queue.slice(head);
          head = 0;
        }
        if (count > 0) {
          const started = performance.now();
          const byTopic = new Map<string, Message[]>();
          for (const e of entries) {
            if (e.count === 0) continue;
            m.entries++;
            m.queueWaitMs += started - e.queuedAt;
            for (const tm of e.topicMessages ?? []) {
              const list = byTopic.get(tm.topic);
              if (list) for (const msg of tm.messages) list.push(msg);
              else byTopic.set(tm.topic, tm.messages.slice());
            }
          }
          try {
            await options.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
          } catch (err) {
            fail(err);
            return;
          }
          m.sends++;
          m.messages += count;
          m.ackMs += performance.now() - started;
        }
        for (const e of entries) {
          try {
            if (e.after) await e.after();
          } catch (err) {
            fail(err);
            return;
          }
        }
        queued -= count;
        if (queued < maxQueued && roomWaiters.length > 0) {
          const room = roomWaiters;
          roomWaiters = [];
          wake(room);
        }
      }
    } finally {
      active = false;
      if (failed || head >= queue.length) {
        const idle = idleWaiters;
        idleWaiters = [];
        wake(idle);
      }
    }
  }

  function stopped(): Error {
    return new Error('delivery stopped after a failed send', { cause: failure });
  }

  return {
    async enqueue(topicMessages, after, enqueueOptions) {
      if (failed) throw stopped();
      let count = 0;
      let bytes = 0;
      for (const tm of topicMessages ?? []) {
        count += tm.messages.length;
        for (const msg of tm.messages) bytes += valueBytes(msg.value) + valueBytes(msg.key);
      }
      if (count > 0 && queued >= maxQueued) {
        const t0 = performance.now();
        while (queued >= maxQueued && !failed) await new Promise<void>((r) => roomWaiters.push(r));
        m.backpressureMs += performance.now() - t0;
        if (failed) throw stopped();
      }
      const lazy = enqueueOptions?.lazy === true;
      queue.push({ topicMessages, count, bytes, after, queuedAt: performance.now(), lazy });
      queued += count;
      if (count > 0 && !lazy) urgent++;
      kick();
    },
    urgentWaiting: () => urgent > 0,
    drain() {
      if (!active && (failed || head >= queue.length)) return Promise.resolve();
      const drained = new Promise<void>((r) => idleWaiters.push(r));
      kick();
      return drained;
    },
    get failure() {
      return failure;
    },
    reset() {
      if (!failed) return;
      failed = false;
      failure = undefined;
      queued = 0;
      urgent = 0;
    },
    metrics: () => ({ ...m, queued }),
  };
}

/** Size of a key or value for the batch budget: string length is close enough (it only bounds a request). */
function valueBytes(v: Message['value'] | Message['key']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? v.length : v.byteLength;
}
