#!/usr/bin/env bash
# The benchmark (`npm run bench`; not part of `npm test`): abort latency from the triggering
# event's send to the guard's RunAbortedError at 1k/5k/10k background events/s, and heap bytes
# per live run, written to bench/results/latest.json. Options go to bench/run.ts.
# Services as for the tests: KAFKA_BROKERS / CLICKHOUSE_URL when set, otherwise the local Kafka
# and ClickHouse of scripts/services.sh, installed and started here from nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/prepare.sh
prepare_npm bench
prepare_services

exec node --import tsx bench/run.ts "$@"
