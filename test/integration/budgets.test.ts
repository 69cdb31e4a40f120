import { topicsEnv, topicsWithPrefix } from '../../src/config/env.ts';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBudgetJob } from '../../src/budgets/budget-job.ts';
import { BUDGETS_DEFAULTS, type BudgetsPolicy } from '../../src/budgets/budgets-policy.ts';
import { createKafkaPublisher } from '../../src/budgets/kafka-publisher.ts';
import { budgetPeriods, DAY_MS } from '../../src/budgets/periods.ts';
import { readBudgetInputs } from '../../src/budgets/queries.ts';
import { controlCommandSchema } from '../../src/contracts/control.ts';
import { findingSchema } from '../../src/contracts/finding.ts';
import { spanEventSchema } from '../../src/contracts/span.ts';
import { verifyCommand, type KeyRing } from '../../src/control/sign.ts';
import { createKafka, createReliableProducer } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { DEFAULT_PRICE_TABLE } from '../../src/pricing/price-table.ts';
import { migrate } from '../../src/store/migrate.ts';
import { spanToRow } from '../../src/store/rows.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { readTopicToEnd } from '../support/read-topic.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { storeEngines } from '../support/store-engines.ts';
import { spawnWarden, until } from '../support/warden-process.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: 'budgets-integration-secret-0123' } };

/**
 * A month of spend worked out by hand. The check runs on the 21st of the current UTC month at
 * 12:00 (recent on purpose: servers with TTL drop spans older than 90 days as they are inserted).
 *
 *   day  tenant/user          usd                       note
 *   prev acme/u1              100                       the last millisecond of last month: not this month's
 *    2   acme/u1              3
 *   14   globex/u3            1
 *   15   globex/u3            1
 *   16   globex/u3            1
 *   17   globex/u3            0 (a tool call)           a day with events but no spend is history at $0
 *   20   acme/u2              3.2
 *   21   acme/u1              2.5 (priced from table)   + 2 calls of the unknown "mystery-llm" at $0,
 *        globex/u1            1                           + a gpt-4o call that reported cost_usd 0
 *
 * Month to date: acme 8.7 (limit 8 → monthly_100 + throttle), globex 4 (no limit); users u1 6.5
 * (default 4 → monthly_100 + throttle), u2 3.2 (80 % → monthly_75), u3 3 (limit 100 → nothing).
 * Daily: the 20th (3.2) against the mean of the 14th–17th (0.75) → spike above 1.125; the 21st
 * (3.5) against the 14th–20th (6.2 / 5 = 1.24) → spike above 1.86. Unknown: mystery-llm, 2 calls.
 */
const now = new Date();
const YEAR = now.getUTCFullYear();
const MONTH = now.getUTCMonth();
const NOW = Date.UTC(YEAR, MONTH, 21, 12);
const MONTH_START = Date.UTC(YEAR, MONTH, 1);
const DAY = (d: number) => Math.floor(Date.UTC(YEAR, MONTH, d) / DAY_MS);
const LABEL = (d: number) => new Date(Date.UTC(YEAR, MONTH, d)).toISOString().slice(0, 10);
const MONTH_LABEL = new Date(NOW).toISOString().slice(0, 7);

const POLICY: BudgetsPolicy = { ...BUDGETS_DEFAULTS, monthly_usd: { tenants: { acme: 8 }, users: { u3: 100 }, user_default: 4 } };

let sequence = 0;
function span(ts: number, tenant: string, user: string, fields: Record<string, unknown>, priced?: number) {
  sequence += 1;
  const event = spanEventSchema.parse({
    schema: 'runwarden.span/v1',
    event_id: `e${sequence}`,
    ts,
    run_id: `run-${tenant}-${user}-${ts}`,
    span_id: `s${sequence}`,
    agent_id: tenant === 'acme' ? 'support-bot' : 'research-bot',
    tenant_id: tenant,
    user_id: user,
    ...fields,
  });
  return spanToRow(event, { partition: 0, offset: sequence, ingestedAtMs: NOW, ...(priced !== undefined ? { pricedCostUsd: priced } : {}) });
}
const at = (day: number, minute = 0) => Date.UTC(YEAR, MONTH, day, 10, minute);
const llm = (model: string, cost?: number) => ({ kind: 'llm_call', llm: { model, input_tokens: 100, output_tokens: 10, ...(cost !== undefined ? { cost_usd: cost } : {}) } });

const SEED = [
  span(MONTH_START - 1, 'acme', 'u1', llm('gpt-4o', 100)),
  span(MONTH_START - 1, 'acme', 'u1', llm('mystery-llm')),
  span(at(2), 'acme', 'u1', llm('gpt-4o', 3)),
  span(at(14), 'globex', 'u3', llm('gpt-4o', 1)),
  span(at(15), 'globex', 'u3', llm('gpt-4o', 1)),
  span(at(16), 'globex', 'u3', llm('gpt-4o', 1)),
  span(at(17), 'globex', 'u3', { kind: 'tool_call', tool: { name: 'search', status: 'ok' } }),
  span(at(20), 'acme', 'u2', llm('gpt-4o', 3.2)),
  span(at(21, 1), 'acme', 'u1', llm('gpt-4o-mini'), 2.5),
  span(at(21, 2), 'acme', 'u1', llm('mystery-llm')),
  span(at(21, 3), 'acme', 'u1', llm('mystery-llm')),
  span(at(21, 4), 'acme', 'u1', llm('gpt-4o', 0)),
  span(at(21, 5), 'globex', 'u1', llm('gpt-4o', 1)),
];

/** Seeds twice (a replay with a later ingest time): every sum must still count each event once. */
async function seed(store: Store): Promise<void> {
  await store.insert('spans', SEED);
  await store.insert('spans', SEED.map((r) => ({ ...r, ingested_at_ms: NOW + 60_000 })));
}

const engines = storeEngines('rw_budget');

const summary = (f: z.infer<typeof findingSchema>) => [f.rule, `${f.scope.kind}:${f.scope.id}`, f.observed, f.threshold, f.baseline ?? null];

const EXPECTED_FINDINGS = [
  ['monthly_100', 'tenant:acme', 8.7, 8, null],
  ['monthly_100', 'user:u1', 6.5, 4, null],
  ['monthly_75', 'user:u2', 3.2, 3, null],
  ['daily_product_spike', 'global:*', 3.2, 1.125, 0.75],
  ['daily_product_spike', 'global:*', 3.5, 1.86, 1.24],
  ['unknown_model', 'cohort:model=mystery-llm', 2, 0, null],
];

describe.each(engines)('budget queries and check ($name)', ({ open }) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeEach(async () => {
    ({ store, dispose } = await open());
    await migrate(store);
    await seed(store);
  });

  afterEach(async () => {
    await dispose();
  });

  it('reads month-to-date spend, daily spend and unpriced calls exactly, in UTC periods, under duplicates', async () => {
    // The replayed copies are really stored (separate parts): the queries must collapse them.
    const [stored] = await store.query('SELECT count() AS n FROM spans', z.object({ n: z.coerce.number() }));
    expect(stored?.n).toBe(2 * SEED.length);
    const inputs = await readBudgetInputs(store, POLICY, budgetPeriods(NOW, 7));
    // acme is listed; globex has no limit and no default, so it is not even read.
    expect([...inputs.monthly.tenants]).toEqual([['acme', 8.7]]);
    expect(new Map(inputs.monthly.users)).toEqual(new Map([['u1', 6.5], ['u2', 3.2], ['u3', 3]]));
    expect(new Map(inputs.days)).toEqual(
      new Map([
        [DAY(14), { events: 1, usd: 1 }],
        [DAY(15), { events: 1, usd: 1 }],
        [DAY(16), { events: 1, usd: 1 }],
        [DAY(17), { events: 1, usd: 0 }],
        [DAY(20), { events: 1, usd: 3.2 }],
        [DAY(21), { events: 5, usd: 3.5 }],
      ]),
    );
    // Only the checked days, and only calls stored unpriced at $0 (the gpt-4o call reported 0 itself: the check drops it).
    expect([...inputs.unpriced].sort((a, b) => a.model.localeCompare(b.model))).toEqual([
      { model: 'gpt-4o', day: DAY(21), calls: 1, inputTokens: 100, outputTokens: 10, agents: ['support-bot'] },
      { model: 'mystery-llm', day: DAY(21), calls: 2, inputTokens: 200, outputTokens: 20, agents: ['support-bot'] },
    ]);
    expect(inputs.fired).toEqual(new Set());
  });

  it('a check fires each crossing once; what fired is read back from the findings table', async () => {
    const job = () =>
      createBudgetJob({ store, policy: POLICY, priceTable: DEFAULT_PRICE_TABLE, now: () => NOW, output: { keyRing, publish: async () => undefined } });
    const first = await job().run();
    expect(first.findings.map(summary)).toEqual(EXPECTED_FINDINGS);
    expect(first.findings[0]?.details).toMatchObject({ month: MONTH_LABEL, limit_usd: 8, limit_from: 'budgets.monthly_usd.tenants.acme' });
    expect(first.daily.map((d) => [d.day, d.verdict, d.historyDays])).toEqual([
      [LABEL(20), 'spike', 4],
      [LABEL(21), 'spike', 5],
    ]);
    const again = await job().run();
    expect(again.findings).toEqual([]);
    expect(again.alreadyFired).toBe(EXPECTED_FINDINGS.length);
  });
});

describe('budgets on the real broker and ClickHouse', () => {
  let kafka: Kafka;
  let store: Store;
  const database = uniqueName('rw_budget_k');

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-budget-test', ssl: false });
    store = await createServerStore({ url: clickhouseUrl(), database });
    await migrate(store);
    await seed(store);
  });

  afterAll(async () => {
    await store.exec(`DROP DATABASE IF EXISTS ${database}`);
    await store.close();
  });

  it('sends the findings and signed throttles, audits them, and a second check sends nothing new', async () => {
    const id = uniqueName('budget');
    const topics = topicsWithPrefix(id);
    await ensureTopics(kafka, defaultTopicSpecs(topics, 2));
    const producer = createReliableProducer(kafka);
    await producer.connect();
    try {
      const job = createBudgetJob({
        store,
        policy: POLICY,
        priceTable: DEFAULT_PRICE_TABLE,
        now: () => NOW,
        output: { keyRing, publish: createKafkaPublisher(producer, topics) },
      });
      const first = await job.run();
      expect(first.findings.map(summary)).toEqual(EXPECTED_FINDINGS);

      const findings = (await readTopicToEnd(kafka, topics.findings, 30_000)).map((m) => findingSchema.parse(JSON.parse(m.value.toString())));
      expect(findings.map(summary).sort()).toEqual([...EXPECTED_FINDINGS].sort());
      const commands = (await readTopicToEnd(kafka, topics.control, 30_000)).map((m) => JSON.parse(m.value.toString()) as unknown);
      expect(commands.map((c) => verifyCommand(c, keyRing, NOW).ok)).toEqual([true, true]);
      const throttles = commands.map((c) => controlCommandSchema.parse(c));
      expect(throttles.map((c) => [c.action, `${c.scope.kind}:${c.scope.id}`, c.reason.rule, c.expires_at, c.throttle]).sort()).toEqual([
        ['throttle', 'tenant:acme', 'monthly_100', Date.UTC(YEAR, MONTH + 1, 1), { max_llm_calls_per_minute: 10 }],
        ['throttle', 'user:u1', 'monthly_100', Date.UTC(YEAR, MONTH + 1, 1), { max_llm_calls_per_minute: 10 }],
      ]);

      const auditRow = z.object({ id: z.string(), rule: z.string() });
      const audited = await store.query("SELECT finding_id AS id, rule FROM findings FINAL WHERE detector = 'budget' ORDER BY id", auditRow);
      expect(audited.map((r) => r.id)).toEqual(first.findings.map((f) => f.finding_id).sort());
      const auditedCommands = await store.query(
        "SELECT command_id AS id, reason_rule AS rule FROM control_commands FINAL WHERE source = 'scheduler' ORDER BY id",
        auditRow,
      );
      expect(auditedCommands.map((r) => r.id)).toEqual(throttles.map((c) => c.command_id).sort());

      // A restarted scheduler (a new job) reads what fired from the table and sends nothing.
      const restarted = createBudgetJob({
        store,
        policy: POLICY,
        priceTable: DEFAULT_PRICE_TABLE,
        now: () => NOW + 5 * 60_000,
        output: { keyRing, publish: createKafkaPublisher(producer, topics) },
      });
      const second = await restarted.run();
      expect(second.findings).toEqual([]);
      expect(second.commands).toEqual([]);
      expect(await readTopicToEnd(kafka, topics.findings, 30_000)).toHaveLength(EXPECTED_FINDINGS.length);
      expect(await readTopicToEnd(kafka, topics.control, 30_000)).toHaveLength(2);
    } finally {
      await producer.disconnect();
    }
  });

  describe('from the command line', () => {
    const cliDb = uniqueName('rw_budget_cli');
    const id = uniqueName('budgetcli');
    const topics = topicsWithPrefix(id);
    let dir: string;
    let cliStore: Store;
    let env: Record<string, string | undefined>;

    /** Spend at the real clock: the CLI checks the current month. */
    const nowish = () => Math.max(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1), Date.now() - 60_000);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rw-budget-cli-'));
      const policyPath = join(dir, 'policy.yaml');
      await writeFile(policyPath, 'budgets:\n  monthly_usd:\n    tenants: { cli-acme: 10, cli-globex: 10 }\n  daily_product: { enabled: false }\n');
      env = {
        ...process.env,
        CLICKHOUSE_URL: clickhouseUrl(),
        CLICKHOUSE_DATABASE: cliDb,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        ...topicsEnv(topics),
        RUNWARDEN_HMAC_KEYS: `k1:${keyRing.keys['k1']}`,
        RUNWARDEN_POLICY: policyPath,
        LOG_LEVEL: 'warn',
      };
      cliStore = await createServerStore({ url: clickhouseUrl(), database: cliDb });
      await migrate(cliStore);
      await cliStore.insert('spans', [span(nowish(), 'cli-acme', 'cli-u1', llm('gpt-4o', 12))]);
    });

    afterAll(async () => {
      await cliStore.exec(`DROP DATABASE IF EXISTS ${cliDb}`);
      await cliStore.close();
      await rm(dir, { recursive: true, force: true });
    });

    const cli = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, ['bin/runwarden.js', ...args], { cwd: root, env });
      return stdout;
    };
    const checkJson = z.object({
      dry_run: z.boolean(),
      findings: z.array(findingSchema),
      commands: z.array(z.object({ action: z.string(), scope: z.object({ id: z.string() }) })),
    });
    const budgetFindings = async () =>
      (await cliStore.query("SELECT scope_id AS id FROM findings FINAL WHERE detector = 'budget' ORDER BY id", z.object({ id: z.string() }))).map((r) => r.id);

    it('`budgets check` fires once and exits 0; --dry-run reports without sending or writing', async () => {
      const dry = checkJson.parse(JSON.parse(await cli('budgets', 'check', '--json', '--dry-run')));
      expect(dry).toMatchObject({ dry_run: true, commands: [{ action: 'throttle', scope: { id: 'cli-acme' } }] });
      expect(dry.findings.map((f) => [f.rule, f.scope.id])).toEqual([['monthly_100', 'cli-acme']]);
      expect(await budgetFindings()).toEqual([]);

      const first = checkJson.parse(JSON.parse(await cli('budgets', 'check', '--json')));
      expect(first.dry_run).toBe(false);
      expect(first.findings.map((f) => [f.rule, f.scope.id, f.details?.['month']])).toEqual([['monthly_100', 'cli-acme', new Date().toISOString().slice(0, 7)]]);
      expect(await budgetFindings()).toEqual(['cli-acme']);
      expect(await readTopicToEnd(kafka, topics.control, 30_000)).toHaveLength(1);

      const text = await cli('budgets', 'check');
      expect(text).toMatch(/^budget check at .* UTC \(month \d{4}-\d{2}\): 0 new findings, 0 throttles sent; 1 fired by earlier checks, not repeated\n$/);
    });

    it('`start --stages budgets` checks at once on start, then stops cleanly on SIGTERM', async () => {
      await cliStore.insert('spans', [span(nowish(), 'cli-globex', 'cli-u2', llm('gpt-4o', 20))]);
      const warden = spawnWarden(['start', '--stages', 'budgets'], env);
      const exited = new Promise<number | null>((r) => warden.once('exit', (code) => r(code)));
      try {
        await until('the budget finding of cli-globex', async () => (await budgetFindings()).includes('cli-globex'), 60_000);
      } finally {
        warden.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      expect(await budgetFindings()).toEqual(['cli-acme', 'cli-globex']);
      expect(await readTopicToEnd(kafka, topics.control, 30_000)).toHaveLength(2);
    });
  });
});
