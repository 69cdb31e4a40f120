#!/usr/bin/env bash
# The main job (`npm run demo`): installs what it needs, starts Kafka and ClickHouse unless
# KAFKA_BROKERS / CLICKHOUSE_URL point elsewhere, then runs a simulated fleet through runwarden.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${CLICKHOUSE_URL:-}" ]; then
  which=all
  [ -n "${KAFKA_BROKERS:-}" ] && which=clickhouse
  [ -n "${CLICKHOUSE_URL:-}" ] && which=kafka
  bash scripts/services.sh up "$which"
  eval "$(bash scripts/services.sh env | sed 's/^/export /')"
fi
exec node bin/runwarden.js demo "$@"
