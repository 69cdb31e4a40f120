import { z } from 'zod';
import { DETECTORS, SEVERITIES, type Severity } from '../contracts/finding.ts';
import { duration } from '../policy/duration.ts';
import { strictSection } from '../policy/fields.ts';

/**
 * The `alerts` section of the policy file: where findings are announced to people. Top level,
 * not per agent: a route is an on-call decision, by severity and detector. docs/alerts.md.
 *
 * ```yaml
 * alerts:
 *   dedup_window: 10m           # the same finding_id, or detector + rule + scope, alerts once per window
 *   queue_size: 1000            # per sink; past it new alerts are dropped (counted), never blocking detection
 *   sinks:
 *     - name: oncall-slack
 *       type: webhook
 *       url: ${SLACK_WEBHOOK_URL}   # ${NAME} is read from the environment at start
 *       format: slack               # slack (text + blocks) or json (the finding itself)
 *       min_severity: warning
 *       detectors: [step-cap, tool-loop, cost-spike]   # absent: every detector
 *       headers: { Authorization: "Bearer ${ALERT_TOKEN}" }
 *       timeout: 5s
 *       max_retries: 5
 * ```
 */

/** `${NAME}` references to environment variables, expanded by `runwarden start`. */
export const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const SEVERITY_HINT = `must be one of ${SEVERITIES.join(', ')}`;
const URL_HINT = 'must be an http(s) URL such as https://hooks.slack.com/services/…, or name an environment variable: ${SLACK_WEBHOOK_URL}';

const httpUrl = () =>
  z.string({ error: URL_HINT }).refine((text) => {
    if (new RegExp(ENV_REFERENCE.source).test(text)) return true; // checked again once expanded
    return isHttpUrl(text);
  }, URL_HINT);

/** True for an absolute http: or https: URL. */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export const webhookSinkSchema = strictSection({
  /** Names the sink in metrics (`sink` label) and logs. */
  name: z.string({ error: 'must be a name' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1 to 64 letters, digits, "_", "." or "-" (it labels the sink in metrics and logs)'),
  type: z.literal('webhook', { error: 'must be "webhook" (the only sink type so far)' }),
  url: httpUrl(),
  format: z.enum(['slack', 'json'], { error: 'must be slack (Slack-compatible text + blocks) or json (the finding as JSON)' }).default('slack'),
  min_severity: z.enum(SEVERITIES, { error: SEVERITY_HINT }).default('warning'),
  detectors: z
    .array(z.enum(DETECTORS, { error: `must be a detector name: one of ${DETECTORS.join(', ')}` }), { error: 'must be a list of detector names' })
    .refine((ds) => ds.length > 0, 'name at least one detector, or leave the field out for every detector')
    .optional(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name'), z.string({ error: 'must be a string' }), { error: 'must be a mapping of header name → value' }).optional(),
  /** One attempt may take this long (ms). */
  timeout: duration().refine((ms) => ms > 0 && ms <= 60_000, 'must be greater than 0 and at most 60s').default(5_000),
  /** Attempts after the first, with exponential backoff (0.5 s, 1 s, 2 s, … up to 30 s). */
  max_retries: z.number({ error: 'must be a whole number from 0 to 20' }).int('must be a whole number from 0 to 20').min(0, 'must be a whole number from 0 to 20').max(20, 'must be a whole number from 0 to 20').default(5),
});
export type WebhookSinkConfig = z.infer<typeof webhookSinkSchema>;

export const alertsSectionSchema = strictSection({
  sinks: z.array(webhookSinkSchema, { error: 'must be a list of sinks' }).default([]),
  /** The same finding_id, or the same (detector, rule, scope), alerts at most once per window (ms). */
  dedup_window: duration().default(600_000),
  /** Alerts waiting per sink; a full queue drops new alerts (runwarden_alerts_total{outcome="dropped"}). */
  queue_size: z.number({ error: 'must be a whole number from 1 to 100000' }).int('must be a whole number from 1 to 100000').min(1, 'must be a whole number from 1 to 100000').max(100_000, 'must be a whole number from 1 to 100000').default(1_000),
}).superRefine((section, ctx) => {
  const seen = new Set<string>();
  section.sinks.forEach((sink, i) => {
    if (seen.has(sink.name)) ctx.addIssue({ code: 'custom', path: ['sinks', i, 'name'], message: `another sink is already named "${sink.name}": give each sink its own name` });
    seen.add(sink.name);
  });
});
export type AlertsPolicy = z.infer<typeof alertsSectionSchema>;

export const ALERTS_DEFAULTS: AlertsPolicy = { sinks: [], dedup_window: 600_000, queue_size: 1_000 };

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** True when `severity` is at least `min`. */
export const atLeast = (severity: Severity, min: Severity): boolean => RANK[severity] >= RANK[min];
