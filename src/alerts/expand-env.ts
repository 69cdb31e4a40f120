import { ENV_REFERENCE, isHttpUrl, type AlertsPolicy } from './alerts-policy.ts';

/**
 * The alerts section with every `${NAME}` in sink urls and header values replaced from `env`, so
 * webhook secrets live in the environment (or a secret store), not in the policy file. Returns the
 * problems instead when a variable is unset or an expanded url is not http(s).
 */
export function expandAlertEnv(alerts: AlertsPolicy, env: Record<string, string | undefined>): { alerts: AlertsPolicy } | { issues: string[] } {
  const issues: string[] = [];
  const expand = (text: string, at: string) =>
    text.replace(ENV_REFERENCE, (_, name: string) => {
      const value = env[name];
      if (value === undefined || value === '') {
        issues.push(`alerts.${at}: environment variable ${name} is not set: set it, or write the value in the policy file`);
        return '';
      }
      return value;
    });
  const sinks = alerts.sinks.map((sink, i) => {
    const url = expand(sink.url, `sinks[${i}].url`);
    if (issues.length === 0 && !isHttpUrl(url)) issues.push(`alerts.sinks[${i}].url: must be an http(s) URL once expanded (got "${url.slice(0, 40)}…")`);
    const headers = sink.headers && Object.fromEntries(Object.entries(sink.headers).map(([k, v]) => [k, expand(v, `sinks[${i}].headers.${k}`)]));
    return { ...sink, url, ...(headers ? { headers } : {}) };
  });
  return issues.length > 0 ? { issues } : { alerts: { ...alerts, sinks } };
}
