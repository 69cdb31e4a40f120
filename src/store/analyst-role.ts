import { createHash } from 'node:crypto';
import { supports, type ServerVersion } from './server-version.ts';
import { sqlIdentifier, sqlString } from './sql-literal.ts';
import type { Store } from './store.ts';

/** Shortest analyst password accepted (characters). */
export const MIN_ANALYST_PASSWORD = 12;

export interface AnalystRoleRequest {
  /** The user to create: a plain identifier. */
  user: string;
  password: string;
  /** The database the analyst may read. */
  database: string;
}

/** How a read-only analyst comes to exist on a given store. */
export type AnalystRolePlan =
  /** SQL users (20.5+): statements to run; the password travels only as its SHA-256. */
  | { kind: 'sql'; statements: string[] }
  /** Older servers (18.16): users live in users.xml; a snippet for the operator to install. */
  | { kind: 'users_xml'; path: string; snippet: string }
  /** The embedded store runs in process: it has no network users. */
  | { kind: 'unsupported'; reason: string };

/**
 * Plans a read-only analyst user: `SELECT` on the runwarden database and nothing else. On a
 * server with SQL access control (20.5+) that is `CREATE USER … IDENTIFIED WITH sha256_hash` and
 * `GRANT SELECT`; on 18.16 (no SQL users) a users.d file with the `readonly` profile and
 * `allow_databases`. The plaintext password never appears in a statement or the snippet.
 */
export function planAnalystRole(store: { kind: 'server' | 'embedded'; version: ServerVersion }, request: AnalystRoleRequest): AnalystRolePlan {
  const user = sqlIdentifier(request.user);
  const database = sqlIdentifier(request.database);
  if (request.password.length < MIN_ANALYST_PASSWORD) throw new RangeError(`the analyst password must be at least ${MIN_ANALYST_PASSWORD} characters`);
  const hash = createHash('sha256').update(request.password, 'utf8').digest('hex');
  if (store.kind === 'embedded') {
    return { kind: 'unsupported', reason: 'the embedded store (chdb) runs inside runwarden and has no network users: analysts use `runwarden sql`, or point CLICKHOUSE_URL at a server' };
  }
  if (supports(store.version, 'sql_users')) {
    return {
      kind: 'sql',
      statements: [
        // OR REPLACE: running it again sets the new password and drops any grant added by hand.
        `CREATE USER OR REPLACE ${user} IDENTIFIED WITH sha256_hash BY ${sqlString(hash)} SETTINGS readonly = 1`,
        `GRANT SELECT ON ${database}.* TO ${user}`,
      ],
    };
  }
  const snippet = [
    `<!-- runwarden analyst: read-only access to the ${database} database. Install as`,
    `     /etc/clickhouse-server/users.d/runwarden-${user}.xml; the server picks it up without a restart. -->`,
    '<yandex>',
    '  <users>',
    `    <${user}>`,
    `      <password_sha256_hex>${hash}</password_sha256_hex>`,
    '      <networks><ip>::/0</ip></networks>',
    '      <!-- the stock readonly profile: readonly = 1, so no INSERT, ALTER, DROP or SET -->',
    '      <profile>readonly</profile>',
    '      <quota>default</quota>',
    `      <allow_databases><database>${database}</database></allow_databases>`,
    `    </${user}>`,
    '  </users>',
    '</yandex>',
  ].join('\n');
  return { kind: 'users_xml', path: `/etc/clickhouse-server/users.d/runwarden-${user}.xml`, snippet };
}

/** Runs a `sql` plan's statements on the store (the caller reports the other kinds). */
export async function applyAnalystRole(store: Store, plan: AnalystRolePlan): Promise<void> {
  if (plan.kind !== 'sql') return;
  for (const statement of plan.statements) await store.exec(statement);
}
