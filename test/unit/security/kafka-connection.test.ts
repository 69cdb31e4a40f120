import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/env.ts';
import { kafkaJsConnectionOptions } from '../../../src/kafka/client.ts';

const files: Record<string, string> = { '/tls/ca.pem': 'CA-PEM', '/tls/client.pem': 'CERT-PEM', '/tls/client.key': 'KEY-PEM' };
const read = (path: string): Buffer => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT: ${path}`);
  return Buffer.from(text);
};

describe('Kafka SASL and TLS from the environment, mapped onto kafkajs in one place', () => {
  it.each([
    ['plaintext', {}, { ssl: false }],
    ['TLS with the system CAs', { KAFKA_SSL: 'true' }, { ssl: { rejectUnauthorized: true } }],
    [
      'mutual TLS with a private CA',
      { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/tls/ca.pem', KAFKA_SSL_CERT_FILE: '/tls/client.pem', KAFKA_SSL_KEY_FILE: '/tls/client.key', KAFKA_SSL_KEY_PASSWORD: 'key-pass-123' },
      { ssl: { rejectUnauthorized: true, ca: [Buffer.from('CA-PEM')], cert: Buffer.from('CERT-PEM'), key: Buffer.from('KEY-PEM'), passphrase: 'key-pass-123' } },
    ],
    ['TLS without verification (tests only)', { KAFKA_SSL: '1', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }, { ssl: { rejectUnauthorized: false } }],
    ['SASL/PLAIN', { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'rw', KAFKA_SASL_PASSWORD: 'pw-1' }, { ssl: false, sasl: { mechanism: 'plain', username: 'rw', password: 'pw-1' } }],
    ['SCRAM-SHA-256 over TLS', { KAFKA_SSL: 'yes', KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'rw', KAFKA_SASL_PASSWORD: 'pw-2' }, { ssl: { rejectUnauthorized: true }, sasl: { mechanism: 'scram-sha-256', username: 'rw', password: 'pw-2' } }],
    ['SCRAM-SHA-512', { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'rw', KAFKA_SASL_PASSWORD: 'pw-3' }, { ssl: false, sasl: { mechanism: 'scram-sha-512', username: 'rw', password: 'pw-3' } }],
  ])('%s', (_name, env, expected) => {
    const config = loadConfig({ KAFKA_BROKERS: 'b1:9093,b2:9093', ...env });
    expect(kafkaJsConnectionOptions(config.kafka, read)).toEqual({ clientId: 'runwarden', brokers: ['b1:9093', 'b2:9093'], ...expected });
  });

  it.each([
    ['a TLS file without KAFKA_SSL', { KAFKA_SSL_CA_FILE: '/tls/ca.pem' }, /KAFKA_SSL_CA_FILE is set but TLS is off/],
    ['a certificate without its key', { KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/tls/client.pem' }, /needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE/],
    ['a mechanism without credentials', { KAFKA_SASL_MECHANISM: 'plain' }, /also set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/],
    ['credentials without a mechanism', { KAFKA_SASL_USERNAME: 'rw', KAFKA_SASL_PASSWORD: 'never-shown-pw' }, /also set KAFKA_SASL_MECHANISM/],
    ['an unknown mechanism', { KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'rw', KAFKA_SASL_PASSWORD: 'never-shown-pw' }, /KAFKA_SASL_MECHANISM/],
  ])('refuses %s with a message that says what to set (and no secret)', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message).not.toContain('never-shown-pw');
    }
  });
});
