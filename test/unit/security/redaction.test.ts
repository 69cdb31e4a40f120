import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/env.ts';
import { createLogger, redactUrl } from '../../../src/log.ts';

const SECRETS = {
  hmac: 'hmac-secret-AAAA-0123456789',
  hmacOld: 'hmac-secret-BBBB-0123456789',
  sasl: 'sasl-password-CCCC',
  clickhouse: 'clickhouse-password-DDDD',
  urlPassword: 'url-password-EEEE',
  keyPassword: 'tls-key-pass-FFFF',
};
const env = {
  RUNWARDEN_HMAC_KEYS: `k2:${SECRETS.hmac},k1:${SECRETS.hmacOld}`,
  KAFKA_SSL: 'true',
  KAFKA_SSL_KEY_FILE: '/k.pem',
  KAFKA_SSL_CERT_FILE: '/c.pem',
  KAFKA_SSL_KEY_PASSWORD: SECRETS.keyPassword,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'rw',
  KAFKA_SASL_PASSWORD: SECRETS.sasl,
  CLICKHOUSE_URL: `http://analyst:${SECRETS.urlPassword}@clickhouse.internal:8123`,
  CLICKHOUSE_USER: 'rw',
  CLICKHOUSE_PASSWORD: SECRETS.clickhouse,
};

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('no secret ever reaches a log line', () => {
  it('logging the whole config, its parts and the environment blanks every secret and keeps the rest', () => {
    const config = loadConfig(env);
    const out = capture();
    const log = createLogger('trace', out.stream);
    log.info({ config }, 'starting');
    log.info({ kafka: config.kafka, clickhouse: config.clickhouse, hmac: config.hmac, keyRing: config.hmac }, 'parts');
    log.info({ env }, 'environment');
    log.child({ component: 'x' }).warn({ url: config.clickhouse.url, store: { url: config.clickhouse.url, password: SECRETS.clickhouse } }, 'store');
    log.info({ req: { headers: { authorization: `Basic ${Buffer.from(`rw:${SECRETS.clickhouse}`).toString('base64')}` } } }, 'request');
    const text = out.text();
    for (const [name, secret] of Object.entries(SECRETS)) expect(text, name).not.toContain(secret);
    expect(text).not.toContain(Buffer.from(`rw:${SECRETS.clickhouse}`).toString('base64'));
    // What is not secret stays readable: the host, the user names, the key ids.
    expect(text).toContain('clickhouse.internal:8123');
    expect(text).toContain('"username":"rw"');
    expect(text).toContain('[redacted]');
  });

  it('redactUrl takes credentials out of URLs inside text', () => {
    expect(redactUrl(`cannot reach http://u:${SECRETS.urlPassword}@h:8123/?x=1 (ECONNREFUSED)`)).toBe('cannot reach http://[redacted]@h:8123/?x=1 (ECONNREFUSED)');
    expect(redactUrl('http://h:8123 is fine')).toBe('http://h:8123 is fine');
  });
});
