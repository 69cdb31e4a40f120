import { z } from 'zod';
import type { LlmUsage } from '../contracts/span.ts';

const usdPerMtok = () =>
  z.number({ error: 'must be a number (usd per 1M tokens)' }).nonnegative('must not be negative (usd per 1M tokens)');

/** Price of one model, usd per 1M tokens. `cached_usd_per_mtok` defaults to the input price. */
export const modelPriceSchema = z.strictObject(
  {
    input_usd_per_mtok: usdPerMtok(),
    output_usd_per_mtok: usdPerMtok(),
    cached_usd_per_mtok: usdPerMtok().optional(),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}; expected input_usd_per_mtok, output_usd_per_mtok, cached_usd_per_mtok` : undefined) },
);
export type ModelPrice = z.infer<typeof modelPriceSchema>;

/** Model name (lower case) → price. */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * List prices (usd per 1M tokens) of common models as published by their vendors in 2025.
 * Prices change: override or extend them in the policy file under `pricing.models`
 * (`pricing.replace_defaults: true` drops this table entirely). A model missing from the table
 * is reported (`known: false`), never priced as a silent $0.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  // OpenAI
  'gpt-5': { input_usd_per_mtok: 1.25, output_usd_per_mtok: 10, cached_usd_per_mtok: 0.125 },
  'gpt-5-mini': { input_usd_per_mtok: 0.25, output_usd_per_mtok: 2, cached_usd_per_mtok: 0.025 },
  'gpt-5-nano': { input_usd_per_mtok: 0.05, output_usd_per_mtok: 0.4, cached_usd_per_mtok: 0.005 },
  'gpt-4.1': { input_usd_per_mtok: 2, output_usd_per_mtok: 8, cached_usd_per_mtok: 0.5 },
  'gpt-4.1-mini': { input_usd_per_mtok: 0.4, output_usd_per_mtok: 1.6, cached_usd_per_mtok: 0.1 },
  'gpt-4.1-nano': { input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.4, cached_usd_per_mtok: 0.025 },
  'gpt-4o': { input_usd_per_mtok: 2.5, output_usd_per_mtok: 10, cached_usd_per_mtok: 1.25 },
  'gpt-4o-mini': { input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6, cached_usd_per_mtok: 0.075 },
  o1: { input_usd_per_mtok: 15, output_usd_per_mtok: 60, cached_usd_per_mtok: 7.5 },
  o3: { input_usd_per_mtok: 2, output_usd_per_mtok: 8, cached_usd_per_mtok: 0.5 },
  'o3-mini': { input_usd_per_mtok: 1.1, output_usd_per_mtok: 4.4, cached_usd_per_mtok: 0.55 },
  'o4-mini': { input_usd_per_mtok: 1.1, output_usd_per_mtok: 4.4, cached_usd_per_mtok: 0.275 },
  // Anthropic (cached = cache read)
  'claude-opus-4-1': { input_usd_per_mtok: 15, output_usd_per_mtok: 75, cached_usd_per_mtok: 1.5 },
  'claude-opus-4': { input_usd_per_mtok: 15, output_usd_per_mtok: 75, cached_usd_per_mtok: 1.5 },
  'claude-sonnet-4-5': { input_usd_per_mtok: 3, output_usd_per_mtok: 15, cached_usd_per_mtok: 0.3 },
  'claude-sonnet-4': { input_usd_per_mtok: 3, output_usd_per_mtok: 15, cached_usd_per_mtok: 0.3 },
  'claude-3-7-sonnet': { input_usd_per_mtok: 3, output_usd_per_mtok: 15, cached_usd_per_mtok: 0.3 },
  'claude-haiku-4-5': { input_usd_per_mtok: 1, output_usd_per_mtok: 5, cached_usd_per_mtok: 0.1 },
  'claude-3-5-haiku': { input_usd_per_mtok: 0.8, output_usd_per_mtok: 4, cached_usd_per_mtok: 0.08 },
  // Google (≤ 200k-token prompts)
  'gemini-2.5-pro': { input_usd_per_mtok: 1.25, output_usd_per_mtok: 10, cached_usd_per_mtok: 0.31 },
  'gemini-2.5-flash': { input_usd_per_mtok: 0.3, output_usd_per_mtok: 2.5, cached_usd_per_mtok: 0.075 },
  'gemini-2.0-flash': { input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.4, cached_usd_per_mtok: 0.025 },
  // Mistral
  'mistral-large': { input_usd_per_mtok: 2, output_usd_per_mtok: 6 },
  'mistral-small': { input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.3 },
};

export interface LlmPrice {
  /** usd for this call; 0 when the model is unknown (and then `known` is false). */
  costUsd: number;
  /** False when neither the event nor the table could price the call. */
  known: boolean;
  /** Where the cost came from. */
  source: 'event' | 'table' | 'unknown';
  /** Table key that priced it (may be a prefix of a dated model name). */
  matched?: string;
}

/**
 * Finds a model's price: the exact name (case-insensitive), else the longest table key the name
 * starts with followed by `-`, `@` or `:` — so `gpt-4o-2024-08-06` prices as `gpt-4o` and
 * `claude-sonnet-4-5-20250929` as `claude-sonnet-4-5`, never as `claude-sonnet-4`.
 */
export function lookupPrice(model: string, table: PriceTable): { key: string; price: ModelPrice } | undefined {
  const name = model.toLowerCase();
  const exact = Object.hasOwn(table, name) ? table[name] : undefined;
  if (exact) return { key: name, price: exact };
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (name.length <= key.length || !name.startsWith(key)) continue;
    const sep = name[key.length];
    if ((sep === '-' || sep === '@' || sep === ':') && (best === undefined || key.length > best.length)) best = key;
  }
  const price = best === undefined ? undefined : table[best];
  return best !== undefined && price ? { key: best, price } : undefined;
}

/**
 * Prices one LLM call in usd. `cost_usd` on the event wins when present. Otherwise the table:
 * `cached_tokens` are taken as the part of `input_tokens` served from the prompt cache (the
 * OpenAI convention; clamped to `input_tokens`) and priced at the cached rate.
 */
export function priceLlmCall(llm: LlmUsage, table: PriceTable): LlmPrice {
  if (llm.cost_usd !== undefined) return { costUsd: llm.cost_usd, known: true, source: 'event' };
  const hit = lookupPrice(llm.model, table);
  if (!hit) return { costUsd: 0, known: false, source: 'unknown' };
  const { price } = hit;
  const cached = Math.min(llm.cached_tokens ?? 0, llm.input_tokens);
  const usd =
    ((llm.input_tokens - cached) * price.input_usd_per_mtok +
      cached * (price.cached_usd_per_mtok ?? price.input_usd_per_mtok) +
      llm.output_tokens * price.output_usd_per_mtok) /
    1_000_000;
  return { costUsd: usd, known: true, source: 'table', matched: hit.key };
}
