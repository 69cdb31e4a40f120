#!/usr/bin/env bash
# The main job (`npm run demo`): installs what it needs, starts Kafka and ClickHouse unless
# KAFKA_BROKERS / CLICKHOUSE_URL point elsewhere, then runs a simulated fleet through runwarden.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/prepare.sh
prepare_npm demo
prepare_services
exec node bin/runwarden.js demo "$@"
