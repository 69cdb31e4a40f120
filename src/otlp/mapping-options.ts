/**
 * How OTLP spans become runwarden span events: where the ids SPEC §1 requires on every event come
 * from. Each list of attribute keys is read in order on the span, then on its ancestors in the same
 * payload (an agent id or a tenant set once on the root span covers the tool and model spans under
 * it), then on the resource; the first value found wins.
 */
export interface OtlpMappingOptions {
  /** Attribute that names the run (e.g. `gen_ai.conversation.id`); absent or unset on a span: the trace id. */
  runIdKey?: string;
  agentKeys: readonly string[];
  tenantKeys: readonly string[];
  userKeys: readonly string[];
  /** runwarden cohort attribute (`attrs`) ← OTel attribute keys, first found wins. */
  attrKeys: Readonly<Record<string, readonly string[]>>;
  /** The id used when none of the keys is found (agent, tenant and user are required on every event). */
  unknownId: string;
}

/** The defaults: the GenAI agent attributes, then the service; `tenant.id`; `user.id`, then the deprecated `enduser.id`. */
export const DEFAULT_OTLP_MAPPING: OtlpMappingOptions = {
  agentKeys: ['gen_ai.agent.id', 'gen_ai.agent.name', 'service.name'],
  tenantKeys: ['tenant.id', 'tenant_id'],
  userKeys: ['user.id', 'enduser.id', 'user_id'],
  attrKeys: {
    // The model a judge score or a call belongs to: judge drift compares cohorts by model_version.
    model_version: ['gen_ai.response.model', 'gen_ai.request.model'],
    provider: ['gen_ai.provider.name', 'gen_ai.system'],
    conversation_id: ['gen_ai.conversation.id'],
    env: ['deployment.environment.name', 'deployment.environment'],
    region: ['cloud.region'],
  },
  unknownId: 'unknown',
};

/**
 * Parses `name=otel.key[|other.key],…` (RUNWARDEN_OTLP_ATTRS) into attribute keys, added to (and
 * overriding by name) the defaults. Returns an error message instead of throwing.
 */
export function parseAttrKeys(spec: string): Record<string, string[]> | string {
  const out: Record<string, string[]> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = part.indexOf('=');
    const name = part.slice(0, at).trim();
    const keys = part.slice(at + 1).split('|').map((k) => k.trim()).filter(Boolean);
    if (at <= 0 || !/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(name) || keys.length === 0) {
      return `write it as name=otel.attribute[|fallback.attribute],… (e.g. plan_tier=app.plan_tier,region=cloud.region); got "${part}"`;
    }
    out[name] = keys;
  }
  return out;
}
