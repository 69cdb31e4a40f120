import { describe, expect, it } from 'vitest';
import { FEATURE_MIN_VERSIONS, parseServerVersion, supports, type StoreFeature } from '../../../src/store/server-version.ts';

describe('parseServerVersion', () => {
  it.each([
    ['18.16.1', 18, 16, 1, '18.16.1'],
    ['26.7.2.1', 26, 7, 2, '26.7.2.1'],
    ['19.3', 19, 3, 0, '19.3'],
    ['21.8.15.7-lts', 21, 8, 15, '21.8.15.7-lts'],
    ['  25.8.1.5101\n', 25, 8, 1, '25.8.1.5101'],
    ['24.3.1.2672-stable', 24, 3, 1, '24.3.1.2672-stable'],
  ])('%j → %i.%i.%i', (text, major, minor, patch, trimmed) => {
    expect(parseServerVersion(text)).toEqual({ major, minor, patch, text: trimmed });
  });

  it.each(['', '   ', 'v21.8.1', 'latest', '21', 'ClickHouse 21.8', '.1.2'])('refuses %j', (text) => {
    expect(() => parseServerVersion(text)).toThrow(TypeError);
  });
});

describe('supports', () => {
  const v = (text: string) => parseServerVersion(text);

  it.each<[string, StoreFeature, boolean]>([
    // 18.16: what CI runs; none of the gated features.
    ['18.16.1', 'lowcardinality', false],
    ['18.16.1', 'ttl', false],
    ['18.16.1', 'query_params', false],
    ['18.16.1', 'datetime64', false],
    // Boundaries: the minimum itself supports, the minor before does not.
    ['19.2.9', 'lowcardinality', false],
    ['19.3.0', 'lowcardinality', true],
    ['19.5.4', 'ttl', false],
    ['19.6.1', 'ttl', true],
    ['19.10.1', 'query_params', false],
    ['19.11.3', 'query_params', true],
    ['19.17.9', 'datetime64', false],
    ['20.1.2', 'datetime64', true],
    // A later major with a smaller minor still supports (20.0 > 19.6).
    ['20.0.1', 'ttl', true],
    // Current releases (chdb's embedded engine is 26.x).
    ['26.7.2.1', 'lowcardinality', true],
    ['26.7.2.1', 'ttl', true],
    ['26.7.2.1', 'query_params', true],
    ['26.7.2.1', 'datetime64', true],
  ])('%s supports %s: %s', (text, feature, expected) => {
    expect(supports(v(text), feature)).toBe(expected);
  });

  it('every feature is supported from exactly its minimum version on', () => {
    for (const [feature, [major, minor]] of Object.entries(FEATURE_MIN_VERSIONS) as [StoreFeature, readonly [number, number]][]) {
      expect(supports({ major, minor, patch: 0, text: '' }, feature)).toBe(true);
      expect(supports({ major: major + 1, minor: 0, patch: 0, text: '' }, feature)).toBe(true);
      expect(supports({ major, minor: minor - 1, patch: 999, text: '' }, feature)).toBe(false);
      expect(supports({ major: major - 1, minor: 999, patch: 0, text: '' }, feature)).toBe(false);
    }
  });
});
