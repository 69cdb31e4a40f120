import type { Finding } from '../contracts/finding.ts';

/** The body a webhook receives, by sink format. */
export function alertPayload(finding: Finding, format: 'slack' | 'json'): Record<string, unknown> {
  return format === 'slack' ? slackPayload(finding) : { summary: alertSummary(finding), finding };
}

/** One line for a person: `critical tool-loop/identical_consecutive on run r-1: observed 6 vs threshold 5`. */
export function alertSummary(f: Finding): string {
  const baseline = f.baseline === undefined ? '' : ` (baseline ${num(f.baseline)})`;
  return `${f.severity} ${f.detector}/${f.rule} on ${f.scope.kind} ${f.scope.id}: observed ${num(f.observed)} vs threshold ${num(f.threshold)}${baseline}`;
}

const ICON = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' } as const;

/**
 * A Slack incoming-webhook message (also read by Mattermost, Rocket.Chat and other Slack-compatible
 * receivers): `text` is the notification and fallback line; `blocks` lay out detector, rule,
 * scope, observed vs threshold and the finding_id to look up in ClickHouse. Values that come from
 * agents (scope ids, cohort values) are escaped, so they cannot ping @channel or forge links.
 */
export function slackPayload(f: Finding): Record<string, unknown> {
  const fields = [
    field('Detector', f.detector),
    field('Rule', f.rule),
    field('Scope', `${f.scope.kind} \`${f.scope.id}\``),
    field('Severity', f.severity),
    field('Observed', num(f.observed)),
    field('Threshold', num(f.threshold)),
  ];
  if (f.baseline !== undefined) fields.push(field('Baseline', num(f.baseline)));
  if (f.cohort) fields.push(field('Cohort', Object.entries(f.cohort).map(([k, v]) => `${k}=${v}`).join(', ')));
  return {
    text: `${ICON[f.severity]} runwarden ${escape(alertSummary(f))}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(`runwarden: ${f.severity} ${f.detector}`, 150) } },
      { type: 'section', fields },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `finding \`${escape(f.finding_id)}\` · ${new Date(f.ts).toISOString()}` }] },
    ],
  };
}

function field(label: string, value: string): { type: 'mrkdwn'; text: string } {
  // Slack rejects a field over 2,000 characters.
  return { type: 'mrkdwn', text: clip(`*${label}*\n${escape(value)}`, 2_000) };
}

/** Slack's three control characters in mrkdwn. */
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const num = (n: number) => (Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4))));
