import { renderTable } from '../../cli/table.ts';
import type { RecallFigures, SimQuality } from './summarise.ts';

/** Event-time seconds as 45s / 12.5m / 3.2h. */
export function formatDelay(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7_200) return `${(seconds / 60).toFixed(1)}m`;
  return `${(seconds / 3_600).toFixed(1)}h`;
}

const ratio = (r: RecallFigures) => `${r.detected}/${r.incidents}`;
/** Spend magnitudes are multiples; judge ones score drops or shares of the mean. */
const unitOf = (kind: string) => (kind.startsWith('judge_') ? '' : '×');

/** The short text report of `npm run eval:sim`: recall and delay by incident kind, false alarms by rule. */
export function renderSimQuality(q: SimQuality): string {
  const kinds = Object.entries(q.by_kind).map(([kind, k]) => ({
    incident: kind,
    detected: ratio(k),
    recall: k.recall === null ? '-' : k.recall.toFixed(2),
    'coarse only': k.coarse_only,
    'delay p50': formatDelay(k.delay_s.median),
    'delay p90': formatDelay(k.delay_s.p90),
    // e.g. "3× 1/8 (1/5)": detected / incidents, and in brackets those above the detector's floor.
    'by magnitude': Object.entries(k.by_magnitude)
      .map(([m, r]) => `${m}${unitOf(kind)} ${ratio(r)}${r.above_floor ? ` (${ratio(r.above_floor)})` : ''}`)
      .join(', '),
    'above floor': k.above_floor ? ratio(k.above_floor) : '',
  }));
  const rules = Object.entries(q.by_rule)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([rule, r]) => ({
      rule,
      unit: r.unit,
      findings: r.findings,
      detections: r.detections,
      related: r.related,
      'false alarms': r.false_alarms,
      'quiet unit-days': r.quiet_unit_days.toFixed(1),
      'FA / unit-day': r.false_alarms_per_unit_day === null ? '-' : r.false_alarms_per_unit_day.toFixed(3),
    }));
  return [
    `${q.scenarios} fleets, ${q.days.toFixed(1)} fleet-days, ${q.incidents} incidents`,
    renderTable(kinds),
    renderTable(rules),
  ].join('\n');
}
