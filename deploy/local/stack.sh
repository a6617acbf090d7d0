#!/usr/bin/env bash
# Local infrastructure without Docker: Apache Kafka (KRaft, single node) from Maven Central jars
# and a PostgreSQL cluster from the operating system's packages, both on loopback, with all
# state under <repo>/.local (git-ignored).
#
#   deploy/local/stack.sh up       install what is missing, start both, wait until they answer
#   deploy/local/stack.sh down     stop both (leaves data in place)
#   deploy/local/stack.sh status   say what is running
#   deploy/local/stack.sh reset    stop both and delete their data
#   deploy/local/stack.sh kafka-stop|kafka-start|pg-stop|pg-start   one component (outage tests)
#
# Every command is idempotent: `up` on a running stack only checks it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${HUB_LOCAL_STATE:-$repo/.local}

KAFKA_PORT=${HUB_KAFKA_PORT:-9092}
CONTROLLER_PORT=${HUB_KAFKA_CONTROLLER_PORT:-9093}
SASL_PORT=${HUB_KAFKA_SASL_PORT:-9094}
PG_PORT=${HUB_PG_PORT:-5432}
PG_USER=hub
PG_PASSWORD=hub
PG_DATABASE=referral_hub

kafka_dir=$state/kafka
pg_dir=$state/postgres

say() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local waited=0
  until "$@"; do
    sleep 0.5; waited=$((waited + 1))
    if [ $waited -ge $((limit * 2)) ]; then return 1; fi
  done
  say "$what is ready"
}

# ---------------------------------------------------------------- Kafka

require_java() {
  command -v java >/dev/null || die "Java 17+ is needed for Kafka: install a JDK (Debian: apt-get install openjdk-17-jre-headless)"
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ "${major:-0}" -ge 17 ] || die "Kafka 4 needs Java 17 or newer; found Java ${major:-unknown}"
}

kafka_jars() {
  # Re-fetch only when the pom changed, so a second `up` takes seconds.
  local stamp=$kafka_dir/lib/.pom.sha256 want
  want=$(sha256sum "$here/kafka/pom.xml" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  command -v mvn >/dev/null || die "Maven is needed to fetch the Kafka jars: install it (Debian: apt-get install maven)"
  say "fetching Apache Kafka jars from Maven Central (first run only)"
  rm -rf "$kafka_dir/lib"; mkdir -p "$kafka_dir/lib"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$kafka_dir/lib" >"$kafka_dir/mvn.log" 2>&1 ||
    { tail -n 20 "$kafka_dir/mvn.log" >&2; die "Maven could not fetch the Kafka jars (log: $kafka_dir/mvn.log)"; }
  echo "$want" >"$stamp"
}

kafka_pid() { [ -f "$kafka_dir/kafka.pid" ] && kill -0 "$(cat "$kafka_dir/kafka.pid")" 2>/dev/null && cat "$kafka_dir/kafka.pid"; }

kafka_ready() { port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$kafka_dir/kafka.log" 2>/dev/null; }

wait_for_kafka() { # up to 90 s, but give up at once if the broker process died
  for _ in $(seq 1 180); do
    if kafka_ready; then say "Kafka is ready"; return 0; fi
    kafka_pid >/dev/null || return 1
    sleep 0.5
  done
  return 1
}

kafka_up() {
  if kafka_pid >/dev/null; then say "Kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another program; stop it or set HUB_KAFKA_PORT"
  require_java
  kafka_jars
  mkdir -p "$kafka_dir/data"
  sed -e "s#@DATA_DIR@#$kafka_dir/data#" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
      -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" -e "s#@SASL_PORT@#$SASL_PORT#g" "$here/kafka/server.properties" >"$kafka_dir/server.properties"
  local cp="$kafka_dir/lib/*"
  if [ ! -f "$kafka_dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null)
    java -cp "$cp" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$kafka_dir/server.properties" >"$kafka_dir/format.log" 2>&1 ||
      { cat "$kafka_dir/format.log" >&2; die "could not format Kafka storage"; }
  fi
  say "starting Kafka on 127.0.0.1:$KAFKA_PORT"
  : >"$kafka_dir/kafka.log"
  # setsid: the broker outlives the make target that started it; `down` stops it by pid.
  setsid nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
    -cp "$cp" kafka.Kafka "$kafka_dir/server.properties" >>"$kafka_dir/kafka.log" 2>&1 </dev/null &
  echo $! >"$kafka_dir/kafka.pid"
  wait_for_kafka ||
    { tail -n 30 "$kafka_dir/kafka.log" >&2; die "Kafka did not start (log: $kafka_dir/kafka.log)"; }
}

kafka_down() {
  local pid
  if pid=$(kafka_pid); then
    say "stopping Kafka (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$kafka_dir/kafka.pid"
}

# ---------------------------------------------------------------- PostgreSQL

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

pg_install() {
  pg_bindir >/dev/null && return
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available: install PostgreSQL 15+ server binaries"
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed: run 'sudo apt-get install postgresql' (installing needs root)"
  say "installing PostgreSQL from Debian's packages (first run only)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # Debian creates and may start a 'main' cluster on 5432: stop it so it never fights ours.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header 2>/dev/null | while read -r ver name _; do
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop 2>/dev/null || true
    done
  fi
  pg_bindir >/dev/null || die "PostgreSQL installed but its binaries were not found under /usr/lib/postgresql"
}

# The server refuses to run as root: as root, run its tools as the 'postgres' user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_ready() { "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

pg_up() {
  local bin; pg_install; bin=$(pg_bindir)
  if [ -f "$pg_dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"; return
  fi
  port_open "$PG_PORT" && die "port $PG_PORT is taken by another program (a Debian 'main' cluster? see pg_lsclusters); stop it or set HUB_PG_PORT"
  mkdir -p "$pg_dir/run"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$pg_dir"
  if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    say "creating the PostgreSQL cluster in $pg_dir/data"
    local pwfile; pwfile=$(mktemp); echo "$PG_PASSWORD" >"$pwfile"; chmod 644 "$pwfile"
    as_pg "$bin/initdb" -D "$pg_dir/data" -U "$PG_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$pg_dir/initdb.log" 2>&1 ||
      { rm -f "$pwfile"; cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
  fi
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $pg_dir/run -c max_connections=300 -c fsync=on" >/dev/null ||
    { tail -n 20 "$pg_dir/postgres.log" >&2; die "PostgreSQL did not start (log: $pg_dir/postgres.log)"; }
  wait_for 30 "PostgreSQL" pg_ready || die "PostgreSQL does not answer on 127.0.0.1:$PG_PORT"
  if ! PGPASSWORD=$PG_PASSWORD "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
      "select 1 from pg_database where datname='$PG_DATABASE'" | grep -q 1; then
    PGPASSWORD=$PG_PASSWORD "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DATABASE"
  fi
}

pg_down() {
  local bin; bin=$(pg_bindir) || return 0
  if [ -f "$pg_dir/data/postmaster.pid" ]; then
    say "stopping PostgreSQL"
    as_pg "$bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------- commands

status() {
  if kafka_pid >/dev/null; then say "Kafka: running (pid $(kafka_pid)) on 127.0.0.1:$KAFKA_PORT"
  else say "Kafka: stopped"; fi
  if pg_bindir >/dev/null && [ -f "$pg_dir/data/postmaster.pid" ] && pg_ready; then
    say "PostgreSQL: running on 127.0.0.1:$PG_PORT"
  else say "PostgreSQL: stopped"; fi
}

case "${1:-}" in
  up)
    start=$(date +%s)
    mkdir -p "$state"
    pg_up
    kafka_up
    say "up in $(( $(date +%s) - start )) s: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT DATABASE_URL=postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
    ;;
  down) kafka_down; pg_down ;;
  status) status ;;
  reset) kafka_down; pg_down; rm -rf "$kafka_dir/data" "$pg_dir"; say "local data deleted" ;;
  # One component at a time, for outage and chaos tests.
  kafka-stop) kafka_down ;;
  kafka-start) kafka_up ;;
  pg-stop) pg_down ;;
  pg-start) pg_up ;;
  *) echo "usage: $0 up|down|status|reset|kafka-stop|kafka-start|pg-stop|pg-start" >&2; exit 2 ;;
esac
