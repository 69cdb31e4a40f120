import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicsEnv, topicsWithPrefix } from '../../src/config/env.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../src/kafka/topics.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import { clickhouseUrl, kafkaBrokers, uniqueName } from '../support/services.ts';
import { spawnWarden, until } from '../support/warden-process.ts';

// `runwarden start` as an operator runs it: /metrics, /healthz and /readyz on its metrics port,
// and an alerts stage posting a real finding from Kafka to a webhook (here a local HTTP server
// that fails the first delivery, so the retry is exercised too).

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of one sample line of the Prometheus text, e.g. `runwarden_dlq_messages_total{reason="invalid_json"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

interface Received {
  status: number;
  body: { text: string; blocks: unknown[] };
}

describe('runwarden start: metrics, health, readiness and alert sinks', () => {
  const id = uniqueName('ops');
  const topics = topicsWithPrefix(id);
  const database = uniqueName('rw_ops');
  const dir = mkdtempSync(join(tmpdir(), 'rw-ops-'));
  const received: Received[] = [];
  let kafka: Kafka;
  let webhook: Server;
  let warden: ChildProcess;
  let base: string;
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, text: await res.text() };
  };
  const metrics = async () => (await get('/metrics')).text;

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'rw-test', ssl: false });
    await ensureTopics(kafka, defaultTopicSpecs(topics, 2));
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        // The first delivery fails with a 503: the sink must retry it.
        const status = received.length === 0 ? 503 : 200;
        received.push({ status, body: JSON.parse(body) as Received['body'] });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      ['alerts:', '  sinks:', '    - name: test-hook', '      type: webhook', '      url: ${TEST_WEBHOOK_URL}', '      min_severity: critical', '      detectors: [tool-loop]', ''].join('\n'),
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    warden = spawnWarden(['start', '--stages', 'ingest,detect,alerts', '--group-prefix', id, '--policy', policy, '--metrics-port', String(port)], {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      CLICKHOUSE_URL: clickhouseUrl(),
      CLICKHOUSE_DATABASE: database,
      ...topicsEnv(topics),
      RUNWARDEN_HMAC_KEYS: 'k1:ops-test-secret-0123456789',
      TEST_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`,
      LOG_LEVEL: 'warn',
    });
    // The alerts stage reads findings from the moment it joined: wait for readiness before producing.
    await until('/readyz answers 200', async () => (await get('/readyz').catch(() => ({ status: 0 }))).status === 200, 90_000);
  });

  afterAll(async () => {
    if (warden && warden.exitCode === null) {
      const exited = new Promise((resolve) => warden.once('exit', resolve));
      warden.kill('SIGTERM');
      await exited;
    }
    await new Promise((resolve) => webhook?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
    const store = await createServerStore({ url: clickhouseUrl(), database });
    await store.exec(`DROP DATABASE IF EXISTS ${database}`);
    await store.close();
  });

  it('is alive and ready, and says which consumers joined', async () => {
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(JSON.parse(ready.text)).toMatchObject({
      ready: true,
      clickhouse: 'ok',
      consumers: [
        { groupId: `${id}-ingest`, state: 'joined' },
        { groupId: `${id}-detect`, state: 'joined' },
        { groupId: `${id}-alerts`, state: 'joined' },
      ],
    });
    expect((await get('/nope')).status).toBe(404);
  });

  it('counts a runaway and a bad line, and posts the runaway to the webhook after a retry', async () => {
    const t0 = Date.now() - 60_000;
    const run = `${id}-runaway`;
    const who = { agent_id: 'ops-bot', tenant_id: 'acme', user_id: 'u-1' };
    const event = (i: number, fields: Record<string, unknown>) => ({ schema: 'runwarden.span/v1', event_id: `${run}-${i}`, ts: t0 + i * 1_000, run_id: run, span_id: `${run}-s${i}`, ...who, ...fields });
    const events = [
      event(0, { kind: 'run_start' }),
      // The same tool with the same arguments 7 times in a row: the 6th is a tool-loop abort.
      ...Array.from({ length: 7 }, (_, i) => event(i + 1, { kind: 'tool_call', tool: { name: 'search', args_hash: 'same', status: 'ok' } })),
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.spans,
      acks: -1,
      messages: [...events.map((e) => ({ key: run, value: JSON.stringify(e) })), { key: run, value: '{"schema": "runwarden.span/v1", "event_id": ' }],
    });
    await producer.disconnect();

    await until('the abort on the webhook', async () => received.some((r) => r.status === 200), 60_000);
    expect(received.map((r) => r.status)).toEqual([503, 200]);
    expect(received[1]?.body).toEqual(received[0]?.body);
    expect(received[1]?.body.text).toContain(`critical tool-loop/identical_consecutive on run ${run}: observed 6 vs threshold 5`);
    expect(JSON.stringify(received[1]?.body.blocks)).toContain('finding `');

    let text = '';
    await until('the counters to move', async () => {
      text = await metrics();
      return (sample(text, 'runwarden_alerts_total{sink="test-hook",outcome="sent"}') ?? 0) >= 1 && (sample(text, 'runwarden_events_consumed_total{stage="ingest"}') ?? 0) >= 9;
    }, 30_000);
    const table: Array<[string, number]> = [
      ['runwarden_events_consumed_total{stage="ingest"}', 9],
      ['runwarden_events_consumed_total{stage="detect"}', 9],
      ['runwarden_dlq_messages_total{reason="invalid_json"}', 1],
      ['runwarden_findings_total{detector="tool-loop",severity="critical"}', 1],
      ['runwarden_commands_total{detector="tool-loop",action="abort"}', 1],
      ['runwarden_alerts_total{sink="test-hook",outcome="sent"}', 1],
      ['runwarden_sink_duration_seconds_count{sink="webhook"}', 2],
    ];
    for (const [series, value] of table) expect(sample(text, series), series).toBe(value);
    // The warning findings of the same run went to no sink (min_severity: critical), yet were consumed.
    expect(sample(text, 'runwarden_events_consumed_total{stage="alerts"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'runwarden_sink_duration_seconds_count{sink="kafka_produce"}')).toBeGreaterThan(0);
    expect(sample(text, 'runwarden_live_runs')).toBe(1);
    expect(sample(text, 'runwarden_heartbeat_age_seconds')).toBeLessThan(10);
    expect(text).toContain('process_cpu_user_seconds_total');
    await until('ClickHouse inserts measured and the ingest lag back to 0', async () => {
      text = await metrics();
      const lags = text.split('\n').filter((l) => l.startsWith(`runwarden_consumer_lag_messages{group="${id}-ingest"`));
      return (sample(text, 'runwarden_sink_duration_seconds_count{sink="clickhouse_insert"}') ?? 0) > 0 && lags.length === 2 && lags.every((l) => l.endsWith(' 0'));
    }, 30_000);
  });
});
