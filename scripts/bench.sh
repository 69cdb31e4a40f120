#!/usr/bin/env bash
# The benchmark (`npm run bench`; not part of `npm test`): abort latency from the triggering
# event's send to the guard's RunAbortedError at 1k/5k/10k background events/s, and heap bytes
# per live run, written to bench/results/latest.json. Options go to bench/run.ts.
# Services as for the tests: KAFKA_BROKERS / CLICKHOUSE_URL when set, otherwise the local Kafka
# and ClickHouse of scripts/services.sh, installed and started here from nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[bench] installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${CLICKHOUSE_URL:-}" ]; then
  which=all
  [ -n "${KAFKA_BROKERS:-}" ] && which=clickhouse
  [ -n "${CLICKHOUSE_URL:-}" ] && which=kafka
  bash scripts/services.sh up "$which"
  # Only what was not given: a KAFKA_BROKERS or CLICKHOUSE_URL set by the caller stays.
  while IFS='=' read -r name value; do
    [ -z "${!name:-}" ] && export "$name=$value"
  done < <(bash scripts/services.sh env)
fi

exec node --import tsx bench/run.ts "$@"
