import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { topicsEnv, topicsWithPrefix } from '../../src/config/env.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';

/** Issue 5 item 7: secrets never logged (captured from real runs of the CLI), and the analyst role. */
const root = fileURLToPath(new URL('../..', import.meta.url));
const SECRETS = {
  hmac: 'hmac-secret-Q7x9-0123456789',
  hmacOld: 'hmac-secret-old-Z3k1-012345',
  sasl: 'sasl-password-W4p8',
  clickhouse: 'ch-password-R2m5',
  url: 'url-password-T6n3',
  analyst: 'analyst-password-Y1v0',
};
const databases: string[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `runwarden <args>` with `env` (on top of PATH/HOME only); SIGTERM once stderr matches `stopWhen`. */
function runwarden(args: string[], env: Record<string, string>, options: { stopWhen?: RegExp; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/runwarden.js', ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!signalled && options.stopWhen?.test(stderr)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectNoSecret(run: Run, what: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    expect(run.stderr, `${what}: ${name} in stderr`).not.toContain(secret);
    expect(run.stdout, `${what}: ${name} in stdout`).not.toContain(secret);
  }
}

const secretEnv = {
  RUNWARDEN_HMAC_KEYS: `k2:${SECRETS.hmac},k1:${SECRETS.hmacOld}`,
  RUNWARDEN_HMAC_ACTIVE_KEY: 'k2',
  RUNWARDEN_HMAC_RETIRED_KEYS: 'k1:2099-01-01T00:00:00Z',
};

describe('no secret ever logged, and the analyst role (real CLI runs)', () => {
  afterAll(async () => {
    const store = await createServerStore({ url: clickhouseUrl(), database: 'default' });
    for (const db of databases) await store.exec(`DROP DATABASE IF EXISTS ${db}`);
    await store.close();
  });

  it('a configuration error with every secret set', async () => {
    const run = await runwarden(['start'], {
      ...secretEnv,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'rw',
      KAFKA_SASL_PASSWORD: SECRETS.sasl,
      CLICKHOUSE_URL: `http://rw:${SECRETS.url}@127.0.0.1:1`,
      CLICKHOUSE_PASSWORD: SECRETS.clickhouse,
      LOG_LEVEL: 'loud',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('LOG_LEVEL');
    expectNoSecret(run, 'config error');
  });

  it('ClickHouse refusing credentials given in the URL and in CLICKHOUSE_PASSWORD', async () => {
    const run = await runwarden(['migrate'], { ...secretEnv, CLICKHOUSE_URL: `http://default:${SECRETS.url}@${new URL(clickhouseUrl()).host}`, CLICKHOUSE_PASSWORD: SECRETS.clickhouse, LOG_LEVEL: 'trace' });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('cannot open ClickHouse');
    expectNoSecret(run, 'ClickHouse auth failure');
  });

  it('Kafka refusing a SASL handshake, at debug level', async () => {
    const database = uniqueName('rw_sec');
    databases.push(database);
    const run = await runwarden(['start', '--stages', 'ingest'], {
      ...secretEnv,
      ...topicsEnv(topicsWithPrefix(uniqueName('sec'))),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'rw',
      KAFKA_SASL_PASSWORD: SECRETS.sasl,
      CLICKHOUSE_URL: clickhouseUrl(),
      CLICKHOUSE_DATABASE: database,
      LOG_LEVEL: 'debug',
    });
    expect(run.code).toBe(3);
    expect(run.stderr.length).toBeGreaterThan(100);
    expectNoSecret(run, 'SASL failure');
  });

  it('a normal start and SIGTERM shutdown at debug level with every secret set', async () => {
    const database = uniqueName('rw_sec');
    databases.push(database);
    const run = await runwarden(['start', '--stages', 'ingest,detect', '--heartbeat-ms', '500'], {
      ...secretEnv,
      ...topicsEnv(topicsWithPrefix(uniqueName('sec'))),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      CLICKHOUSE_URL: clickhouseUrl(),
      CLICKHOUSE_DATABASE: database,
      LOG_LEVEL: 'debug',
    }, { stopWhen: /pipeline consumer started/ });
    expect(run.stderr).toContain('pipeline consumer started');
    expect(run.stderr).toContain('pipeline consumer stopped');
    expectNoSecret(run, 'start/stop');
  });

  it('analyst role on ClickHouse 18.16: the users.d snippet to install (no SQL users before 20.5), password only as its hash', async () => {
    const database = uniqueName('rw_sec');
    databases.push(database);
    const run = await runwarden(['migrate', '--analyst-user', 'rw_analyst'], { CLICKHOUSE_URL: clickhouseUrl(), CLICKHOUSE_DATABASE: database, RUNWARDEN_ANALYST_PASSWORD: SECRETS.analyst });
    expect(run.code).toBe(0);
    const version = /migrated server ClickHouse (\d+)\.(\d+)/.exec(run.stderr);
    expect(version).not.toBeNull();
    if (Number(version?.[1]) < 20) {
      expect(run.stderr).toContain('has no SQL users');
      expect(run.stdout).toContain('<profile>readonly</profile>');
      expect(run.stdout).toContain(`<allow_databases><database>${database}</database></allow_databases>`);
    } else {
      expect(run.stderr).toContain('created read-only user rw_analyst');
    }
    expectNoSecret(run, 'analyst role');
  });

  it('analyst role on the embedded store: refused with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rw-sec-'));
    try {
      const run = await runwarden(['migrate', '--analyst-user', 'rw_analyst', '--analyst-password', SECRETS.analyst], { RUNWARDEN_DATA_DIR: dir });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('no network users');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
