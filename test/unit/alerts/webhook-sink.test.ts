import { describe, expect, it } from 'vitest';
import { createAlertRouter } from '../../../src/alerts/alert-router.ts';
import type { WebhookSinkConfig } from '../../../src/alerts/alerts-policy.ts';
import { createWebhookSink, type AlertSink, type FetchLike } from '../../../src/alerts/webhook-sink.ts';
import type { Finding } from '../../../src/contracts/finding.ts';
import { createLogger } from '../../../src/log.ts';
import type { AlertMetrics } from '../../../src/metrics/stage-metrics.ts';
import { finding } from './fixtures.ts';

const logger = createLogger('silent');
const config: WebhookSinkConfig = { name: 'hook', type: 'webhook', url: 'https://hooks.example.com/x', format: 'slack', min_severity: 'warning', timeout: 1_000, max_retries: 3, headers: { Authorization: 'Bearer t' } };

function recorder() {
  const counts: Record<string, number> = {};
  const metrics: AlertMetrics = {
    alert: (sink, outcome) => void (counts[`${sink}:${outcome}`] = (counts[`${sink}:${outcome}`] ?? 0) + 1),
    suppressed: (reason) => void (counts[reason] = (counts[reason] ?? 0) + 1),
    queueDepth: () => undefined,
    sinkDuration: (sink) => void (counts[`duration:${sink}`] = (counts[`duration:${sink}`] ?? 0) + 1),
  };
  return { counts, metrics };
}

type Reply = number | Error | { status: number; retryAfter: string };

/** A fetch that answers from a script (status, thrown error, or 429 + Retry-After) and records each request. */
function scripted(replies: Reply[]) {
  const requests: Array<{ url: string; headers: Record<string, string>; body: unknown }> = [];
  const fetch: FetchLike = (url, init) => {
    requests.push({ url, headers: init.headers, body: JSON.parse(init.body) });
    const reply = replies.shift() ?? 200;
    if (reply instanceof Error) return Promise.reject(reply);
    const status = typeof reply === 'number' ? reply : reply.status;
    const retryAfter = typeof reply === 'number' ? null : reply.retryAfter;
    return Promise.resolve({ status, headers: { get: (n: string) => (n === 'retry-after' ? retryAfter : null) }, text: () => Promise.resolve(`status ${status}`) });
  };
  return { fetch, requests };
}

function sinkWith(replies: Reply[], overrides: Partial<WebhookSinkConfig> = {}, queueSize = 10) {
  const { fetch, requests } = scripted(replies);
  const { counts, metrics } = recorder();
  const sleeps: number[] = [];
  const sink = createWebhookSink({
    config: { ...config, ...overrides },
    queueSize,
    logger,
    metrics,
    fetch,
    sleep: (ms) => {
      sleeps.push(Math.round(ms));
      return Promise.resolve();
    },
    random: () => 0.5, // no jitter: factor 0.8 + 0.5 × 0.4 = 1
  });
  return { sink, requests, counts, sleeps };
}

describe('createWebhookSink', () => {
  it('posts each alert in order, with its headers and the Slack payload', async () => {
    const { sink, requests, counts } = sinkWith([]);
    sink.offer(finding({ finding_id: 'a' }));
    sink.offer(finding({ finding_id: 'b' }));
    await sink.idle();
    expect(requests.map((r) => JSON.stringify(r.body).match(/finding `(\w)`/)?.[1])).toEqual(['a', 'b']);
    expect(requests[0]?.url).toBe(config.url);
    expect(requests[0]?.headers).toMatchObject({ 'content-type': 'application/json', Authorization: 'Bearer t' });
    expect(counts).toEqual({ 'hook:sent': 2, 'duration:webhook': 2 });
  });

  it.each<[string, Reply[], number[], string]>([
    ['5xx then success: backs off 0.5 s, 1 s', [503, 502, 200], [500, 1_000], 'hook:sent'],
    ['network errors and timeouts are retried', [new Error('ECONNRESET'), 200], [500], 'hook:sent'],
    ['429 waits its Retry-After', [{ status: 429, retryAfter: '3' }, 200], [3_000], 'hook:sent'],
    ['a 4xx is not retried', [404], [], 'hook:failed'],
    ['retries end after max_retries', [500, 500, 500, 500, 500], [500, 1_000, 2_000], 'hook:failed'],
  ])('%s', async (_name, replies, sleeps, outcome) => {
    const s = sinkWith(replies);
    s.sink.offer(finding());
    await s.sink.idle();
    expect(s.sleeps).toEqual(sleeps);
    expect(s.requests).toHaveLength(sleeps.length + 1);
    expect(s.counts[outcome]).toBe(1);
  });

  it('drops what does not fit its queue, never waiting, and at close aborts the request in flight and drops the rest', async () => {
    const { counts, metrics } = recorder();
    // An unresponsive webhook: the request ends only when its signal aborts.
    const fetch: FetchLike = (_url, init) => new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const sink: AlertSink = createWebhookSink({ config: { ...config, timeout: 60_000 }, queueSize: 2, logger, metrics, fetch });
    // The first is in flight at once; two wait; the fourth does not fit.
    expect([1, 2, 3, 4].map((i) => sink.offer(finding({ finding_id: `f${i}` })))).toEqual([true, true, true, false]);
    expect(counts['hook:dropped']).toBe(1);
    await sink.close(0);
    expect(counts).toMatchObject({ 'hook:dropped': 3, 'hook:failed': 1 });
    expect(counts['hook:sent']).toBeUndefined();
    expect(sink.offer(finding())).toBe(false);
  });
});

describe('createAlertRouter', () => {
  function routed(sinks: WebhookSinkConfig[], findings: Finding[]) {
    const offered: Record<string, string[]> = {};
    const fake = (name: string): AlertSink => ({ name, offer: (f) => ((offered[name] ??= []).push(f.finding_id), true), idle: () => Promise.resolve(), close: () => Promise.resolve() });
    const { counts, metrics } = recorder();
    const router = createAlertRouter({ policy: { sinks, dedup_window: 60_000, queue_size: 10 }, sinks: new Map(sinks.map((s) => [s.name, fake(s.name)])), now: () => 0, metrics });
    for (const f of findings) router.route(f);
    return { offered, counts };
  }

  it('routes by severity and detector', () => {
    const pager = { ...config, name: 'pager', min_severity: 'critical' as const };
    const costs = { ...config, name: 'costs', min_severity: 'info' as const, detectors: ['cost-spike' as const, 'budget' as const] };
    const everything = { ...config, name: 'all', min_severity: 'info' as const };
    const { offered } = routed(
      [pager, costs, everything],
      [
        finding({ finding_id: 'loop', severity: 'critical' }),
        finding({ finding_id: 'spike', detector: 'cost-spike', severity: 'warning', scope: { kind: 'user', id: 'u' } }),
        finding({ finding_id: 'budget', detector: 'budget', severity: 'info', scope: { kind: 'tenant', id: 't' } }),
        finding({ finding_id: 'warn', severity: 'warning', rule: 'repeat' }),
      ],
    );
    expect(offered).toEqual({ pager: ['loop'], costs: ['spike', 'budget'], all: ['loop', 'spike', 'budget', 'warn'] });
  });

  it('suppresses duplicates, counted by reason, before any sink', () => {
    const { offered, counts } = routed([config], [finding({ finding_id: 'a' }), finding({ finding_id: 'a' }), finding({ finding_id: 'b' })]);
    expect(offered).toEqual({ hook: ['a'] });
    expect(counts).toEqual({ duplicate_finding: 1, duplicate_scope: 1 });
  });

  it('does not let a finding no sink takes mute a later one', () => {
    const { offered } = routed([config], [finding({ finding_id: 'quiet', severity: 'info' }), finding({ finding_id: 'loud', severity: 'critical' })]);
    expect(offered).toEqual({ hook: ['loud'] });
  });
});
