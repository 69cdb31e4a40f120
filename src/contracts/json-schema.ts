import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { controlCommandSchema, CONTROL_SCHEMA_VERSION } from './control.ts';
import { findingSchema, FINDING_SCHEMA_VERSION } from './finding.ts';
import { attrsSchema, spanEventSchema, SPAN_SCHEMA_VERSION } from './span.ts';

/** File name (under `schemas/`) → JSON Schema document. */
export type JsonSchemas = Record<JsonSchemaFile, Record<string, unknown>>;
export type JsonSchemaFile = (typeof JSON_SCHEMA_FILES)[number];

export const JSON_SCHEMA_FILES = ['span.v1.schema.json', 'control.v1.schema.json', 'finding.v1.schema.json'] as const;

interface Contract {
  schema: z.ZodType;
  version: string;
  title: string;
  description: string;
}

const CONTRACTS: Record<JsonSchemaFile, Contract> = {
  'span.v1.schema.json': {
    schema: spanEventSchema,
    version: SPAN_SCHEMA_VERSION,
    title: 'runwarden span event v1',
    description:
      'One span event an agent publishes to the `agent.spans` topic (key = run_id), as JSON in UTF-8, at most 256 KiB. ' +
      '`ts` is epoch ms or an ISO-8601 date-time with a timezone. Events that fail this schema, carry an unknown `schema`, ' +
      'or a ts far in the future go to `agent.spans.dlq`. Unknown properties are ignored.',
  },
  'control.v1.schema.json': {
    schema: controlCommandSchema,
    version: CONTROL_SCHEMA_VERSION,
    title: 'runwarden control command v1',
    description:
      'A signed command on the `agent.control` topic. `signature` is the hex HMAC-SHA256, keyed by the shared secret, ' +
      'over the canonical JSON (keys sorted at every depth, no whitespace) of the command without `signature`. ' +
      'Guards reject unsigned, forged, expired and replayed commands.',
  },
  'finding.v1.schema.json': {
    schema: findingSchema,
    version: FINDING_SCHEMA_VERSION,
    title: 'runwarden finding v1',
    description:
      'What a detector saw, on the `runwarden.findings` topic. `ts` is the event time (epoch ms) of the event that ' +
      'triggered it; a control command names it in `reason.finding_id`.',
  },
};

/**
 * Builds the JSON Schemas (draft 2020-12) of the wire contracts from their zod schemas, input
 * side (what a producer writes: `ts` may be an ISO string), so producers in other languages can
 * validate before they publish. Deterministic: the same zod schemas give the same documents.
 */
export function buildJsonSchemas(): JsonSchemas {
  const out = {} as JsonSchemas;
  for (const file of JSON_SCHEMA_FILES) {
    const contract = CONTRACTS[file];
    const body = z.toJSONSchema(contract.schema, {
      target: 'draft-2020-12',
      io: 'input',
      // Refinements are invisible to JSON Schema; restate the ones a producer can check.
      override: (ctx) => {
        if (ctx.zodSchema === attrsSchema) ctx.jsonSchema.maxProperties = 64;
      },
    }) as Record<string, unknown>;
    const { $schema, ...rest } = body;
    out[file] = {
      $schema,
      $id: `urn:runwarden:schema:${file.replace(/\.schema\.json$/, '')}`,
      title: contract.title,
      description: `${contract.description} Wire version: "${contract.version}".`,
      ...rest,
    };
  }
  return out;
}

/** The file's bytes: pretty-printed (2 spaces) with a trailing newline, so diffs stay readable. */
export function formatJsonSchema(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/**
 * Writes every contract's JSON Schema into `dir` (created if missing); returns the paths written.
 * `runwarden schemas --write` calls it with `schemas`.
 */
export async function writeJsonSchemas(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const schemas = buildJsonSchemas();
  const written: string[] = [];
  for (const file of JSON_SCHEMA_FILES) {
    const path = join(dir, file);
    await writeFile(path, formatJsonSchema(schemas[file]));
    written.push(path);
  }
  return written;
}
