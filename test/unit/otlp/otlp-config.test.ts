import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/env.ts';
import { DEFAULT_OTLP_MAPPING } from '../../../src/otlp/mapping-options.ts';

describe('OTLP configuration from the environment', () => {
  it('defaults: the collector topic otlp_spans, trace id as run id, the default keys', () => {
    const { otlp } = loadConfig({});
    expect(otlp.topic).toBe('otlp_spans');
    expect(otlp.mapping).toEqual(DEFAULT_OTLP_MAPPING);
    expect(otlp.mapping.runIdKey).toBeUndefined();
  });

  it('reads the topic, run id key, key lists and extra attributes', () => {
    const { otlp } = loadConfig({
      RUNWARDEN_TOPIC_OTLP: 'otel.traces',
      RUNWARDEN_OTLP_RUN_ID_KEY: 'gen_ai.conversation.id',
      RUNWARDEN_OTLP_AGENT_KEYS: 'service.name',
      RUNWARDEN_OTLP_TENANT_KEYS: 'org.id, tenant.id',
      RUNWARDEN_OTLP_USER_KEYS: 'user.id',
      RUNWARDEN_OTLP_ATTRS: 'plan_tier=app.plan_tier,region=app.region|cloud.region',
    });
    expect(otlp).toEqual({
      topic: 'otel.traces',
      mapping: {
        ...DEFAULT_OTLP_MAPPING,
        runIdKey: 'gen_ai.conversation.id',
        agentKeys: ['service.name'],
        tenantKeys: ['org.id', 'tenant.id'],
        userKeys: ['user.id'],
        attrKeys: { ...DEFAULT_OTLP_MAPPING.attrKeys, plan_tier: ['app.plan_tier'], region: ['app.region', 'cloud.region'] },
      },
    });
  });

  it.each([
    [{ RUNWARDEN_OTLP_ATTRS: 'plan_tier' }, /RUNWARDEN_OTLP_ATTRS: write it as name=otel.attribute/],
    [{ RUNWARDEN_OTLP_TENANT_KEYS: ' , ' }, /RUNWARDEN_OTLP_TENANT_KEYS: name at least one attribute key/],
  ])('refuses %o with a message that says what to change', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
