#!/usr/bin/env bash
# The benchmarks (not part of `npm test`):
#   npm run bench [-- options]       bench/run.ts: every figure, written to bench/results/latest.json
#   npm run bench:soak [-- options]  bench/soak.ts: runwarden start at 5k events/s (--duration 30m)
# Services as for the tests: KAFKA_BROKERS / CLICKHOUSE_URL when set, otherwise the local Kafka
# and ClickHouse of scripts/services.sh, installed and started here from nothing.
# The run holds /tmp/runwarden-heavy.lock (when flock exists), so that benchmarks and heavy test
# runs on a shared machine take turns; RUNWARDEN_BENCH_NO_LOCK=1 skips it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/prepare.sh
prepare_npm bench
prepare_services

entry=bench/run.ts
if [ "${1:-}" = soak ]; then
  entry=bench/soak.ts
  shift
fi
lock=()
if [ -z "${RUNWARDEN_BENCH_NO_LOCK:-}" ] && command -v flock >/dev/null; then
  echo "[bench] waiting for /tmp/runwarden-heavy.lock" >&2
  lock=(flock /tmp/runwarden-heavy.lock)
fi
exec "${lock[@]}" node --import tsx "$entry" "$@"
