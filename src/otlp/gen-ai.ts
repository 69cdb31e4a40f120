import { attrNumber, attrText, firstOf, type Attrs } from './attributes.ts';

/**
 * The OpenTelemetry GenAI semantic conventions runwarden reads, current name first, then the
 * deprecated or vendor names that instrumentations still emit (older semconv releases, Sentry,
 * OpenLLMetry). Reading stops at the first name present, so a span that sets both wins with the
 * current one. docs/otlp.md has the table.
 */
export const GEN_AI = {
  operation: ['gen_ai.operation.name'],
  requestModel: ['gen_ai.request.model'],
  responseModel: ['gen_ai.response.model'],
  provider: ['gen_ai.provider.name', 'gen_ai.system'],
  inputTokens: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens'],
  outputTokens: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens'],
  /** Part of the input served from the provider's cache (semconv: included in input_tokens). */
  cacheReadTokens: ['gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens', 'gen_ai.usage.input_tokens.cached'],
  /** Part of the input written to the cache: no SPEC §1 field; priced as input (it is in input_tokens). */
  cacheCreationTokens: ['gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.cache_creation_input_tokens', 'gen_ai.usage.input_tokens.cache_write'],
  toolName: ['gen_ai.tool.name'],
  toolArguments: ['gen_ai.tool.call.arguments', 'gen_ai.tool.input'],
  agentId: ['gen_ai.agent.id'],
  agentName: ['gen_ai.agent.name'],
  conversationId: ['gen_ai.conversation.id'],
  errorType: ['error.type'],
  evaluationName: ['gen_ai.evaluation.name'],
  evaluationScore: ['gen_ai.evaluation.score.value'],
  evaluationLabel: ['gen_ai.evaluation.score.label'],
} as const;

/** The span event that carries an evaluation result (semconv event `gen_ai.evaluation.result`). */
export const EVALUATION_EVENT = 'gen_ai.evaluation.result';

/** What a span is to runwarden. */
export type OperationClass = 'llm' | 'tool' | 'agent' | 'evaluation' | 'other_gen_ai' | 'not_gen_ai';

/** gen_ai.operation.name values that are one model call (SPEC §1 `llm_call`). */
const LLM_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content']);
/** Every operation named by the conventions; the rest of them (create_agent, embeddings, retrieval, invoke_workflow, …) are skipped. */
const KNOWN_OPERATIONS = new Set([...LLM_OPERATIONS, 'execute_tool', 'invoke_agent', 'create_agent', 'embeddings', 'retrieval', 'invoke_workflow', 'plan']);

/**
 * Classifies a span by `gen_ai.operation.name`; without it (instrumentations from before the
 * attribute existed), by the span name the conventions prescribe (`chat gpt-4o`,
 * `execute_tool get_weather`, `invoke_agent planner`), then by the attributes it carries.
 */
export function classifySpan(attrs: Attrs, spanName: string | undefined): { cls: OperationClass; operation?: string } {
  // A span with no gen_ai.* attribute is not a GenAI span, whatever its name ("chat" may be a route).
  let genAi = false;
  for (const key of attrs.keys()) if (key.startsWith('gen_ai.')) genAi = true;
  if (!genAi) return { cls: 'not_gen_ai' };
  const declared = firstOf(attrs, GEN_AI.operation, attrText);
  const operation = declared ?? operationFromName(spanName);
  if (operation !== undefined) return { cls: classOf(operation), operation };
  if (firstOf(attrs, GEN_AI.evaluationScore, attrNumber) !== undefined || firstOf(attrs, GEN_AI.evaluationLabel, attrText) !== undefined) {
    return { cls: 'evaluation' };
  }
  if (firstOf(attrs, GEN_AI.toolName, attrText) !== undefined) return { cls: 'tool' };
  const model = firstOf(attrs, [...GEN_AI.responseModel, ...GEN_AI.requestModel], attrText);
  if (model !== undefined && firstOf(attrs, [...GEN_AI.inputTokens, ...GEN_AI.outputTokens], attrNumber) !== undefined) return { cls: 'llm' };
  return { cls: 'not_gen_ai' };
}

function classOf(operation: string): OperationClass {
  if (LLM_OPERATIONS.has(operation)) return 'llm';
  if (operation === 'execute_tool') return 'tool';
  if (operation === 'invoke_agent') return 'agent';
  return 'other_gen_ai';
}

function operationFromName(spanName: string | undefined): string | undefined {
  const first = spanName?.split(' ', 1)[0];
  return first !== undefined && KNOWN_OPERATIONS.has(first) ? first : undefined;
}
