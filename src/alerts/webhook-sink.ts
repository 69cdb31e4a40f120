import type { Finding } from '../contracts/finding.ts';
import type { Logger } from '../log.ts';
import type { AlertMetrics } from '../metrics/stage-metrics.ts';
import { alertPayload } from './alert-payload.ts';
import type { WebhookSinkConfig } from './alerts-policy.ts';

/** The part of `fetch` a webhook needs (injected in tests). */
export type FetchLike = (url: string, init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

export interface AlertSink {
  readonly name: string;
  /** Queues an alert; false when the queue is full (dropped and counted). Never waits. */
  offer(finding: Finding): boolean;
  /** Resolves when the queue is empty and nothing is in flight (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops: waits up to `graceMs` for the queue to drain, then aborts the request in flight and drops the rest (counted). */
  close(graceMs?: number): Promise<void>;
}

export interface WebhookSinkOptions {
  config: WebhookSinkConfig;
  /** Alerts waiting at most; past it new ones are dropped. */
  queueSize: number;
  logger: Logger;
  metrics?: AlertMetrics;
  fetch?: FetchLike;
  /** Waits `ms` unless `signal` aborts first (injected in tests). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** [0, 1) for backoff jitter. */
  random?: () => number;
}

/** A delivery that failed; `retriable` says whether trying again can help (timeouts, 429, 5xx). */
export class WebhookError extends Error {
  override readonly name = 'WebhookError';
  constructor(
    message: string,
    readonly retriable: boolean,
    /** From a 429's Retry-After (ms). */
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/**
 * One webhook (Slack-compatible or plain JSON): a bounded queue drained by one worker, in order,
 * each alert retried with exponential backoff (0.5 s doubling to 30 s, ±20 % jitter, Retry-After
 * honoured) up to `max_retries`. Detection never waits for it: `offer` drops when the queue is full.
 */
export function createWebhookSink(options: WebhookSinkOptions): AlertSink {
  const { config, metrics } = options;
  const log = options.logger.child({ component: 'alerts', sink: config.name });
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const headers = { 'content-type': 'application/json', 'user-agent': 'runwarden-alerts', ...config.headers };
  const queue: Finding[] = [];
  const closing = new AbortController();
  let working: Promise<void> | undefined;

  async function post(finding: Finding): Promise<void> {
    const started = performance.now();
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await doFetch(config.url, { method: 'POST', headers, body: JSON.stringify(alertPayload(finding, config.format)), signal: AbortSignal.any([AbortSignal.timeout(config.timeout), closing.signal]) });
    } catch (err) {
      throw new WebhookError(`request failed: ${(err as Error).message}`, true, undefined, { cause: err });
    } finally {
      metrics?.sinkDuration('webhook', (performance.now() - started) / 1_000);
    }
    if (response.status >= 200 && response.status < 300) return;
    const body = (await response.text().catch(() => '')).slice(0, 200);
    const retriable = response.status === 429 || response.status === 408 || response.status >= 500;
    const retryAfterS = Number(response.headers.get('retry-after'));
    throw new WebhookError(`HTTP ${response.status}: ${body}`, retriable, response.status === 429 && retryAfterS > 0 ? retryAfterS * 1_000 : undefined);
  }

  async function deliver(finding: Finding): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await post(finding);
        metrics?.alert(config.name, 'sent');
        return;
      } catch (err) {
        const e = err as WebhookError;
        if (!e.retriable || attempt >= config.max_retries || closing.signal.aborted) {
          metrics?.alert(config.name, 'failed');
          log.error({ err, finding_id: finding.finding_id, attempts: attempt + 1 }, e.retriable ? 'alert not delivered: retries exhausted' : 'alert rejected by the webhook; check its url and headers');
          return;
        }
        const backoff = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt) * (0.8 + random() * 0.4);
        const delayMs = Math.min(60_000, Math.max(backoff, e.retryAfterMs ?? 0));
        log.warn({ err, finding_id: finding.finding_id, attempt: attempt + 1, delayMs: Math.round(delayMs) }, 'alert delivery failed; retrying');
        await sleep(delayMs, closing.signal);
      }
    }
  }

  async function work(): Promise<void> {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      metrics?.queueDepth(config.name, queue.length);
      await deliver(next);
    }
  }

  function kick(): void {
    working ??= work().finally(() => {
      working = undefined;
      if (queue.length > 0 && !closing.signal.aborted) kick();
    });
  }

  async function idle(): Promise<void> {
    while (working) await working;
  }

  return {
    name: config.name,
    offer(finding) {
      if (closing.signal.aborted || queue.length >= options.queueSize) {
        metrics?.alert(config.name, 'dropped');
        if (!closing.signal.aborted) log.warn({ finding_id: finding.finding_id, queueSize: options.queueSize }, 'alert queue full; alert dropped');
        return false;
      }
      queue.push(finding);
      metrics?.queueDepth(config.name, queue.length);
      kick();
      return true;
    },
    idle,
    async close(graceMs = 5_000) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([idle(), grace]);
      clearTimeout(timer);
      // Whatever is left is dropped: a stopping warden must not hang on an unreachable webhook.
      closing.abort();
      for (const finding of queue.splice(0)) {
        metrics?.alert(config.name, 'dropped');
        log.warn({ finding_id: finding.finding_id }, 'alert dropped at shutdown');
      }
      metrics?.queueDepth(config.name, 0);
      await working;
    },
  };
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
