import { DEFAULT_PRICE_TABLE, lookupPrice } from '../pricing/price-table.ts';

/** How one simulated agent behaves: what its runs cost and how well they score. */
export interface AgentProfile {
  name: string;
  /** Models its cohorts use (one per cohort). All are in the default price table. */
  models: readonly string[];
  /** Median prompt and completion tokens of one LLM call (lognormal σ 0.5 and 0.6). */
  inputTokens: number;
  outputTokens: number;
  /** Mean LLM calls per run (1 + Poisson). */
  callsPerRun: number;
  /** Chance of a tool call after each LLM call. */
  toolRate: number;
  tools: readonly string[];
  /** Mean judge score of its runs. */
  judgeMean: number;
}

export const INPUT_SIGMA = 0.5;
export const OUTPUT_SIGMA = 0.6;

/**
 * A mix of cheap and expensive agents, so the fleet's cohorts span three orders of magnitude of
 * spend per minute (as real fleets do): a router on a nano model costs a hundredth of a cent a
 * run, a research agent on a frontier model tens of cents.
 */
export const AGENT_PROFILES: readonly AgentProfile[] = [
  { name: 'support-bot', models: ['gpt-4o-mini', 'claude-haiku-4-5'], inputTokens: 4_000, outputTokens: 350, callsPerRun: 3, toolRate: 0.5, tools: ['kb_search', 'ticket_lookup', 'send_reply'], judgeMean: 0.82 },
  { name: 'research-agent', models: ['claude-sonnet-4', 'gpt-4.1'], inputTokens: 12_000, outputTokens: 1_000, callsPerRun: 4, toolRate: 0.9, tools: ['web_search', 'fetch_url', 'read_pdf'], judgeMean: 0.76 },
  { name: 'code-assistant', models: ['claude-sonnet-4-5', 'gpt-5'], inputTokens: 10_000, outputTokens: 1_200, callsPerRun: 4, toolRate: 0.8, tools: ['read_file', 'run_tests', 'grep', 'apply_patch'], judgeMean: 0.72 },
  { name: 'triage-router', models: ['gpt-4.1-nano', 'gemini-2.0-flash'], inputTokens: 1_500, outputTokens: 80, callsPerRun: 1.5, toolRate: 0.2, tools: ['route'], judgeMean: 0.88 },
  { name: 'sales-copilot', models: ['gpt-4o', 'claude-haiku-4-5'], inputTokens: 6_000, outputTokens: 500, callsPerRun: 3, toolRate: 0.6, tools: ['crm_lookup', 'calendar', 'send_email'], judgeMean: 0.79 },
  { name: 'doc-summarizer', models: ['gemini-2.5-flash', 'gpt-4.1-mini'], inputTokens: 12_000, outputTokens: 700, callsPerRun: 2, toolRate: 0.3, tools: ['fetch_doc'], judgeMean: 0.8 },
  { name: 'data-analyst', models: ['gpt-5', 'claude-sonnet-4'], inputTokens: 8_000, outputTokens: 900, callsPerRun: 4, toolRate: 0.9, tools: ['sql_query', 'plot', 'read_table'], judgeMean: 0.74 },
  { name: 'onboarding-guide', models: ['gpt-4o-mini', 'gemini-2.5-flash'], inputTokens: 3_000, outputTokens: 300, callsPerRun: 2.5, toolRate: 0.4, tools: ['kb_search', 'create_account'], judgeMean: 0.84 },
];

/** Expected usd of one run of `profile` on `model` (list prices, lognormal means). */
export function expectedUsdPerRun(profile: AgentProfile, model: string): number {
  const price = lookupPrice(model, DEFAULT_PRICE_TABLE)?.price;
  if (!price) return 0;
  const mean = (median: number, sigma: number) => median * Math.exp((sigma * sigma) / 2);
  const perCall = (mean(profile.inputTokens, INPUT_SIGMA) * price.input_usd_per_mtok + mean(profile.outputTokens, OUTPUT_SIGMA) * price.output_usd_per_mtok) / 1_000_000;
  return perCall * profile.callsPerRun;
}
