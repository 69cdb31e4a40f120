import { describe, expect, it } from 'vitest';
import type { Producer, ProducerRecord } from 'kafkajs';
import { spanEventSchema } from '../../../src/contracts/span.ts';
import { argsHash, createSpanEmitter } from '../../../src/sdk/emitter.ts';
import { RunwardenMisuseError } from '../../../src/sdk/errors.ts';

/** An in-memory stand-in for a kafkajs producer: records what was sent; `fail` true (always) or a number of sends to fail first. */
function fakeProducer(fail: boolean | number = false) {
  const sent: ProducerRecord[] = [];
  let failures = 0;
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    send: async (record: ProducerRecord) => {
      if (fail === true || (typeof fail === 'number' && failures < fail)) {
        failures++;
        throw Object.assign(new Error('broker down'), { retriable: true });
      }
      sent.push(record);
      return [];
    },
  } as unknown as Producer;
  return { producer, sent };
}

describe('span emitter', () => {
  it('publishes a whole run keyed by run_id, every event valid against the contract', async () => {
    const { producer, sent } = fakeProducer();
    let t = 1_767_225_600_000;
    const emitter = createSpanEmitter({ producer, agentId: 'support-bot', tenantId: 'acme', attrs: { model_version: 'v2' }, now: () => t++ });
    const run = emitter.startRun({ userId: 'u1', runId: 'run-1', limits: { max_llm_calls: 10 } });
    run.llmCall({ model: 'gpt-4o', input_tokens: 100, output_tokens: 20 });
    run.toolCall({ name: 'search', args: { q: 'x', page: 1 }, status: 'ok' });
    run.judgeScore({ score: 0.9 });
    run.end('ok');
    await emitter.flush();
    const messages = sent.flatMap((r) => r.messages);
    expect(messages).toHaveLength(5);
    expect(sent.every((r) => r.topic === 'agent.spans')).toBe(true);
    const events = messages.map((m) => spanEventSchema.parse(JSON.parse(String(m.value))));
    expect(new Set(messages.map((m) => m.key))).toEqual(new Set(['run-1']));
    expect(events.map((e) => e.kind)).toEqual(['run_start', 'llm_call', 'tool_call', 'judge_score', 'run_end']);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(5);
    const tool = events[2];
    expect(tool?.kind === 'tool_call' && tool.tool.args_hash).toBe(argsHash({ page: 1, q: 'x' }));
    expect(JSON.stringify(events)).not.toContain('"q"');
    expect(events[1]?.parent_span_id).toBe(run.spanId);
  });

  it('throws a typed error on misuse, at the call site', () => {
    const { producer } = fakeProducer();
    const emitter = createSpanEmitter({ producer, agentId: 'a', tenantId: 't' });
    const run = emitter.startRun({ userId: 'u' });
    expect(() => run.llmCall({ model: 'm', input_tokens: -1, output_tokens: 0 })).toThrow(RunwardenMisuseError);
    expect(() => run.judgeScore({ score: 1.5 })).toThrow(/score/);
  });

  it('never throws into the agent when Kafka fails: failures are counted and reported, the events kept for retry', async () => {
    const { producer } = fakeProducer(true);
    const errors: unknown[] = [];
    const emitter = createSpanEmitter({ producer, agentId: 'a', tenantId: 't', onError: (e) => errors.push(e), retryBackoffMs: 5, flushTimeoutMs: 60 });
    emitter.startRun({ userId: 'u' }).end('ok');
    await expect(emitter.flush()).resolves.toBeUndefined();
    expect(emitter.stats()).toMatchObject({ sent: 0, dropped: 0, queued: 2 });
    expect(emitter.stats().failed).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    await emitter.close();
    expect(emitter.stats()).toMatchObject({ dropped: 2, queued: 0 });
  });

  it('rides out a broker outage: failed sends are retried in order, nothing lost or sent twice', async () => {
    const { producer, sent } = fakeProducer(3);
    const emitter = createSpanEmitter({ producer, agentId: 'a', tenantId: 't', onError: () => undefined, retryBackoffMs: 1 });
    const run = emitter.startRun({ userId: 'u', runId: 'r' });
    const ids = [run.llmCall({ model: 'm', input_tokens: 1, output_tokens: 1 }), run.toolCall({ name: 'search', status: 'ok' })];
    await emitter.flush();
    ids.push(run.end('ok'));
    await emitter.flush();
    const got = sent.flatMap((r) => r.messages).map((m) => (JSON.parse(String(m.value)) as { event_id: string; kind: string }).kind);
    expect(got).toEqual(['run_start', 'llm_call', 'tool_call', 'run_end']);
    expect(emitter.stats()).toMatchObject({ sent: 4, dropped: 0, queued: 0 });
    expect(emitter.stats().failed).toBe(9); // three failed attempts of the first three events
  });

  it('bounds its queue: the oldest events are dropped and counted, the agent is never blocked', () => {
    const { producer } = fakeProducer();
    const emitter = createSpanEmitter({ producer, agentId: 'a', tenantId: 't', maxQueue: 3, onError: () => undefined });
    const run = emitter.startRun({ userId: 'u' });
    for (let i = 0; i < 5; i++) run.llmCall({ model: 'm', input_tokens: 1, output_tokens: 1 });
    expect(emitter.stats()).toMatchObject({ queued: 3, dropped: 3 });
  });

  it('argsHash ignores key order and differs for different arguments', () => {
    expect(argsHash({ a: 1, b: [1, 2] })).toBe(argsHash({ b: [1, 2], a: 1 }));
    expect(argsHash({ a: 1 })).not.toBe(argsHash({ a: 2 }));
  });
});
