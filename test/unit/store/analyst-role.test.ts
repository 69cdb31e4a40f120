import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { planAnalystRole } from '../../../src/store/analyst-role.ts';
import { parseServerVersion } from '../../../src/store/server-version.ts';

const PASSWORD = 'analyst-password-0123';
const HASH = createHash('sha256').update(PASSWORD).digest('hex');
const request = { user: 'analyst', password: PASSWORD, database: 'runwarden' };

describe('the read-only analyst user', () => {
  it.each(['20.5.1', '24.8.4.13', '26.1.2.1'])('ClickHouse %s: CREATE USER with the password hash, GRANT SELECT on the database only', (v) => {
    const plan = planAnalystRole({ kind: 'server', version: parseServerVersion(v) }, request);
    expect(plan).toEqual({
      kind: 'sql',
      statements: [`CREATE USER OR REPLACE analyst IDENTIFIED WITH sha256_hash BY '${HASH}' SETTINGS readonly = 1`, 'GRANT SELECT ON runwarden.* TO analyst'],
    });
  });

  it.each(['18.16.1', '19.17.6', '20.4.9'])('ClickHouse %s (no SQL users): a users.d snippet with the readonly profile and the database', (v) => {
    const plan = planAnalystRole({ kind: 'server', version: parseServerVersion(v) }, request);
    expect(plan.kind).toBe('users_xml');
    if (plan.kind !== 'users_xml') return;
    expect(plan.snippet).toContain(`<password_sha256_hex>${HASH}</password_sha256_hex>`);
    expect(plan.snippet).toContain('<profile>readonly</profile>');
    expect(plan.snippet).toContain('<allow_databases><database>runwarden</database></allow_databases>');
    expect(plan.path).toBe('/etc/clickhouse-server/users.d/runwarden-analyst.xml');
  });

  it('never puts the plaintext password anywhere, refuses short passwords and non-identifiers', () => {
    for (const v of ['18.16.1', '26.1.2.1']) expect(JSON.stringify(planAnalystRole({ kind: 'server', version: parseServerVersion(v) }, request))).not.toContain(PASSWORD);
    expect(() => planAnalystRole({ kind: 'server', version: parseServerVersion('26.1') }, { ...request, password: 'short' })).toThrow(/at least 12/);
    expect(() => planAnalystRole({ kind: 'server', version: parseServerVersion('26.1') }, { ...request, user: "x'; DROP" })).toThrow();
  });

  it('the embedded store has no network users', () => {
    expect(planAnalystRole({ kind: 'embedded', version: parseServerVersion('26.1') }, request).kind).toBe('unsupported');
  });
});
