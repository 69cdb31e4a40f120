import { argsHash } from '../sdk/emitter.ts';
import type { AttrValue } from './attributes.ts';

/**
 * `args_hash` of a tool call from `gen_ai.tool.call.arguments`. The conventions carry the
 * arguments as a JSON string (or, since 2025, as a structured value): JSON is parsed first, so the
 * hash is the one the runwarden SDK gives the same arguments (equal in any key order); anything
 * else is hashed as the text it is. The raw arguments are never kept.
 */
export function hashToolArguments(args: AttrValue): string {
  if (typeof args === 'string') {
    try {
      return argsHash(JSON.parse(args) as unknown);
    } catch {
      return argsHash(args);
    }
  }
  return argsHash(args);
}
