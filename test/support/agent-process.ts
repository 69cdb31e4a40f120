/**
 * A stand-in agent as its own process, built only on the public SDK: it publishes spans with the
 * emitter and calls the guard before every step, as the README tells agent developers to.
 * Configured by the environment (AGENT_*), it prints one JSON line per outcome on stdout:
 *   {"event":"ready"} once its guard is caught up, then
 *   {"event":"aborted","call":N,"details":{…}} when the guard stopped call N (1-based), or
 *   {"event":"completed","calls":N} when it ran every step.
 * AGENT_SCENARIO: `loop` (the same tool with the same args, forever) or `llm` (LLM calls only).
 * AGENT_STEP_MS simulates the model's latency per step (a real step takes seconds).
 */
import { Kafka, logLevel } from 'kafkajs';
import { createGuard, createSpanEmitter, RunAbortedError } from '../../src/sdk/index.ts';

const env = process.env;
const required = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`agent-process: ${name} is not set`);
  return value;
};

const kafka = new Kafka({ clientId: 'agent-process', brokers: required('AGENT_BROKERS').split(','), logLevel: logLevel.NOTHING });
const [keyId, secret] = required('AGENT_KEY').split(':') as [string, string];
const runId = required('AGENT_RUN_ID');
const tenantId = env['AGENT_TENANT'] ?? 'tenant-e2e';
const agentId = 'agent-e2e';
const userId = 'user-e2e';
const steps = Number(env['AGENT_STEPS'] ?? '20');
const stepMs = Number(env['AGENT_STEP_MS'] ?? '400');
const maxLlmCalls = env['AGENT_MAX_LLM_CALLS'] === undefined ? undefined : Number(env['AGENT_MAX_LLM_CALLS']);

const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const guard = createGuard({ kafka, keyRing: { activeKeyId: keyId, keys: { [keyId]: secret } }, topic: required('AGENT_CONTROL_TOPIC'), heartbeatTimeoutMs: 10_000 });
const emitter = createSpanEmitter({ producer: kafka.producer(), agentId, tenantId, topic: required('AGENT_SPANS_TOPIC') });
await guard.start();
print({ event: 'ready' });

const run = emitter.startRun({ userId, runId, ...(maxLlmCalls === undefined ? {} : { limits: { max_llm_calls: maxLlmCalls } }) });
let outcome: object = { event: 'completed', calls: steps };
for (let call = 1; call <= steps; call++) {
  try {
    await guard.check({ runId, agentId, tenantId, userId });
  } catch (err) {
    if (!(err instanceof RunAbortedError)) throw err;
    outcome = { event: 'aborted', call, details: err.details };
    run.end('aborted');
    break;
  }
  // The call returns and its span goes out; then the model thinks about the next step for a while.
  if (env['AGENT_SCENARIO'] === 'loop') run.toolCall({ name: 'search', args: { q: 'the same query' }, status: 'ok' });
  else run.llmCall({ model: 'gpt-4o-mini', input_tokens: 1_000, output_tokens: 200 });
  await new Promise((r) => setTimeout(r, stepMs));
}
print(outcome);
await emitter.close();
await guard.stop();
