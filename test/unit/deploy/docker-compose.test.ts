import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { KNOWN_MACROS, loadDashboard, repoPath } from '../../support/grafana-dashboard.ts';

const service = z.object({
  image: z.string().optional(),
  build: z.string().optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
  volumes: z.array(z.string()).default([]),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  healthcheck: z.object({ test: z.array(z.string()) }).optional(),
});
const compose = z.object({ services: z.record(z.string(), service) }).parse(parse(readFileSync(repoPath('docker-compose.yml'), 'utf8')));
const datasources = z
  .object({ datasources: z.array(z.object({ type: z.string(), uid: z.string(), jsonData: z.object({ host: z.string(), port: z.number(), protocol: z.string(), defaultDatabase: z.string() }) })) })
  .parse(parse(readFileSync(repoPath('deploy/grafana/provisioning/datasources/clickhouse.yaml'), 'utf8'))).datasources;
const providers = z
  .object({ providers: z.array(z.object({ type: z.literal('file'), options: z.object({ path: z.string() }) })) })
  .parse(parse(readFileSync(repoPath('deploy/grafana/provisioning/dashboards/runwarden.yaml'), 'utf8'))).providers;

const svc = (name: string) => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no ${name} service`);
  return s;
};

describe('docker-compose.yml', () => {
  it('runs current Kafka (KRaft) and ClickHouse images, the warden built from the Dockerfile, and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['clickhouse', 'grafana', 'kafka', 'runwarden']);
    expect(svc('kafka').image).toMatch(/^apache\/kafka:[4-9]\./);
    expect(svc('kafka').environment['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    expect(svc('clickhouse').image).toMatch(/^clickhouse\/clickhouse-server:2\d\./);
    expect(svc('runwarden').build).toBe('.');
    expect(existsSync(repoPath('Dockerfile'))).toBe(true);
    expect(svc('grafana').image).toMatch(/^grafana\/grafana:1[2-9]\./);
    for (const name of ['kafka', 'clickhouse', 'grafana']) expect(svc(name).healthcheck?.test.length).toBeGreaterThan(0);
  });

  it('points the warden at the compose services, on the listener Kafka advertises inside the network', () => {
    const env = svc('runwarden').environment;
    expect(svc('kafka').environment['KAFKA_ADVERTISED_LISTENERS']).toContain(`INTERNAL://${String(env['KAFKA_BROKERS'])}`);
    expect(env['CLICKHOUSE_URL']).toBe('http://clickhouse:8123');
    expect(svc('runwarden').depends_on).toMatchObject({ kafka: { condition: 'service_healthy' }, clickhouse: { condition: 'service_healthy' } });
  });

  it('gives Grafana the ClickHouse plugin, the provisioning folder and the dashboards folder that exist in the repository', () => {
    const g = svc('grafana');
    expect(String(g.environment['GF_PLUGINS_PREINSTALL'])).toContain('grafana-clickhouse-datasource');
    const mounts = new Map(g.volumes.map((v) => v.split(':') as [string, string, string?]).map(([from, to]) => [to, from]));
    expect(mounts.get('/etc/grafana/provisioning')).toBe('./deploy/grafana/provisioning');
    const dashboards = mounts.get(providers[0]?.options.path ?? '');
    expect(dashboards).toBe('./deploy/grafana/dashboards');
    for (const from of mounts.values()) expect(existsSync(repoPath(from as string))).toBe(true);
  });
});

describe('deploy/grafana', () => {
  const dashboard = loadDashboard();
  const [ds] = datasources;

  it('provisions one ClickHouse datasource on the compose service and the warden database', () => {
    expect(datasources).toHaveLength(1);
    expect(ds?.type).toBe('grafana-clickhouse-datasource');
    expect(ds?.jsonData).toMatchObject({ host: 'clickhouse', port: 8123, protocol: 'http', defaultDatabase: String(svc('runwarden').environment['CLICKHOUSE_DATABASE']) });
  });

  it('has the panels of the rollups, each on that datasource, with unique ids', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase());
    for (const want of ['spend per minute by cohort', 'aborts by rule', 'findings', 'judge score by cohort', 'top runaway runs']) expect(titles.some((t) => t.includes(want))).toBe(true);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) {
      expect(p.datasource.uid).toBe(ds?.uid);
      for (const t of p.targets) expect(t.datasource).toEqual(p.datasource);
    }
  });

  it('uses only the macros the SQL test expands, and a time filter in every time-series panel', () => {
    for (const p of dashboard.panels) {
      for (const t of p.targets) {
        const macros = [...t.rawSql.matchAll(/\$__[A-Za-z_]+/g)].map((m) => m[0]);
        for (const m of macros) expect(KNOWN_MACROS).toContain(m);
        if (p.type === 'timeseries') expect(t.rawSql).toMatch(/AS time\b/);
      }
    }
  });
});
