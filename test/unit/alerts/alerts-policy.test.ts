import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { expandAlertEnv } from '../../../src/alerts/expand-env.ts';
import { PolicyError, loadPolicy, parsePolicy } from '../../../src/policy/policy.ts';

const sink = { name: 'oncall', type: 'webhook', url: 'https://hooks.example.com/T1/B2' };

function issues(doc: unknown): string[] {
  try {
    parsePolicy(doc);
  } catch (err) {
    if (err instanceof PolicyError) return [...err.issues];
    throw err;
  }
  return [];
}

describe('the alerts section of the policy file', () => {
  it('defaults to no sinks, and fills each sink from its defaults', () => {
    expect(parsePolicy({}).alerts).toEqual({ sinks: [], dedup_window: 600_000, queue_size: 1_000 });
    const { alerts } = parsePolicy({ alerts: { sinks: [sink], dedup_window: '5m' } });
    expect(alerts.dedup_window).toBe(300_000);
    expect(alerts.sinks).toEqual([{ ...sink, format: 'slack', min_severity: 'warning', timeout: 5_000, max_retries: 5 }]);
  });

  it.each([
    [{ sinks: [{ ...sink, type: 'email' }] }, 'alerts.sinks[0].type: must be "webhook" (the only sink type so far)'],
    [{ sinks: [{ ...sink, url: 'hooks.example.com' }] }, 'alerts.sinks[0].url: must be an http(s) URL'],
    [{ sinks: [{ ...sink, url: 'ftp://x.example.com' }] }, 'alerts.sinks[0].url: must be an http(s) URL'],
    [{ sinks: [{ ...sink, min_severity: 'high' }] }, 'alerts.sinks[0].min_severity: must be one of info, warning, critical'],
    [{ sinks: [{ ...sink, detectors: ['tool_loop'] }] }, 'alerts.sinks[0].detectors[0]: must be a detector name: one of step-cap, tool-loop'],
    [{ sinks: [{ ...sink, format: 'teams' }] }, 'alerts.sinks[0].format: must be slack (Slack-compatible text + blocks) or json'],
    [{ sinks: [{ ...sink, retries: 3 }] }, 'alerts.sinks[0]: unknown field "retries"; expected one of: name, type, url, format'],
    [{ sinks: [sink, { ...sink }] }, 'alerts.sinks[1].name: another sink is already named "oncall": give each sink its own name'],
    [{ sinks: [{ ...sink, name: 'on call' }] }, 'alerts.sinks[0].name: must be 1 to 64 letters'],
    [{ dedup_window: 'ten minutes' }, 'alerts.dedup_window: must be a duration'],
    [{ queue_size: 0 }, 'alerts.queue_size: must be a whole number from 1 to 100000 (got 0)'],
  ])('rejects %j with a message that says what to fix', (alerts, message) => {
    const found = issues({ alerts });
    expect(found.some((i) => i.startsWith(message)), found.join('\n')).toBe(true);
  });

  it('accepts ${NAME} references, expanded from the environment at start', () => {
    const { alerts } = parsePolicy({ alerts: { sinks: [{ ...sink, url: '${SLACK_URL}', headers: { Authorization: 'Bearer ${TOKEN}' } }] } });
    const expanded = expandAlertEnv(alerts, { SLACK_URL: 'https://hooks.slack.com/services/X', TOKEN: 's3cret' });
    expect(expanded).toEqual({ alerts: { ...alerts, sinks: [{ ...alerts.sinks[0], url: 'https://hooks.slack.com/services/X', headers: { Authorization: 'Bearer s3cret' } }] } });
    expect(expandAlertEnv(alerts, { SLACK_URL: 'https://hooks.slack.com/services/X' })).toEqual({
      issues: ['alerts.sinks[0].headers.Authorization: environment variable TOKEN is not set: set it, or write the value in the policy file'],
    });
    expect(expandAlertEnv(alerts, { SLACK_URL: 'not a url', TOKEN: 't' })).toEqual({ issues: [expect.stringContaining('alerts.sinks[0].url: must be an http(s) URL once expanded')] });
  });
});

describe('docs/alerts.md', () => {
  it('shows a policy section that is valid as written', async () => {
    const text = await readFile(new URL('../../../docs/alerts.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(text)?.[1];
    expect(yaml).toBeDefined();
    const { alerts } = loadPolicy(yaml ?? '', 'yaml', 'docs/alerts.md');
    expect(alerts.sinks.map((s) => [s.name, s.min_severity, s.detectors])).toEqual([
      ['oncall-slack', 'critical', undefined],
      ['finops', 'info', ['cost-spike', 'budget']],
    ]);
    expect(alerts.dedup_window).toBe(600_000);
  });
});
