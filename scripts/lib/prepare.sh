# Sourced by the entry scripts (test.sh, demo.sh, bench.sh): what every one of them needs first.
# Expects to run from the repository root, with `set -euo pipefail` already on.

# npm ci when node_modules is missing or older than the lock file.
prepare_npm() {
  local tag=$1
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "[$tag] installing npm packages (npm ci)" >&2
    npm ci --no-audit --no-fund >&2
  fi
}

# Starts the local Kafka and/or ClickHouse of scripts/services.sh for whichever of KAFKA_BROKERS /
# CLICKHOUSE_URL the caller did not set, and exports their addresses. What the caller set stays.
prepare_services() {
  if [ -n "${KAFKA_BROKERS:-}" ] && [ -n "${CLICKHOUSE_URL:-}" ]; then return; fi
  local which=all
  [ -n "${KAFKA_BROKERS:-}" ] && which=clickhouse
  [ -n "${CLICKHOUSE_URL:-}" ] && which=kafka
  bash scripts/services.sh up "$which"
  local name value
  while IFS='=' read -r name value; do
    [ -z "${!name:-}" ] && export "$name=$value"
  done < <(bash scripts/services.sh env)
  return 0
}
