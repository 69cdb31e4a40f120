import type { TopicMessages } from 'kafkajs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOrderedSender } from '../../../src/kafka/ordered-sender.ts';

const msgs = (topic: string, ...values: string[]): TopicMessages[] => [{ topic, messages: values.map((value) => ({ key: value, value })) }];
const tick = () => new Promise<void>((r) => setImmediate(r));

/** A fake producer: every send waits until the test acknowledges (or fails) it. */
function fakeProducer() {
  const calls: Array<{ batch: TopicMessages[]; ack: () => void; fail: (err: unknown) => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    calls,
    get maxInFlight() {
      return maxInFlight;
    },
    send(batch: TopicMessages[]) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<void>((resolve, reject) => {
        calls.push({
          batch,
          ack: () => {
            inFlight--;
            resolve();
          },
          fail: (err) => {
            inFlight--;
            reject(err);
          },
        });
      });
    },
  };
}

const values = (batch: TopicMessages[]) => batch.map((tm) => `${tm.topic}:${tm.messages.map((m) => String(m.value)).join(',')}`);

describe('ordered sender', () => {
  it('sends at once, gathers what comes meanwhile into the next batch, one request at a time', async () => {
    const p = fakeProducer();
    const sender = createOrderedSender({ send: (b) => p.send(b) });
    await sender.enqueue(msgs('a', '1'));
    await tick();
    expect(p.calls).toHaveLength(1);
    await sender.enqueue(msgs('a', '2'));
    await sender.enqueue(msgs('b', '3'));
    await sender.enqueue(msgs('a', '4'));
    await tick();
    expect(p.calls).toHaveLength(1);
    p.calls[0]?.ack();
    await tick();
    expect(p.calls).toHaveLength(2);
    expect(values(p.calls[1]?.batch ?? [])).toEqual(['a:2,4', 'b:3']);
    p.calls[1]?.ack();
    await sender.drain();
    expect(p.maxInFlight).toBe(1);
    expect(sender.metrics()).toMatchObject({ sends: 2, messages: 4, entries: 4, queued: 0 });
  });

  it('runs `after` and markers only once everything before them is acknowledged, in order', async () => {
    const p = fakeProducer();
    const sender = createOrderedSender({ send: (b) => p.send(b) });
    const log: string[] = [];
    await sender.enqueue(msgs('a', '1'), () => void log.push('after 1'));
    await sender.enqueue(undefined, () => void log.push('marker A'));
    await sender.enqueue(msgs('a', '2'), async () => {
      await tick();
      log.push('after 2');
    });
    await sender.enqueue(undefined, () => void log.push('marker B'));
    await tick();
    expect(log).toEqual([]);
    p.calls[0]?.ack();
    await tick();
    expect(log).toEqual(['after 1', 'marker A']);
    p.calls[1]?.ack();
    await sender.drain();
    expect(log).toEqual(['after 1', 'marker A', 'after 2', 'marker B']);
  });

  it('a marker on an idle sender runs at once (after a microtask or two)', async () => {
    const sender = createOrderedSender({ send: () => Promise.reject(new Error('no send expected')) });
    let ran = false;
    await sender.enqueue(undefined, () => void (ran = true));
    await sender.drain();
    expect(ran).toBe(true);
  });

  it('waits for room while too many messages are queued (backpressure)', async () => {
    const p = fakeProducer();
    const sender = createOrderedSender({ send: (b) => p.send(b), maxQueuedMessages: 3 });
    await sender.enqueue(msgs('a', '1', '2'));
    await sender.enqueue(msgs('a', '3'));
    let queued = false;
    const fourth = sender.enqueue(msgs('a', '4')).then(() => (queued = true));
    await tick();
    expect(queued).toBe(false);
    p.calls[0]?.ack(); // 1, 2 acknowledged: room again
    await fourth;
    expect(queued).toBe(true);
    await tick();
    p.calls[1]?.ack();
    await tick();
    p.calls[2]?.ack();
    await sender.drain();
    expect(p.calls.flatMap((c) => values(c.batch))).toEqual(['a:1,2', 'a:3', 'a:4']);
    expect(sender.metrics().backpressureMs).toBeGreaterThanOrEqual(0);
  });

  it('splits batches at the byte budget without splitting an entry', async () => {
    const p = fakeProducer();
    const sender = createOrderedSender({ send: (b) => p.send(b), maxBatchBytes: 10 });
    await sender.enqueue(msgs('a', 'x'));
    await sender.enqueue(msgs('a', '12345678')); // 16 bytes with its key: alone over the budget
    await sender.enqueue(msgs('a', 'y'));
    await sender.enqueue(msgs('a', 'z'));
    for (let i = 0; i < 3; i++) {
      await tick();
      p.calls[i]?.ack();
    }
    await sender.drain();
    expect(p.calls.map((c) => values(c.batch))).toEqual([['a:x'], ['a:12345678'], ['a:y,z']]);
  });

  it('after a failed send: nothing later is sent, no later `after` runs, enqueue rejects until reset', async () => {
    const p = fakeProducer();
    const sender = createOrderedSender({ send: (b) => p.send(b) });
    const log: string[] = [];
    await sender.enqueue(msgs('a', '1'), () => void log.push('after 1'));
    await sender.enqueue(msgs('a', '2'), () => void log.push('after 2'));
    await sender.enqueue(undefined, () => void log.push('marker'));
    await tick();
    p.calls[0]?.fail(new Error('broker says no'));
    await sender.drain();
    expect(log).toEqual([]);
    expect(p.calls).toHaveLength(1);
    expect(sender.failure).toBeInstanceOf(Error);
    await expect(sender.enqueue(msgs('a', '3'))).rejects.toThrow('delivery stopped after a failed send');
    sender.reset();
    expect(sender.failure).toBeUndefined();
    await sender.enqueue(msgs('a', '4'), () => void log.push('after 4'));
    await tick();
    p.calls[1]?.ack();
    await sender.drain();
    expect(values(p.calls[1]?.batch ?? [])).toEqual(['a:4']);
    expect(log).toEqual(['after 4']);
  });

  it('a lazy entry starts no send: it goes with the next urgent one, or alone after lazyMaxWaitMs, or when drained', async () => {
    const p = fakeProducer();
    const sender = createOrderedSender({ send: (b) => p.send(b), lazyMaxWaitMs: 30 });
    const log: string[] = [];
    await sender.enqueue(msgs('f', 'lazy-1'), () => void log.push('after lazy-1'), { lazy: true });
    await sender.enqueue(undefined, () => void log.push('marker'));
    await tick();
    expect(p.calls).toHaveLength(0);
    expect(sender.urgentWaiting()).toBe(false);
    // An urgent entry takes the lazy one along, in order.
    await sender.enqueue(msgs('c', 'cmd-1'), () => void log.push('after cmd-1'));
    await tick();
    expect(p.calls.map((c) => values(c.batch))).toEqual([['f:lazy-1', 'c:cmd-1']]);
    p.calls[0]?.ack();
    await tick();
    expect(log).toEqual(['after lazy-1', 'marker', 'after cmd-1']);
    // Alone, it goes once it has waited lazyMaxWaitMs.
    const t0 = Date.now();
    await sender.enqueue(msgs('f', 'lazy-2'), undefined, { lazy: true });
    while (p.calls.length < 2) await new Promise((r) => setTimeout(r, 2));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    p.calls[1]?.ack();
    await sender.drain();
    // drain() sends lazy entries at once.
    await sender.enqueue(msgs('f', 'lazy-3'), undefined, { lazy: true });
    const drained = sender.drain();
    await tick();
    expect(p.calls).toHaveLength(3);
    p.calls[2]?.ack();
    await drained;
    expect(sender.metrics().queued).toBe(0);
  });

  it('urgentWaiting: an urgent entry behind the send in flight', async () => {
    const p = fakeProducer();
    const sender = createOrderedSender({ send: (b) => p.send(b) });
    await sender.enqueue(msgs('c', '1'));
    await tick();
    expect(sender.urgentWaiting()).toBe(false);
    await sender.enqueue(msgs('c', '2'));
    expect(sender.urgentWaiting()).toBe(true);
    p.calls[0]?.ack();
    await tick();
    expect(sender.urgentWaiting()).toBe(false);
    p.calls[1]?.ack();
    await sender.drain();
  });

  it('property: per topic, messages go out in queue order, each once, and every `after` runs after its ack, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ topic: fc.constantFrom('a', 'b', 'c'), n: fc.nat(3), marker: fc.boolean(), lazy: fc.boolean() }), { maxLength: 40 }),
        fc.array(fc.nat(3), { maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        async (plan, pauses, maxQueued) => {
          const p = fakeProducer();
          const acked = new Set<string>();
          const sender = createOrderedSender({
            send: async (b) => {
              await p.send(b);
              for (const tm of b) for (const m of tm.messages) acked.add(String(m.value));
            },
            maxQueuedMessages: maxQueued,
            lazyMaxWaitMs: 1,
          });
          // Acknowledge every send after a few ticks, in the background.
          let done = false;
          const acker = (async () => {
            let i = 0;
            let k = 0;
            while (!done || i < p.calls.length) {
              for (let t = 0; t < (pauses[k++ % Math.max(1, pauses.length)] ?? 0); t++) await tick();
              await tick();
              if (i < p.calls.length) p.calls[i++]?.ack();
            }
          })();
          const afterLog: number[] = [];
          const expected: Record<string, string[]> = {};
          let id = 0;
          for (const [index, step] of plan.entries()) {
            const values = Array.from({ length: step.n }, () => String(id++));
            if (step.n > 0) (expected[step.topic] ??= []).push(...values);
            await sender.enqueue(
              step.n > 0 ? msgs(step.topic, ...values) : undefined,
              () => {
                for (const v of values) if (!acked.has(v)) throw new Error(`after ran before ${v} was acknowledged`);
                afterLog.push(index);
              },
              { lazy: step.lazy },
            );
            if (step.marker) await sender.enqueue(undefined);
          }
          await sender.drain();
          done = true;
          await acker;
          const sent: Record<string, string[]> = {};
          for (const c of p.calls) for (const tm of c.batch) (sent[tm.topic] ??= []).push(...tm.messages.map((m) => String(m.value)));
          expect(sender.failure).toBeUndefined();
          expect(sent).toEqual(expected);
          expect(afterLog).toEqual(plan.map((_, i) => i));
          expect(p.maxInFlight).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200 },
    );
  });
});
