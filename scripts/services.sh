#!/usr/bin/env bash
# Local services for development and CI, from nothing, without Docker:
#   - Apache Kafka, one KRaft broker+controller on 127.0.0.1:$KAFKA_PORT, jars resolved from
#     Maven Central by services/kafka/pom.xml, started with plain `java`;
#   - ClickHouse server from Debian's `clickhouse-server` package on 127.0.0.1:$CLICKHOUSE_HTTP_PORT.
# All state (jars, data, logs, pids) lives in $RUNWARDEN_SERVICES_DIR (default .services/, ignored).
#
# Usage: scripts/services.sh up|down|status|env [kafka|clickhouse]
# `up` is idempotent: a service that already answers on its port is reused, not restarted.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${RUNWARDEN_SERVICES_DIR:-$ROOT/.services}
KAFKA_PORT=${RUNWARDEN_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${RUNWARDEN_KAFKA_CONTROLLER_PORT:-9093}
CH_HTTP_PORT=${RUNWARDEN_CLICKHOUSE_HTTP_PORT:-8123}
CH_TCP_PORT=${RUNWARDEN_CLICKHOUSE_TCP_PORT:-9000}
WAIT_SECONDS=${RUNWARDEN_SERVICES_WAIT_SECONDS:-120}

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi; }

# --- Kafka -------------------------------------------------------------------------------------

kafka_jars() {
  local libs=$DIR/kafka/libs stamp=$DIR/kafka/libs/.pom.sha
  local want; want=$(sha256sum "$ROOT/services/kafka/pom.xml" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  command -v java >/dev/null || die "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || { log "installing maven"; as_root apt-get install -y -q maven >/dev/null; }
  log "resolving Kafka jars from Maven Central into $libs"
  rm -rf "$libs"
  mvn -q -B -f "$ROOT/services/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -Dmaven.repo.local="$DIR/m2" >"$DIR/mvn.log" 2>&1 \
    || { tail -20 "$DIR/mvn.log" >&2; die "maven could not resolve the Kafka jars (see $DIR/mvn.log)"; }
  echo "$want" >"$stamp"
}

kafka_up() {
  if port_open "$KAFKA_PORT"; then log "kafka already answers on 127.0.0.1:$KAFKA_PORT"; return; fi
  kafka_jars
  local k=$DIR/kafka
  mkdir -p "$k/data" "$k/log"
  sed -e "s#@DIR@#$DIR#g" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$ROOT/services/kafka/server.properties" >"$k/server.properties"
  local cp="$k/libs/*"
  local jvm=(-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$ROOT/services/kafka/log4j2.yaml" -Dkafka.logs.dir="$k/log")
  if [ ! -f "$k/data/meta.properties" ]; then
    log "formatting Kafka storage"
    local id; id=$(java -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool format -t "$id" -c "$k/server.properties" \
      >"$k/log/format.log" 2>&1 || { cat "$k/log/format.log" >&2; die "kafka storage format failed"; }
  fi
  log "starting Kafka on 127.0.0.1:$KAFKA_PORT"
  nohup java -cp "$cp" "${jvm[@]}" kafka.Kafka "$k/server.properties" </dev/null >"$k/log/stdout.log" 2>&1 &
  echo $! >"$k/pid"
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    if port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$k/log/server.log" "$k/log/stdout.log" 2>/dev/null; then
      log "kafka ready"; return
    fi
    kill -0 "$(cat "$k/pid")" 2>/dev/null || { tail -30 "$k/log/stdout.log" "$k/log/server.log" >&2 2>/dev/null; die "kafka exited during start"; }
    sleep 0.5
  done
  die "kafka did not answer within ${WAIT_SECONDS}s (see $k/log)"
}

# --- ClickHouse --------------------------------------------------------------------------------

clickhouse_bin() { command -v clickhouse-server || command -v clickhouse || true; }

clickhouse_install() {
  [ -n "$(clickhouse_bin)" ] && return
  log "installing Debian's clickhouse-server package"
  as_root apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q clickhouse-server clickhouse-client >"$DIR/apt.log" 2>&1 \
    || { tail -20 "$DIR/apt.log" >&2; die "apt-get could not install clickhouse-server (see $DIR/apt.log)"; }
}

clickhouse_ready() { [ "$(curl -s -m 2 "http://127.0.0.1:$CH_HTTP_PORT/?query=SELECT%201" 2>/dev/null)" = "1" ]; }

clickhouse_up() {
  if clickhouse_ready; then log "clickhouse already answers on 127.0.0.1:$CH_HTTP_PORT"; return; fi
  command -v curl >/dev/null || as_root apt-get install -y -q curl >/dev/null
  clickhouse_install
  local c=$DIR/clickhouse
  mkdir -p "$c/data" "$c/tmp" "$c/user_files" "$c/format_schemas" "$c/log" "$c/etc"
  for f in config.xml users.xml; do
    sed -e "s#@DIR@#$DIR#g" -e "s#@HTTP_PORT@#$CH_HTTP_PORT#g" -e "s#@TCP_PORT@#$CH_TCP_PORT#g" \
      "$ROOT/services/clickhouse/$f" >"$c/etc/$f"
  done
  log "starting ClickHouse on 127.0.0.1:$CH_HTTP_PORT"
  local bin; bin=$(clickhouse_bin)
  if [ "$(basename "$bin")" = clickhouse ]; then bin="$bin server"; fi
  # exec: the pid file names the server itself, and no shell lingers holding the caller's pipes.
  (cd "$c" && exec $bin --config-file="$c/etc/config.xml") </dev/null >"$c/log/stdout.log" 2>&1 &
  echo $! >"$c/pid"
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    if clickhouse_ready; then log "clickhouse ready"; return; fi
    kill -0 "$(cat "$c/pid")" 2>/dev/null || { tail -30 "$c/log/stdout.log" "$c/log/server.err.log" >&2 2>/dev/null; die "clickhouse exited during start"; }
    sleep 0.5
  done
  die "clickhouse did not answer within ${WAIT_SECONDS}s (see $c/log)"
}

# --- commands ----------------------------------------------------------------------------------

stop_pid() {
  local name=$1 pidfile=$2 i
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill "$pid"
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
}

status() {
  port_open "$KAFKA_PORT" && echo "kafka: up (127.0.0.1:$KAFKA_PORT)" || echo "kafka: down"
  clickhouse_ready && echo "clickhouse: up (http://127.0.0.1:$CH_HTTP_PORT)" || echo "clickhouse: down"
}

what=${2:-all}
mkdir -p "$DIR"
case "${1:-}" in
  up)
    case $what in kafka) kafka_up ;; clickhouse) clickhouse_up ;; all) kafka_up; clickhouse_up ;; *) die "unknown service: $what" ;; esac ;;
  down)
    case $what in kafka|all) stop_pid kafka "$DIR/kafka/pid" ;; esac
    case $what in clickhouse|all) stop_pid clickhouse "$DIR/clickhouse/pid" ;; esac ;;
  status) status ;;
  env)
    echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
    echo "CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT" ;;
  *) echo "usage: scripts/services.sh up|down|status|env [kafka|clickhouse]" >&2; exit 2 ;;
esac
