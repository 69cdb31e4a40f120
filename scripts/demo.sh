#!/usr/bin/env bash
# The main job (`npm run demo`): installs the npm packages when needed, then runs a simulated fleet
# through runwarden. Through Kafka and ClickHouse when KAFKA_BROKERS / CLICKHOUSE_URL point at them
# or a broker is running locally (scripts/services.sh up); in process (embedded engine + chdb)
# otherwise, so it works on a fresh machine with nothing but Node.js. Options: runwarden demo --help.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/prepare.sh
prepare_npm demo
exec node bin/runwarden.js demo "$@"
