import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  JSON_SCHEMA_FILES,
  buildJsonSchemas,
  formatJsonSchema,
  writeJsonSchemas,
} from '../../../src/contracts/json-schema.ts';
import { SPAN_KINDS } from '../../../src/contracts/span.ts';
import { isoWithOffset, offsetArb } from './arbitraries.ts';

const SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

type Schema = Record<string, unknown>;
const props = (s: unknown) => (s as { properties: Record<string, Schema> }).properties;

describe('JSON Schemas of the wire contracts', () => {
  const schemas = buildJsonSchemas();

  it('the checked-in schemas/ match a fresh generation', async () => {
    const onDisk = (await readdir(SCHEMAS_DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(onDisk, 'schemas/ is stale: run `npm run schemas`').toEqual([...JSON_SCHEMA_FILES].sort());
    for (const file of JSON_SCHEMA_FILES) {
      const text = await readFile(join(SCHEMAS_DIR, file), 'utf8');
      expect(text, 'schemas/ is stale: run `npm run schemas`').toBe(formatJsonSchema(schemas[file]));
    }
  });

  it('generation is deterministic', () => {
    expect(JSON.stringify(buildJsonSchemas())).toBe(JSON.stringify(schemas));
  });

  it.each(JSON_SCHEMA_FILES.map((f) => [f]))('%s declares draft 2020-12, a unique $id, a title and a description', (file) => {
    const schema = schemas[file];
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toMatch(/^urn:runwarden:schema:/);
    expect(typeof schema.title).toBe('string');
    expect(String(schema.description)).toMatch(/Wire version: "runwarden\.\w+\/v1"/);
  });

  it('ids are unique', () => {
    const ids = JSON_SCHEMA_FILES.map((f) => schemas[f].$id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  describe('span.v1: the producer (input) side', () => {
    const span = schemas['span.v1.schema.json'];
    const branches = span.oneOf as Schema[];

    it('has one branch per kind, each requiring the common fields', () => {
      expect(branches.map((b) => props(b).kind?.const)).toEqual([...SPAN_KINDS]);
      for (const branch of branches) {
        expect(branch.required).toEqual(
          expect.arrayContaining(['schema', 'event_id', 'ts', 'run_id', 'span_id', 'agent_id', 'tenant_id', 'user_id', 'kind']),
        );
        expect(props(branch).event_id).toMatchObject({ minLength: 1, maxLength: 64 });
        expect(props(branch).run_id).toMatchObject({ maxLength: 128 });
        // Unknown properties are allowed, so adding a field is not a breaking change.
        expect(branch.additionalProperties).toBeUndefined();
      }
    });

    it('ts is either epoch ms (integer ≥ 0) or an ISO-8601 date-time', () => {
      const ts = props(branches[0]).ts as { anyOf: Schema[] };
      expect(ts.anyOf).toEqual([
        expect.objectContaining({ type: 'integer', minimum: 0 }),
        expect.objectContaining({ type: 'string', format: 'date-time' }),
      ]);
    });

    it('the ts pattern accepts every ISO-8601 form the decoder accepts', () => {
      const ts = props(branches[0]).ts as { anyOf: Array<{ pattern?: string }> };
      const pattern = new RegExp(ts.anyOf[1]?.pattern ?? '(?!)', 'u');
      fc.assert(
        fc.property(fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) }), offsetArb, (ms, offset) => {
          expect(isoWithOffset(ms, offset)).toMatch(pattern);
        }),
      );
      for (const bad of ['2026-01-15T11:00:00', '2026-01-15', '2026-01-15T11:00:00+0530']) expect(bad).not.toMatch(pattern);
    });

    it('restates the refinements a producer can check: at most 64 attrs of ≤ 256 characters', () => {
      expect(props(branches[0]).attrs).toMatchObject({
        type: 'object',
        maxProperties: 64,
        additionalProperties: { type: 'string', maxLength: 256 },
      });
    });
  });

  it('control.v1 requires a lowercase hex signature', () => {
    const control = schemas['control.v1.schema.json'];
    expect(control.required).toEqual(expect.arrayContaining(['schema', 'command_id', 'issued_at', 'action', 'scope', 'reason', 'signature']));
    expect(props(control).signature).toMatchObject({ type: 'string', pattern: '^[0-9a-f]{64}$' });
  });

  it('finding.v1 lists the detectors', () => {
    const finding = schemas['finding.v1.schema.json'];
    expect(props(finding).detector?.enum).toEqual(['step-cap', 'tool-loop', 'cost-spike', 'judge-drift', 'budget', 'kill-switch']);
  });

  it('writeJsonSchemas writes pretty-printed files with a trailing newline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'runwarden-schemas-'));
    try {
      const written = await writeJsonSchemas(join(dir, 'nested'));
      expect(written.map((p) => p.slice(dir.length + 1))).toEqual(JSON_SCHEMA_FILES.map((f) => join('nested', f)));
      for (const file of JSON_SCHEMA_FILES) {
        const text = await readFile(join(dir, 'nested', file), 'utf8');
        expect(text.endsWith('}\n')).toBe(true);
        expect(text).toBe(`${JSON.stringify(schemas[file], null, 2)}\n`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
