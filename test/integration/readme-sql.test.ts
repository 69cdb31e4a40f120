import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { migrate } from '../../src/store/migrate.ts';
import type { Store } from '../../src/store/store.ts';
import { storeEngines } from '../support/store-engines.ts';
import { seedCommandRows, seedDlqRows, seedFindingRows, seedSpanRows } from '../support/store-seed.ts';

/** Every statement of the README's ```sql blocks, with the `-- question` comment above it. */
function readmeStatements(): Array<{ question: string; sql: string }> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  return blocks.flatMap((block) =>
    block
      .split(/;\s*\n/)
      .map((chunk) => chunk.trim())
      .filter((chunk) => chunk.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('--')))
      .map((chunk) => ({ question: chunk.split('\n').find((l) => l.startsWith('--'))?.slice(3) ?? chunk.slice(0, 60), sql: chunk.replace(/;\s*$/, '') })),
  );
}

const statements = readmeStatements();

describe.each(storeEngines('rw_readme'))('README SQL cookbook ($name)', ({ open }) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await open());
    await migrate(store);
    await store.insert('spans', seedSpanRows());
    await store.insert('findings', seedFindingRows());
    await store.insert('control_commands', seedCommandRows());
    await store.insert('dlq_events', seedDlqRows());
  });

  afterAll(async () => {
    await dispose();
  });

  it('has the cookbook', () => {
    expect(statements.length).toBeGreaterThanOrEqual(8);
  });

  it.each(statements)('$question', async ({ sql }) => {
    // Runs as printed (unqualified tables resolve to the store's database); the seed's rows are
    // days old, so "this month" or "today" may be empty: the statement must run, on both engines.
    await expect(store.query(sql, z.record(z.string(), z.unknown()))).resolves.toBeInstanceOf(Array);
  });
});
