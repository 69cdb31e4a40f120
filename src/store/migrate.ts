import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { StoreError } from './errors.ts';
import { renderSql, splitStatements } from './render-sql.ts';
import type { Store } from './store.ts';

/** sql/migrations at the repository root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/migrations/', import.meta.url));

/** `NNN_name.sql`: applied in numeric order, recorded by name. */
const MIGRATION_FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

export interface MigrateOptions {
  /** Folder of migration templates (default: sql/migrations). */
  dir?: string;
  /** Wall clock for `applied_at_ms` (injected for tests). */
  now?: () => number;
}

export interface MigrateResult {
  /** Migrations run now, in order. */
  applied: string[];
  /** Migrations found already recorded in schema_migrations. */
  skipped: string[];
}

/** A migration file changed after it was applied: write a new migration instead. */
export class MigrationChangedError extends StoreError {
  constructor(name: string) {
    super(`migration ${name} changed after it was applied; add a new migration instead of editing it`, { retriable: false });
  }
}

const appliedRow = z.object({ name: z.string(), checksum: z.string() });

/**
 * Brings the store's database up to date: creates the database when missing, then applies every
 * migration not yet recorded in `schema_migrations`, rendering each for the server's version
 * (render-sql.ts). Idempotent: a second run applies nothing. Each migration is itself idempotent
 * (IF NOT EXISTS), so two processes migrating at once, or a crash between a migration and its
 * record, only repeat harmless statements.
 */
export async function migrate(store: Store, options: MigrateOptions = {}): Promise<MigrateResult> {
  const dir = options.dir ?? MIGRATIONS_DIR;
  const now = options.now ?? Date.now;
  await store.ensureDatabase();
  await store.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name String, checksum String, applied_at_ms UInt64) ' +
      'ENGINE = ReplacingMergeTree ORDER BY name',
  );
  const recorded = new Map(
    (await store.query('SELECT name, checksum FROM schema_migrations FINAL', appliedRow)).map((r) => [r.name, r.checksum]),
  );
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const file of files) {
    const name = file.replace(/\.sql$/, '');
    const template = await readFile(join(dir, file), 'utf8');
    const checksum = createHash('sha256').update(template).digest('hex');
    const previous = recorded.get(name);
    if (previous !== undefined) {
      if (previous !== checksum) throw new MigrationChangedError(name);
      result.skipped.push(name);
      continue;
    }
    for (const statement of splitStatements(renderSql(template, store.version))) await store.exec(statement);
    await store.insert('schema_migrations', [{ name, checksum, applied_at_ms: now() }]);
    result.applied.push(name);
  }
  return result;
}
