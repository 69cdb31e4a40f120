import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths pino blanks in every log line: secrets never reach a log. */
export const REDACT_PATHS = [
  'password',
  'secret',
  '*.password',
  '*.secret',
  '*.keys',
  '*.sasl',
  'hmac',
  'config.hmac',
  'config.kafka.sasl',
  'config.clickhouse.password',
  'signature',
  '*.signature',
];

/** Creates the process logger (JSON lines on stderr, so stdout stays free for command output). */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { svc: 'runwarden' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
