#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need, starts the services, type-checks,
# runs the unit and integration suites, and prints a one-line summary.
# Services: KAFKA_BROKERS / CLICKHOUSE_URL when set; testcontainers when a Docker engine answers;
# otherwise the local Kafka (KRaft, from Maven Central) and ClickHouse (Debian package) of
# scripts/services.sh, installed and started here from nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/prepare.sh
prepare_npm test

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${CLICKHOUSE_URL:-}" ]; then
  if docker info >/dev/null 2>&1; then
    echo "[test] a Docker engine answers: the integration tests start testcontainers" >&2
  else
    prepare_services
  fi
fi

echo "[test] type-checking" >&2
npx tsc -p tsconfig.json --noEmit

mkdir -p .runwarden
results=.runwarden/test-results.json
rm -f "$results"
status=0
# No arguments: the unit and integration projects (`npm run test:chaos` passes `--project chaos`).
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--project unit --project integration)
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "${args[@]}" || status=$?
node scripts/test-summary.mjs "$results" || status=1
exit $status
