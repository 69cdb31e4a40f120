import { describe, expect, it } from 'vitest';
import { alertPayload, alertSummary } from '../../../src/alerts/alert-payload.ts';
import { finding } from './fixtures.ts';

describe('alert payloads', () => {
  it('summarises detector, rule, scope and observed vs threshold in one line', () => {
    expect(alertSummary(finding())).toBe('critical tool-loop/identical_consecutive on run run-42: observed 6 vs threshold 5');
    expect(alertSummary(finding({ detector: 'cost-spike', rule: 'spend_per_minute', severity: 'warning', scope: { kind: 'cohort', id: 'a=b' }, observed: 12.345678, threshold: 3.2, baseline: 1.05 }))).toBe(
      'warning cost-spike/spend_per_minute on cohort a=b: observed 12.35 vs threshold 3.2 (baseline 1.05)',
    );
  });

  it('is a Slack message: text and blocks with every field and the finding_id', () => {
    const payload = alertPayload(finding({ cohort: { agent_id: 'bot', model_version: 'v2' }, baseline: 2 }), 'slack');
    expect(payload['text']).toBe(':rotating_light: runwarden critical tool-loop/identical_consecutive on run run-42: observed 6 vs threshold 5 (baseline 2)');
    const blocks = payload['blocks'] as Array<{ type: string; fields?: Array<{ text: string }>; elements?: Array<{ text: string }> }>;
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(blocks[1]?.fields?.map((f) => f.text)).toEqual([
      '*Detector*\ntool-loop',
      '*Rule*\nidentical_consecutive',
      '*Scope*\nrun `run-42`',
      '*Severity*\ncritical',
      '*Observed*\n6',
      '*Threshold*\n5',
      '*Baseline*\n2',
      '*Cohort*\nagent_id=bot, model_version=v2',
    ]);
    expect(blocks[2]?.elements?.[0]?.text).toBe('finding `f-1` · 2026-01-02T03:04:05.000Z');
  });

  it('escapes what agents control, so a scope id cannot ping or link', () => {
    const payload = alertPayload(finding({ scope: { kind: 'user', id: '<!channel> & <http://evil|click>' } }), 'slack');
    const text = JSON.stringify(payload);
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt; &amp; &lt;http://evil|click&gt;');
  });

  it('is the finding itself with its summary in the json format', () => {
    const f = finding();
    expect(alertPayload(f, 'json')).toEqual({ summary: alertSummary(f), finding: f });
  });
});
