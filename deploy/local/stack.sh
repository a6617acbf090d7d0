#!/usr/bin/env bash
# Local infrastructure without Docker: Apache Kafka (KRaft, one node or, with HUB_KAFKA_BROKERS=3,
# a replicated cluster of three) from Maven Central jars
# and a PostgreSQL cluster from the operating system's packages, both on loopback, with all
# state under <repo>/.local (git-ignored).
#
#   deploy/local/stack.sh up       install what is missing, start both, wait until they answer
#   deploy/local/stack.sh down     stop both (leaves data in place)
#   deploy/local/stack.sh status   say what is running
#   deploy/local/stack.sh reset    stop both and delete their data
#   deploy/local/stack.sh kafka-stop|kafka-start|pg-stop|pg-start   one component (outage tests)
#   deploy/local/stack.sh broker-kill|broker-stop|broker-start N      one broker of a cluster
#
# HUB_KAFKA_BROKERS=3 (with every command) runs three brokers instead of one; HUB_KAFKA_PORT,
# HUB_KAFKA_CONTROLLER_PORT, HUB_KAFKA_SASL_PORT and HUB_PG_PORT move the ports.
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

# One broker by default (state in .local/kafka/data); with HUB_KAFKA_BROKERS=3 three brokers,
# each also a controller, in .local/kafka/broker-N, broker N's ports 100*(N-1) above the
# single broker's (9092, 9192, 9292; controllers 9093, 9193, 9293; SASL 9094, 9194, 9294).
BROKERS=${HUB_KAFKA_BROKERS:-1}
case "$BROKERS" in 1|3) ;; *) die "HUB_KAFKA_BROKERS must be 1 or 3, not '$BROKERS'" ;; esac

broker_dir() { if [ "$BROKERS" = 1 ]; then echo "$kafka_dir"; else echo "$kafka_dir/broker-$1"; fi; }
broker_port() { echo $(( $1 + 100 * ($2 - 1) )); } # broker_port BASE N

bootstrap_servers() {
  local n servers=""
  for n in $(seq 1 "$BROKERS"); do servers+="${servers:+,}127.0.0.1:$(broker_port "$KAFKA_PORT" "$n")"; done
  echo "$servers"
}

quorum_line() {
  if [ "$BROKERS" = 1 ]; then echo "controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT"; return; fi
  local n voters=""
  for n in $(seq 1 "$BROKERS"); do voters+="${voters:+,}$n@127.0.0.1:$(broker_port "$CONTROLLER_PORT" "$n")"; done
  echo "controller.quorum.voters=$voters"
}

kafka_pid() { # kafka_pid [N]
  local dir; dir=$(broker_dir "${1:-1}")
  [ -f "$dir/kafka.pid" ] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null && cat "$dir/kafka.pid"
}

kafka_ready() { # kafka_ready N
  port_open "$(broker_port "$KAFKA_PORT" "$1")" && grep -q "Kafka Server started" "$(broker_dir "$1")/kafka.log" 2>/dev/null
}

wait_for_kafka() { # wait_for_kafka N: up to 90 s, but give up at once if the broker process died
  for _ in $(seq 1 180); do
    if kafka_ready "$1"; then say "Kafka broker $1 is ready"; return 0; fi
    kafka_pid "$1" >/dev/null || return 1
    sleep 0.5
  done
  return 1
}

broker_start() { # broker_start N: start broker N without waiting for it
  local n=$1 dir port replicas min_isr
  dir=$(broker_dir "$n"); port=$(broker_port "$KAFKA_PORT" "$n")
  if kafka_pid "$n" >/dev/null; then say "Kafka broker $n already running on 127.0.0.1:$port"; return; fi
  port_open "$port" && die "port $port is taken by another program; stop it or set HUB_KAFKA_PORT"
  replicas=$BROKERS; min_isr=$(( BROKERS > 1 ? BROKERS - 1 : 1 ))
  mkdir -p "$dir/data"
  sed -e "s#@DATA_DIR@#$dir/data#" -e "s#@NODE_ID@#$n#" -e "s#@QUORUM@#$(quorum_line)#" \
      -e "s#@KAFKA_PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$(broker_port "$CONTROLLER_PORT" "$n")#g" \
      -e "s#@SASL_PORT@#$(broker_port "$SASL_PORT" "$n")#g" \
      -e "s#@REPLICAS@#$replicas#g" -e "s#@MIN_ISR@#$min_isr#g" \
      "$here/kafka/server.properties" >"$dir/server.properties"
  local cp="$kafka_dir/lib/*"
  if [ ! -f "$dir/data/meta.properties" ]; then
    # One cluster id for every broker of the cluster, kept so a re-format agrees with the rest.
    [ -f "$kafka_dir/cluster.id" ] || java -cp "$cp" kafka.tools.StorageTool random-uuid >"$kafka_dir/cluster.id" 2>/dev/null
    local mode=(--standalone); [ "$BROKERS" = 1 ] || mode=()
    java -cp "$cp" kafka.tools.StorageTool format "${mode[@]}" -t "$(cat "$kafka_dir/cluster.id")" \
      -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
      { cat "$dir/format.log" >&2; die "could not format Kafka storage of broker $n"; }
  fi
  say "starting Kafka broker $n on 127.0.0.1:$port"
  : >"$dir/kafka.log"
  # setsid: the broker outlives the make target that started it; `down` stops it by pid.
  setsid nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
    -cp "$cp" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
}

broker_wait() { # broker_wait N
  wait_for_kafka "$1" ||
    { tail -n 30 "$(broker_dir "$1")/kafka.log" >&2; die "Kafka broker $1 did not start (log: $(broker_dir "$1")/kafka.log)"; }
}

broker_stop() { # broker_stop N [SIGNAL]: SIGTERM (a clean shutdown) unless told KILL
  local pid
  if pid=$(kafka_pid "$1"); then
    say "stopping Kafka broker $1 (pid $pid${2:+, SIG$2})"
    kill -s "${2:-TERM}" "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$(broker_dir "$1")/kafka.pid"
}

kafka_up() {
  require_java
  kafka_jars
  local n
  # A cluster's controllers need each other for a quorum: start all, then wait for each.
  for n in $(seq 1 "$BROKERS"); do broker_start "$n"; done
  for n in $(seq 1 "$BROKERS"); do broker_wait "$n"; done
}

kafka_down() {
  local n
  for n in $(seq 1 "$BROKERS"); do broker_stop "$n"; done
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
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $pg_dir/run -c max_connections=300 -c fsync=on -c shared_preload_libraries=pg_stat_statements" >/dev/null ||
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
  local n
  for n in $(seq 1 "$BROKERS"); do
    if kafka_pid "$n" >/dev/null; then
      say "Kafka broker $n: running (pid $(kafka_pid "$n")) on 127.0.0.1:$(broker_port "$KAFKA_PORT" "$n")"
    else say "Kafka broker $n: stopped"; fi
  done
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
    say "up in $(( $(date +%s) - start )) s: KAFKA_BOOTSTRAP_SERVERS=$(bootstrap_servers) DATABASE_URL=postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
    ;;
  down) kafka_down; pg_down ;;
  status) status ;;
  reset) kafka_down; pg_down; rm -rf "$kafka_dir/data" "$kafka_dir"/broker-* "$kafka_dir/cluster.id" "$pg_dir"; say "local data deleted" ;;
  # One component at a time, for outage and chaos tests.
  kafka-stop) kafka_down ;;
  kafka-start) kafka_up ;;
  pg-stop) pg_down ;;
  pg-start) pg_up ;;
  # One broker of a cluster: broker-kill N (SIGKILL, a crash), broker-stop N, broker-start N.
  broker-kill) broker_stop "${2:?broker number}" KILL ;;
  broker-stop) broker_stop "${2:?broker number}" ;;
  broker-start) require_java; kafka_jars; broker_start "${2:?broker number}"; broker_wait "$2" ;;
  *) echo "usage: $0 up|down|status|reset|kafka-stop|kafka-start|pg-stop|pg-start|broker-kill N|broker-stop N|broker-start N" >&2; exit 2 ;;
esac
