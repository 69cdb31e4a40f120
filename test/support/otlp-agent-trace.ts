import type { ScriptedSpan } from './otlp-payload.ts';

/** Start of the scripted trace (epoch ms): recent, so the ingest's future-timestamp check never applies. */
export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/**
 * One agent run as an instrumented agent traces it (GenAI semantic conventions): an HTTP server
 * span around `invoke_agent`, a chat call judged by an evaluation event, `toolCalls` identical
 * `execute_tool` calls (a loop past 5 is what the tool-loop detector aborts), a last chat call
 * written with the deprecated attribute names, and the run failing.
 */
export function agentTrace(options: { toolCalls: number; startMs?: number }): ScriptedSpan[] {
  const t = options.startMs ?? T0;
  const script: ScriptedSpan[] = [
    { name: 'POST /v1/chat', attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat' }, startMs: t, endMs: t + 10_000 },
    {
      name: 'invoke_agent Support',
      parent: 0,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'support-agent', 'gen_ai.agent.name': 'Support', 'gen_ai.conversation.id': 'conv-1', 'gen_ai.provider.name': 'openai' },
      startMs: t + 10,
      endMs: t + 9_000,
      error: 'agent gave up',
    },
    {
      name: 'chat gpt-4o',
      parent: 1,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': 1_500,
        'gen_ai.usage.output_tokens': 120,
        'gen_ai.usage.cache_read.input_tokens': 1_024,
      },
      startMs: t + 100,
      endMs: t + 800,
      events: [{ name: 'gen_ai.evaluation.result', attributes: { 'gen_ai.evaluation.name': 'Relevance', 'gen_ai.evaluation.score.value': 0.25 }, atMs: t + 850 }],
    },
  ];
  for (let i = 0; i < options.toolCalls; i++) {
    script.push({
      name: 'execute_tool search_orders',
      parent: 1,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search_orders', 'gen_ai.tool.call.id': `call_${i}`, 'gen_ai.tool.call.arguments': '{"page":1,"customer":"c-1"}' },
      startMs: t + 1_000 + i * 100,
      endMs: t + 1_050 + i * 100,
    });
  }
  const after = t + 1_000 + options.toolCalls * 100;
  script.push({
    name: 'chat gpt-4o-mini',
    parent: 1,
    attributes: { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.prompt_tokens': 400, 'gen_ai.usage.completion_tokens': 30 },
    startMs: after,
    endMs: after + 300,
  });
  return script;
}
