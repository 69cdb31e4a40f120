import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { controlCommandSchema } from '../../src/contracts/control.ts';
import { agentTrace, T0 } from '../support/otlp-agent-trace.ts';
import { otlpJson, recordSpans } from '../support/otlp-payload.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('runwarden replay --format otlp (the CLI, end to end)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('maps OTLP/JSON lines (the collector file exporter format) and aborts the looping run only', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rw-replay-otlp-'));
    const file = join(dir, 'traces.jsonl');
    const resource = { 'service.name': 'support-bot', 'tenant.id': 'acme', 'user.id': 'u-1' };
    const looping = await recordSpans(agentTrace({ toolCalls: 9 }), resource);
    const calm = await recordSpans(agentTrace({ toolCalls: 2, startMs: T0 + 60_000 }), resource);
    const text = (spans: typeof looping) => new TextDecoder().decode(otlpJson(spans));
    await writeFile(file, `${text(looping)}\n${text(calm)}\n{"resourceSpans": 3}\n`);

    const env = { ...process.env, RUNWARDEN_HMAC_KEYS: undefined, RUNWARDEN_POLICY: undefined, LOG_LEVEL: 'error' };
    const { stdout, stderr } = await run(process.execPath, ['bin/runwarden.js', 'replay', file, '--format', 'otlp'], { cwd: root, env });
    const commands = stdout.trim().split('\n').filter(Boolean).map((l) => controlCommandSchema.parse(JSON.parse(l)));
    const aborts = commands.filter((c) => c.action === 'abort');
    expect(aborts.map((c) => [c.scope.id, c.reason.detector])).toEqual([[looping[0]!.spanContext().traceId, 'tool-loop']]);
    expect(stderr).toMatch(/line 3: schema_violation: not an OTLP ExportTraceServiceRequest/);
    expect(stderr).toMatch(new RegExp(`otlp: ${looping.length + calm.length} spans, skipped not_gen_ai 2`));
  });

  it('refuses an unknown --format with exit code 2', async () => {
    await expect(run(process.execPath, ['bin/runwarden.js', 'replay', '-', '--format', 'zipkin'], { cwd: root })).rejects.toMatchObject({ code: 2 });
  });
});
