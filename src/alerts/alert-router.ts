import type { Finding } from '../contracts/finding.ts';
import type { AlertMetrics } from '../metrics/stage-metrics.ts';
import { createAlertDedup, type DedupVerdict } from './alert-dedup.ts';
import { atLeast, type AlertsPolicy, type WebhookSinkConfig } from './alerts-policy.ts';
import type { AlertSink } from './webhook-sink.ts';

export interface AlertRouterOptions {
  policy: AlertsPolicy;
  /** One sink per `policy.sinks` entry, by name. */
  sinks: ReadonlyMap<string, AlertSink>;
  /** Wall clock (epoch ms) of the dedup window. */
  now?: () => number;
  metrics?: Pick<AlertMetrics, 'suppressed'>;
}

export interface AlertRouter {
  /** De-duplicates and hands the finding to every sink whose route matches; never waits. */
  route(finding: Finding): { verdict: DedupVerdict; sinks: string[] };
}

/** True when the sink takes this finding: severity at least its `min_severity`, detector in its list (if any). */
export function sinkMatches(sink: Pick<WebhookSinkConfig, 'min_severity' | 'detectors'>, finding: Finding): boolean {
  return atLeast(finding.severity, sink.min_severity) && (sink.detectors === undefined || sink.detectors.includes(finding.detector));
}

/** The alerts stage's decision: which findings go to which sinks, once per dedup window. */
export function createAlertRouter(options: AlertRouterOptions): AlertRouter {
  const now = options.now ?? Date.now;
  const dedup = createAlertDedup({ windowMs: options.policy.dedup_window });
  // Only findings some sink would take are remembered: an info finding must not mute a later critical one's route.
  const wanted = (f: Finding) => options.policy.sinks.filter((s) => sinkMatches(s, f));
  return {
    route(finding) {
      const routes = wanted(finding);
      if (routes.length === 0) return { verdict: 'new', sinks: [] };
      const verdict = dedup.check(finding, now());
      if (verdict !== 'new') {
        options.metrics?.suppressed(verdict);
        return { verdict, sinks: [] };
      }
      const sent: string[] = [];
      for (const route of routes) {
        const sink = options.sinks.get(route.name);
        if (sink?.offer(finding)) sent.push(route.name);
      }
      return { verdict, sinks: sent };
    },
  };
}
