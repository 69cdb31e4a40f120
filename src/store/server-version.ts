/** A ClickHouse server version, parsed from `SELECT version()` (e.g. `18.16.1`, `26.7.2.1`). */
export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The version string as the server reported it. */
  readonly text: string;
}

/**
 * Features that not every supported server has. Migrations and queries ask `supports()` rather
 * than comparing versions inline, so each minimum lives in exactly one place.
 */
export const FEATURE_MIN_VERSIONS = {
  /** `LowCardinality(T)`: experimental behind a setting before 19.3, production-ready since. */
  lowcardinality: [19, 3],
  /** Table and column `TTL` clauses in MergeTree: 19.6. */
  ttl: [19, 6],
  /** `{name:Type}` placeholders bound by the server (HTTP `param_*`): 19.11. */
  query_params: [19, 11],
  /** `DateTime64`: 20.1. */
  datetime64: [20, 1],
  /** SQL-driven users and grants (`CREATE USER`, `GRANT`, `IDENTIFIED WITH sha256_hash`): 20.5. */
  sql_users: [20, 5],
} as const satisfies Record<string, readonly [number, number]>;

export type StoreFeature = keyof typeof FEATURE_MIN_VERSIONS;

/** Parses `major.minor.patch[.build][-suffix]`; throws on anything else. */
export function parseServerVersion(text: string): ServerVersion {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!match) throw new TypeError(`not a ClickHouse version: ${JSON.stringify(text)}`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0), text: text.trim() };
}

/** True when `version` has `feature` (see FEATURE_MIN_VERSIONS for the minimums). */
export function supports(version: ServerVersion, feature: StoreFeature): boolean {
  const [major, minor] = FEATURE_MIN_VERSIONS[feature];
  return version.major > major || (version.major === major && version.minor >= minor);
}
