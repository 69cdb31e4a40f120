import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlCommandSchema } from '../../src/contracts/control.ts';
import { findingSchema } from '../../src/contracts/finding.ts';
import { quietFleet, withCostSpike, withVersionChange } from '../support/cohort-fleet.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** `runwarden replay` as a user runs it: a real process, no Kafka or ClickHouse, no HMAC keys set. */
async function replay(file: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, RUNWARDEN_HMAC_KEYS: undefined, RUNWARDEN_POLICY: undefined, LOG_LEVEL: 'error' };
  return run(process.execPath, ['bin/runwarden.js', 'replay', file, ...args], { cwd: root, env, maxBuffer: 64 * 1024 * 1024 });
}

describe('runwarden replay (the CLI, end to end)', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rw-replay-'));
    file = join(dir, 'fleet.jsonl');
    const events = withCostSpike(withVersionChange(quietFleet(1_200, 7), 15, 0.15), 25);
    await writeFile(file, `${events.map((e) => JSON.stringify(e)).join('\n')}\n{not json\n`);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('interleaves per-run and cohort findings with their commands, byte-identical run to run, and counts them on stderr', async () => {
    const first = await replay(file, '--findings');
    const second = await replay(file, '--findings');
    expect(second.stdout).toBe(first.stdout);

    const lines = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as { schema: string });
    const findings = lines.filter((l) => l.schema === 'runwarden.finding/v1').map((l) => findingSchema.parse(l));
    const commands = lines.filter((l) => l.schema === 'runwarden.control/v1').map((l) => controlCommandSchema.parse(l));
    const cohortFindings = findings.filter((f) => f.detector === 'cost-spike' || f.detector === 'judge-drift');
    expect(cohortFindings.map((f) => f.rule)).toEqual(expect.arrayContaining(['spend_spike', 'llm_rate', 'version_drop']));
    const throttles = commands.filter((c) => c.action === 'throttle');
    expect(throttles.map((c) => c.reason.rule).sort()).toEqual(['llm_rate', 'spend_spike']);
    expect(commands.some((c) => c.reason.detector === 'judge-drift')).toBe(false);
    // Each command right after the finding it names.
    lines.forEach((l, i) => {
      if (l.schema !== 'runwarden.control/v1') return;
      const before = lines[i - 1] as { schema: string; finding_id?: string } | undefined;
      expect(before?.finding_id).toBe(controlCommandSchema.parse(l).reason.finding_id);
    });

    expect(first.stderr).toMatch(/bad \(invalid_json 1\)/);
    expect(first.stderr).toMatch(/cost-spike\/spend_spike 1/);
    expect(first.stderr).toMatch(/judge-drift\/version_drop \d+/);
    expect(first.stderr).toMatch(/commands: .*throttle 2/);
    expect(first.stderr).toMatch(/cohorts: \d+ partials, \d+ detector states live, 0 dropped as idle/);
  });
});
