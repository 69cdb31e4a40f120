/**
 * A complete agent under runwarden: it publishes its spans with the emitter and asks the guard
 * before every step, so an abort, a kill switch or a throttle sent by the warden stops or slows it.
 * The "model" and "tools" are stand-ins; swap in your own calls.
 *
 *   export KAFKA_BROKERS=127.0.0.1:9092 RUNWARDEN_HMAC_KEYS=k1:<the warden's secret>
 *   npx runwarden start &                 # the warden (same RUNWARDEN_HMAC_KEYS)
 *   npx tsx examples/agent.ts "find the refund policy"
 *
 * Run it with a loop (LOOP=1) to watch the tool-loop detector abort it after 6 identical calls.
 */
import { Kafka, logLevel } from 'kafkajs';
import { parseKeyRing } from '../src/config/env.ts';
import { createGuard, createSpanEmitter, RunAbortedError, WardenUnavailableError } from '../src/sdk/index.ts';

const AGENT = { agentId: 'support-bot', tenantId: 'acme' };
const MODEL = 'gpt-4o-mini';
const ATTRS = { model_version: 'v3', prompt_hash: 'p-2026-11', plan_tier: 'pro' };

// The edge of the app: configuration from the environment, once.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const kafka = new Kafka({ clientId: 'support-bot', brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: logLevel.ERROR });
const keyRing = parseKeyRing(process.env.RUNWARDEN_HMAC_KEYS ?? '', process.env.RUNWARDEN_HMAC_ACTIVE_KEY);
const loop = process.env.LOOP === '1';
// The warden's topic names, when they are not the defaults (agent.spans, agent.control).
const spansTopic = process.env.RUNWARDEN_TOPIC_SPANS ? { topic: process.env.RUNWARDEN_TOPIC_SPANS } : {};
const controlTopic = process.env.RUNWARDEN_TOPIC_CONTROL ? { topic: process.env.RUNWARDEN_TOPIC_CONTROL } : {};

const emitter = createSpanEmitter({ producer: kafka.producer(), ...AGENT, ...spansTopic, attrs: ATTRS, onError: (err) => console.error('span emitter:', err) });
const guard = createGuard({
  kafka,
  ...controlTopic,
  keyRing,
  heartbeatTimeoutMs: 15_000, // no warden heartbeat for 15 s → …
  failMode: 'closed', // … refuse steps ('open' lets them through)
  onEvent: (e) => {
    // Expired and replayed commands are routine while catching up at start; the rest is worth a line.
    if (e.type === 'aborted' || e.type === 'throttled' || e.type === 'warn' || (e.type === 'rejected' && e.reason !== 'expired' && e.reason !== 'replayed')) console.error('guard:', e.type, 'command' in e ? e.command.reason : e);
  },
});

/** Stand-ins for the LLM (≈ 300 ms a call) and the tools. */
async function callModel(prompt: string, step: number): Promise<{ text: string; tool?: { name: string; args: unknown }; usage: { input: number; output: number } }> {
  await new Promise((r) => setTimeout(r, 300));
  const done = !loop && step >= 2;
  return { text: done ? `answer to: ${prompt}` : 'thinking', ...(done ? {} : { tool: { name: 'search', args: { q: loop ? prompt : `${prompt} #${step}` } } }), usage: { input: 900, output: 120 } };
}
async function callTool(name: string, args: unknown): Promise<string> {
  return `${name}(${JSON.stringify(args)}) → 3 results`;
}

async function answer(userId: string, prompt: string): Promise<string> {
  const run = emitter.startRun({ userId, attrs: ATTRS, limits: { max_llm_calls: 12, max_cost_usd: 0.5 } });
  const ctx = { runId: run.runId, ...AGENT, userId, model: MODEL, attrs: ATTRS };
  try {
    for (let i = 0; i < 50; i++) {
      await guard.check({ ...ctx, step: 'llm_call' }); // throws when the run (or its user, tenant, agent, cohort) is stopped
      const reply = await callModel(prompt, i);
      run.llmCall({ model: MODEL, input_tokens: reply.usage.input, output_tokens: reply.usage.output });
      if (!reply.tool) {
        run.judgeScore({ score: 0.9, rubric: 'self-check' }); // or your LLM-as-judge / user feedback later
        run.end('ok');
        return reply.text;
      }
      await guard.check({ ...ctx, step: 'tool_call' });
      await callTool(reply.tool.name, reply.tool.args);
      run.toolCall({ name: reply.tool.name, args: reply.tool.args, status: 'ok' }); // args are hashed here, never sent
    }
    run.end('error');
    return 'gave up';
  } catch (err) {
    if (err instanceof RunAbortedError) {
      run.end('aborted');
      return `stopped by runwarden: ${err.details.detector}/${err.details.rule} (observed ${err.details.observed}, threshold ${err.details.threshold})`;
    }
    if (err instanceof WardenUnavailableError) {
      run.end('refused');
      return 'runwarden is unavailable: failing closed';
    }
    run.end('error');
    throw err;
  } finally {
    guard.endRun(run.runId);
  }
}

await guard.start(); // reads the live commands, then follows the control topic
try {
  console.log(await answer('u-42', process.argv[2] ?? 'find the refund policy'));
} finally {
  await emitter.close(); // flushes the spans
  await guard.stop();
}
