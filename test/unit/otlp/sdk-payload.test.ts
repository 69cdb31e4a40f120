import { describe, expect, it } from 'vitest';
import { createPerRunStage } from '../../../src/engine/per-run-stage.ts';
import { mapOtlpRequest } from '../../../src/otlp/map-otlp.ts';
import { decodeOtlpJson } from '../../../src/otlp/otlp-json.ts';
import { DEFAULT_POLICY } from '../../../src/policy/policy.ts';
import { argsHash } from '../../../src/sdk/emitter.ts';
import { agentTrace, T0 } from '../../support/otlp-agent-trace.ts';
import { otlpJson, recordSpans } from '../../support/otlp-payload.ts';

/**
 * A real OTLP payload: spans with gen_ai attributes recorded by the OpenTelemetry JS SDK and
 * serialised by its OTLP/JSON serializer (what an OTLP exporter sends the collector, and what the
 * collector's kafka exporter writes with encoding: otlp_json), decoded and mapped.
 */
describe('an OTLP payload made by the OpenTelemetry JS SDK', () => {
  it('maps to the run, model calls, tool calls and judge score the agent made', async () => {
    const spans = await recordSpans(agentTrace({ toolCalls: 3 }), { 'service.name': 'support-bot', 'tenant.id': 'acme', 'user.id': 'u-42' });
    const decoded = decodeOtlpJson(otlpJson(spans));
    if (!decoded.ok) throw new Error(decoded.message);
    const result = mapOtlpRequest(decoded.request);
    const traceId = spans[0]!.spanContext().traceId;

    // The HTTP server span around the agent is not a GenAI span: skipped and counted.
    expect(result.skipped).toEqual({ not_gen_ai: 1 });
    expect(result.spans).toBe(spans.length);
    expect(result.events.map((e) => e.kind)).toEqual(['run_start', 'llm_call', 'judge_score', 'tool_call', 'tool_call', 'tool_call', 'llm_call', 'run_end']);
    for (const e of result.events) {
      expect(e).toMatchObject({ schema: 'runwarden.span/v1', run_id: traceId, agent_id: 'support-agent', tenant_id: 'acme', user_id: 'u-42' });
      expect(e.event_id.length).toBeLessThanOrEqual(64);
    }
    expect(new Set(result.events.map((e) => e.event_id)).size).toBe(result.events.length);

    const [start, llm, judge, tool, , , llm2, end] = result.events;
    expect(start!.ts).toBe(T0 + 10);
    expect(end!.kind === 'run_end' && end!.status).toBe('error');
    expect(llm!.kind === 'llm_call' && llm!.llm).toEqual({ model: 'gpt-4o-2024-08-06', input_tokens: 1_500, output_tokens: 120, cached_tokens: 1_024, latency_ms: 700 });
    expect(llm!.attrs).toMatchObject({ model_version: 'gpt-4o-2024-08-06', provider: 'openai', conversation_id: 'conv-1' });
    expect(judge!.kind === 'judge_score' && judge!.judge).toEqual({ score: 0.25, rubric: 'Relevance' });
    expect(tool!.kind === 'tool_call' && tool!.tool).toEqual({ name: 'search_orders', args_hash: argsHash({ customer: 'c-1', page: 1 }), status: 'ok', duration_ms: 50 });
    // Deprecated names on the second call (an older instrumentation in the same process).
    expect(llm2!.kind === 'llm_call' && llm2!.llm).toMatchObject({ model: 'gpt-4o-mini', input_tokens: 400, output_tokens: 30 });
  });

  it('a tool loop in the payload makes the per-run detector abort the run', async () => {
    const spans = await recordSpans(agentTrace({ toolCalls: 8 }), { 'service.name': 'support-bot', 'tenant.id': 'acme', 'user.id': 'u-42' });
    const decoded = decodeOtlpJson(otlpJson(spans));
    if (!decoded.ok) throw new Error(decoded.message);
    const stage = createPerRunStage({ policy: DEFAULT_POLICY, keyRing: { activeKeyId: 'k', keys: { k: 'otlp-unit-test-secret-000' } } });
    const commands = mapOtlpRequest(decoded.request).events.flatMap((e) => stage.apply(e).flatMap((x) => (x.command ? [x.command] : [])));
    const abort = commands.find((c) => c.action === 'abort');
    expect(abort).toMatchObject({ scope: { kind: 'run', id: spans[0]!.spanContext().traceId }, reason: { detector: 'tool-loop' } });
  });
});
