import { z } from 'zod';
import { DEFAULT_OTLP_MAPPING, parseAttrKeys, type OtlpMappingOptions } from '../otlp/mapping-options.ts';

/** Topic names (SPEC §1, §2, §3, §6). Overridable for multi-tenant clusters and tests. */
export interface Topics {
  spans: string;
  dlq: string;
  control: string;
  findings: string;
  /** Internal: per-cohort partials from the per-run stage to the cohort stage (key = cohort routing key). */
  partials: string;
  /** Internal, compacted: the cohort stage's checkpointed state (key = group/partition). */
  checkpoints: string;
}

/** The environment variables that name `topics` (for child processes: a warden under test). */
export function topicsEnv(topics: Topics): Record<string, string> {
  return {
    RUNWARDEN_TOPIC_SPANS: topics.spans,
    RUNWARDEN_TOPIC_DLQ: topics.dlq,
    RUNWARDEN_TOPIC_CONTROL: topics.control,
    RUNWARDEN_TOPIC_FINDINGS: topics.findings,
    RUNWARDEN_TOPIC_PARTIALS: topics.partials,
    RUNWARDEN_TOPIC_CHECKPOINTS: topics.checkpoints,
  };
}

/** Every topic under one prefix (tests, benchmarks, one cluster shared by several deployments). */
export function topicsWithPrefix(prefix: string): Topics {
  return {
    spans: `${prefix}.spans`,
    dlq: `${prefix}.dlq`,
    control: `${prefix}.control`,
    findings: `${prefix}.findings`,
    partials: `${prefix}.partials`,
    checkpoints: `${prefix}.checkpoints`,
  };
}

const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'each broker must be host:port')).min(1, 'name at least one broker'));

/** A comma-separated list of OTel attribute keys, in lookup order. */
const keyList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string()).min(1, 'name at least one attribute key'));

const bool = z.enum(['1', '0', 'true', 'false', 'yes', 'no']).transform((v) => v === '1' || v === 'true' || v === 'yes');

/** One zod schema over the environment: parsed once, at the edge; nothing inside reads process.env. */
const envSchema = z
  .object({
    KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
    KAFKA_CLIENT_ID: z.string().min(1).default('runwarden'),
    KAFKA_SSL: bool.default(false),
    KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    KAFKA_SASL_USERNAME: z.string().optional(),
    KAFKA_SASL_PASSWORD: z.string().optional(),
    KAFKA_SSL_CA_FILE: z.string().optional(),
    KAFKA_SSL_CERT_FILE: z.string().optional(),
    KAFKA_SSL_KEY_FILE: z.string().optional(),
    KAFKA_SSL_KEY_PASSWORD: z.string().optional(),
    KAFKA_SSL_REJECT_UNAUTHORIZED: bool.default(true),
    CLICKHOUSE_URL: z.url('must be a URL such as http://127.0.0.1:8123').optional(),
    CLICKHOUSE_USER: z.string().optional(),
    CLICKHOUSE_PASSWORD: z.string().optional(),
    CLICKHOUSE_DATABASE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _ only').default('runwarden'),
    RUNWARDEN_DATA_DIR: z.string().min(1).default('.runwarden'),
    RUNWARDEN_POLICY: z.string().optional(),
    RUNWARDEN_TOPIC_SPANS: z.string().min(1).default('agent.spans'),
    RUNWARDEN_TOPIC_DLQ: z.string().min(1).default('agent.spans.dlq'),
    RUNWARDEN_TOPIC_CONTROL: z.string().min(1).default('agent.control'),
    RUNWARDEN_TOPIC_FINDINGS: z.string().min(1).default('runwarden.findings'),
    RUNWARDEN_TOPIC_PARTIALS: z.string().min(1).default('runwarden.partials'),
    RUNWARDEN_TOPIC_CHECKPOINTS: z.string().min(1).default('runwarden.checkpoints'),
    RUNWARDEN_TOPIC_OTLP: z.string().min(1).default('otlp_spans'),
    RUNWARDEN_OTLP_RUN_ID_KEY: z.string().optional(),
    RUNWARDEN_OTLP_AGENT_KEYS: keyList.optional(),
    RUNWARDEN_OTLP_TENANT_KEYS: keyList.optional(),
    RUNWARDEN_OTLP_USER_KEYS: keyList.optional(),
    RUNWARDEN_OTLP_ATTRS: z.string().optional(),
    RUNWARDEN_HMAC_KEYS: z.string().optional(),
    RUNWARDEN_HMAC_ACTIVE_KEY: z.string().optional(),
    RUNWARDEN_HMAC_RETIRED_KEYS: z.string().optional(),
    RUNWARDEN_INGEST_MAX_BUFFERED_ROWS: z.coerce.number().int('a whole number of rows').min(1_000, 'at least 1000 rows').default(50_000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    RUNWARDEN_METRICS_PORT: z.coerce
      .number({ error: 'must be a TCP port number (0 turns the metrics endpoint off)' })
      .int('must be a TCP port number (0 turns the metrics endpoint off)')
      .min(0, 'must be a TCP port number (0 turns the metrics endpoint off)')
      .max(65_535, 'must be a TCP port number, at most 65535')
      .default(9464),
    RUNWARDEN_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    // The broker bounds a group's session timeout to [group.min.session.timeout.ms (6 s), …max (30 min)].
    RUNWARDEN_KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000, 'at least 6000 (the broker refuses shorter sessions)').max(300_000).optional(),
    RUNWARDEN_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).optional(),
    RUNWARDEN_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  })
  .superRefine((e, ctx) => {
    if (e.RUNWARDEN_OTLP_ATTRS !== undefined && typeof parseAttrKeys(e.RUNWARDEN_OTLP_ATTRS) === 'string') {
      ctx.addIssue({ code: 'custom', path: ['RUNWARDEN_OTLP_ATTRS'], message: parseAttrKeys(e.RUNWARDEN_OTLP_ATTRS) as string });
    }
    if (e.KAFKA_SASL_MECHANISM && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_USERNAME'], message: 'KAFKA_SASL_MECHANISM is set: also set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD' });
    }
    if (!e.KAFKA_SASL_MECHANISM && (e.KAFKA_SASL_USERNAME || e.KAFKA_SASL_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_MECHANISM'], message: 'KAFKA_SASL_USERNAME/PASSWORD are set: also set KAFKA_SASL_MECHANISM (plain, scram-sha-256 or scram-sha-512)' });
    }
    const tlsFiles = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_KEY_PASSWORD'] as const;
    for (const name of tlsFiles) {
      if (e[name] !== undefined && !e.KAFKA_SSL) ctx.addIssue({ code: 'custom', path: [name], message: `${name} is set but TLS is off: also set KAFKA_SSL=true` });
    }
    if ((e.KAFKA_SSL_CERT_FILE === undefined) !== (e.KAFKA_SSL_KEY_FILE === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_SSL_CERT_FILE'], message: 'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE' });
    }
  });

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  /** TLS to the brokers (KAFKA_SSL). */
  ssl: boolean;
  /** TLS details when `ssl` (PEM files; read when the client is built, src/kafka/client.ts). */
  tls?: KafkaTlsConfig;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

export interface KafkaTlsConfig {
  /** CA bundle that signed the brokers' certificates (default: the system's CAs). */
  caFile?: string;
  /** Client certificate and key for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  keyPassword?: string;
  /** Refuse brokers whose certificate does not verify (default true; false only for tests). */
  rejectUnauthorized: boolean;
}

export interface ClickhouseConfig {
  /** Absent: the embedded chdb store under dataDir. */
  url?: string;
  username?: string;
  password?: string;
  database: string;
}

export interface HmacKeyRing {
  activeKeyId: string;
  keys: Record<string, string>;
  /** Key id → epoch ms until which a rotated-out key still verifies (RUNWARDEN_HMAC_RETIRED_KEYS). */
  retired?: Record<string, number>;
}

/** OpenTelemetry ingestion (the `otlp` stage): where the collector writes, and how spans map to events. */
export interface OtlpConfig {
  /** The collector kafka exporter's topic (its default for traces is `otlp_spans`). */
  topic: string;
  mapping: OtlpMappingOptions;
}

/** The HTTP endpoint of `runwarden start`: /metrics, /healthz, /readyz. */
export interface MetricsConfig {
  /** 0: no endpoint. */
  port: number;
  /** Interface to bind; 127.0.0.1 unless metrics must be reachable from elsewhere (0.0.0.0 in a container). */
  host: string;
}

/** Timing of the consumers (`runwarden start`); absent values keep each consumer's default. */
export interface ConsumerTimings {
  /** How long the group waits for a silent member (a crashed process) before moving its partitions (ms). */
  sessionTimeoutMs?: number;
  /** How often the cohort stage checkpoints its state and commits (ms, default 10,000). */
  checkpointIntervalMs?: number;
  /** The bound on an ordered shutdown after SIGTERM/SIGINT (ms); past it the process exits with EXIT.shutdownTimeout. */
  shutdownTimeoutMs: number;
}

export interface Config {
  kafka: KafkaConfig;
  consumers: ConsumerTimings;
  clickhouse: ClickhouseConfig;
  dataDir: string;
  policyPath?: string;
  topics: Topics;
  otlp: OtlpConfig;
  hmac?: HmacKeyRing;
  /** The ingest's bound on rows held for ClickHouse; past it, fetching pauses (RUNWARDEN_INGEST_MAX_BUFFERED_ROWS). */
  ingest: { maxBufferedRows: number };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  metrics: MetricsConfig;
}

/** Thrown when configuration is invalid; the message lists each variable and what to change. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment into a Config, or throws a ConfigError that says what to fix. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const config: Config = {
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, ssl: e.KAFKA_SSL },
    clickhouse: { database: e.CLICKHOUSE_DATABASE },
    dataDir: e.RUNWARDEN_DATA_DIR,
    topics: {
      spans: e.RUNWARDEN_TOPIC_SPANS,
      dlq: e.RUNWARDEN_TOPIC_DLQ,
      control: e.RUNWARDEN_TOPIC_CONTROL,
      findings: e.RUNWARDEN_TOPIC_FINDINGS,
      partials: e.RUNWARDEN_TOPIC_PARTIALS,
      checkpoints: e.RUNWARDEN_TOPIC_CHECKPOINTS,
    },
    otlp: { topic: e.RUNWARDEN_TOPIC_OTLP, mapping: otlpMapping(e) },
    ingest: { maxBufferedRows: e.RUNWARDEN_INGEST_MAX_BUFFERED_ROWS },
    logLevel: e.LOG_LEVEL,
    metrics: { port: e.RUNWARDEN_METRICS_PORT, host: e.RUNWARDEN_METRICS_HOST },
    consumers: {
      shutdownTimeoutMs: e.RUNWARDEN_SHUTDOWN_TIMEOUT_MS,
      ...(e.RUNWARDEN_KAFKA_SESSION_TIMEOUT_MS !== undefined ? { sessionTimeoutMs: e.RUNWARDEN_KAFKA_SESSION_TIMEOUT_MS } : {}),
      ...(e.RUNWARDEN_CHECKPOINT_INTERVAL_MS !== undefined ? { checkpointIntervalMs: e.RUNWARDEN_CHECKPOINT_INTERVAL_MS } : {}),
    },
  };
  if (e.KAFKA_SSL) {
    const tls: KafkaTlsConfig = { rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED };
    if (e.KAFKA_SSL_CA_FILE) tls.caFile = e.KAFKA_SSL_CA_FILE;
    if (e.KAFKA_SSL_CERT_FILE) tls.certFile = e.KAFKA_SSL_CERT_FILE;
    if (e.KAFKA_SSL_KEY_FILE) tls.keyFile = e.KAFKA_SSL_KEY_FILE;
    if (e.KAFKA_SSL_KEY_PASSWORD) tls.keyPassword = e.KAFKA_SSL_KEY_PASSWORD;
    config.kafka.tls = tls;
  }
  if (e.KAFKA_SASL_MECHANISM && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD) {
    config.kafka.sasl = { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD };
  }
  if (e.CLICKHOUSE_URL) config.clickhouse.url = e.CLICKHOUSE_URL;
  if (e.CLICKHOUSE_USER) config.clickhouse.username = e.CLICKHOUSE_USER;
  if (e.CLICKHOUSE_PASSWORD) config.clickhouse.password = e.CLICKHOUSE_PASSWORD;
  if (e.RUNWARDEN_POLICY) config.policyPath = e.RUNWARDEN_POLICY;
  if (e.RUNWARDEN_HMAC_KEYS) config.hmac = parseKeyRing(e.RUNWARDEN_HMAC_KEYS, e.RUNWARDEN_HMAC_ACTIVE_KEY, e.RUNWARDEN_HMAC_RETIRED_KEYS);
  return config;
}

function otlpMapping(e: z.output<typeof envSchema>): OtlpMappingOptions {
  const extra = e.RUNWARDEN_OTLP_ATTRS === undefined ? {} : parseAttrKeys(e.RUNWARDEN_OTLP_ATTRS);
  return {
    ...DEFAULT_OTLP_MAPPING,
    ...(e.RUNWARDEN_OTLP_RUN_ID_KEY ? { runIdKey: e.RUNWARDEN_OTLP_RUN_ID_KEY } : {}),
    agentKeys: e.RUNWARDEN_OTLP_AGENT_KEYS ?? DEFAULT_OTLP_MAPPING.agentKeys,
    tenantKeys: e.RUNWARDEN_OTLP_TENANT_KEYS ?? DEFAULT_OTLP_MAPPING.tenantKeys,
    userKeys: e.RUNWARDEN_OTLP_USER_KEYS ?? DEFAULT_OTLP_MAPPING.userKeys,
    // Checked in the schema: a string here is impossible, but the type says it could be.
    attrKeys: { ...DEFAULT_OTLP_MAPPING.attrKeys, ...(typeof extra === 'string' ? {} : extra) },
  };
}

/**
 * `id1:secret1,id2:secret2`; the active key is RUNWARDEN_HMAC_ACTIVE_KEY or the first.
 * `retired` (RUNWARDEN_HMAC_RETIRED_KEYS): `id:until[,id:until]`, until an ISO-8601 time or epoch
 * ms — each a key of the ring, not the active one, that verifies only until then (rotation grace).
 * Error messages name ids, never secrets.
 */
export function parseKeyRing(spec: string, active?: string, retired?: string): HmacKeyRing {
  const keys: Record<string, string> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = part.indexOf(':');
    const id = part.slice(0, at);
    const secret = part.slice(at + 1);
    if (at <= 0 || secret.length < 16) {
      throw new ConfigError('invalid configuration:\n  RUNWARDEN_HMAC_KEYS: write it as id:secret[,id:secret], each secret at least 16 characters');
    }
    keys[id] = secret;
  }
  const activeKeyId = active ?? Object.keys(keys)[0];
  if (!activeKeyId || !(activeKeyId in keys)) {
    throw new ConfigError(`invalid configuration:\n  RUNWARDEN_HMAC_ACTIVE_KEY: "${active ?? ''}" is not one of the ids in RUNWARDEN_HMAC_KEYS`);
  }
  const ring: HmacKeyRing = { activeKeyId, keys };
  if (retired !== undefined) ring.retired = parseRetired(retired, ring);
  return ring;
}

function parseRetired(spec: string, ring: HmacKeyRing): Record<string, number> {
  const out: Record<string, number> = {};
  const fail = (what: string) => new ConfigError(`invalid configuration:\n  RUNWARDEN_HMAC_RETIRED_KEYS: ${what}`);
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = part.indexOf(':');
    const id = part.slice(0, at);
    const when = part.slice(at + 1).trim();
    if (at <= 0 || when === '') throw fail('write it as id:until[,id:until], until an ISO-8601 time (2026-12-01T00:00:00Z) or epoch ms');
    const ms = /^\d+$/.test(when) ? Number(when) : Date.parse(when);
    if (!Number.isSafeInteger(ms) || ms < 0) throw fail(`"${id}": "${when}" is neither an ISO-8601 time nor epoch ms`);
    if (!Object.hasOwn(ring.keys, id)) throw fail(`"${id}" is not one of the ids in RUNWARDEN_HMAC_KEYS (keep its secret there until the grace period ends)`);
    if (id === ring.activeKeyId) throw fail(`"${id}" is the active key; set RUNWARDEN_HMAC_ACTIVE_KEY to the new key first`);
    out[id] = ms;
  }
  return out;
}

function stripEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
