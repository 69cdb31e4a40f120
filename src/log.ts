import { pino, type Logger } from 'pino';

export type { Logger };

/** Fields that hold a URL: logged with any `user:password@` taken out, the rest kept (it says where). */
const URL_KEYS = new Set(['url', 'CLICKHOUSE_URL', 'brokerUrl']);

/**
 * Paths pino blanks in every log line: secrets never reach a log. Every field that can carry one:
 * HMAC secrets (the key ring, RUNWARDEN_HMAC_KEYS), the Kafka SASL password and TLS key
 * passphrase, the ClickHouse password, credentials inside URLs, HTTP auth headers, signatures.
 * Secrets that could end up inside message text (URLs in error messages) are scrubbed where the
 * text is made: see `redactUrl`.
 */
export const REDACT_PATHS = [
  'password',
  'secret',
  'passphrase',
  'keyPassword',
  '*.password',
  '*.secret',
  '*.passphrase',
  '*.keyPassword',
  '*.keys',
  '*.sasl',
  // pino's * spans one level: secrets one level deeper too (config.kafka.tls.keyPassword, …).
  '*.*.password',
  '*.*.secret',
  '*.*.passphrase',
  '*.*.keyPassword',
  '*.*.keys',
  '*.*.sasl',
  'hmac',
  'keyRing',
  '*.keyRing',
  'config.hmac',
  'config.kafka.sasl',
  'config.kafka.tls.keyPassword',
  'config.clickhouse.password',
  'signature',
  '*.signature',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  // The environment, if a whole env object is ever logged.
  '*.KAFKA_SASL_PASSWORD',
  '*.KAFKA_SSL_KEY_PASSWORD',
  '*.CLICKHOUSE_PASSWORD',
  '*.RUNWARDEN_HMAC_KEYS',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_KEY_PASSWORD',
  'CLICKHOUSE_PASSWORD',
  'RUNWARDEN_HMAC_KEYS',
  // URLs: credentials removed, host kept (censor below).
  'url',
  '*.url',
  'config.clickhouse.url',
  'CLICKHOUSE_URL',
  '*.CLICKHOUSE_URL',
];

/** `scheme://user:password@host/…` → `scheme://[redacted]@host/…`; anything else unchanged. */
export function redactUrl(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1[redacted]@');
}

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1] ?? '';
  if (URL_KEYS.has(key)) return typeof value === 'string' ? redactUrl(value) : value;
  return '[redacted]';
}

/** Creates the process logger (JSON lines on stderr, so stdout stays free for command output). */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { svc: 'runwarden' }, redact: { paths: REDACT_PATHS, censor } }, destination);
}
