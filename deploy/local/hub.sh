#!/usr/bin/env bash
# The whole hub on this machine: infrastructure (stack.sh), schemas, topics, demo link workers
# and community services, and the services as background processes with logs under .local/logs.
#
#   deploy/local/hub.sh up     start everything detached and print the URLs
#   deploy/local/hub.sh run    the same, then wait; Ctrl-C stops the services
#   deploy/local/hub.sh down   stop the services and the infrastructure
#   deploy/local/hub.sh status
#
# DEMO=webhooks (make run DEMO=webhooks) also lets the notifier deliver to loopback and starts
# `referral-hub demo webhooks`: a receiver on WEBHOOK_DEMO_PORT (8009) subscribed for the demo
# agency, with a page showing each delivery and whether its signature checks out.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${HUB_LOCAL_STATE:-$repo/.local}
run_dir=$state/run
log_dir=$state/logs
python=$repo/.venv/bin/python
services=(intake router notifier web)
declare -A ports=([intake]=${INTAKE_HTTP_PORT:-8001} [router]=${ROUTER_HTTP_PORT:-8002} [notifier]=${NOTIFIER_HTTP_PORT:-8003} [web]=${WEB_HTTP_PORT:-8000})
# The web app calls the other three's HTTP APIs: point it at the ports they listen on.
export INTAKE_URL=${INTAKE_URL:-http://127.0.0.1:${ports[intake]}}
export ROUTER_URL=${ROUTER_URL:-http://127.0.0.1:${ports[router]}}
export NOTIFIER_URL=${NOTIFIER_URL:-http://127.0.0.1:${ports[notifier]}}
demo=${DEMO:-}
webhook_port=${WEBHOOK_DEMO_PORT:-8009}
case "$demo" in
  "") ;;
  webhooks) export NOTIFIER_ALLOW_HTTP_ENDPOINTS=true ;;  # loopback receivers: demo only
  *) printf '[hub] error: unknown DEMO=%s (the demos: webhooks)\n' "$demo" >&2; exit 2 ;;
esac

say() { printf '[hub] %s\n' "$*"; }
die() { printf '[hub] error: %s\n' "$*" >&2; exit 1; }

service_pid() { [ -f "$run_dir/$1.pid" ] && kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null && cat "$run_dir/$1.pid"; }

start_services() {
  [ -x "$python" ] || die "no virtual environment: run 'make install' first"
  if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || [ -z "${DATABASE_URL:-}" ]; then
    bash "$here/stack.sh" up
    if [ "${HUB_KAFKA_BROKERS:-1}" = 3 ]; then
      # Three brokers, 100 ports apart (stack.sh); every topic replicated to all three.
      local base=${HUB_KAFKA_PORT:-9092}
      export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$base,127.0.0.1:$((base + 100)),127.0.0.1:$((base + 200))
      export HUB_KAFKA_REPLICATION_FACTOR=${HUB_KAFKA_REPLICATION_FACTOR:-3}
    fi
  else
    say "using KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL from the environment"
  fi
  "$repo/.venv/bin/referral-hub" db upgrade
  "$repo/.venv/bin/referral-hub" topics ensure
  mkdir -p "$run_dir" "$log_dir"
  # Text lines for the person following them in this terminal; JSON (the services' default)
  # is for log collectors: HUB_LOG_FORMAT=json make run.
  export HUB_LOG_FORMAT=${HUB_LOG_FORMAT:-text}
  for name in "${services[@]}"; do
    if service_pid "$name" >/dev/null; then say "$name already running"; continue; fi
    setsid nohup "$python" -m "hub_$name" >>"$log_dir/$name.log" 2>&1 </dev/null &
    echo $! >"$run_dir/$name.pid"
  done
  for name in "${services[@]}"; do
    local url="http://127.0.0.1:${ports[$name]}/health/ready" waited=0
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
      service_pid "$name" >/dev/null || { tail -n 20 "$log_dir/$name.log" >&2; die "$name exited (log: $log_dir/$name.log)"; }
      sleep 0.5; waited=$((waited + 1))
      [ $waited -lt 120 ] || die "$name not ready after 60 s (log: $log_dir/$name.log)"
    done
    say "$name ready"
  done
  "$repo/.venv/bin/referral-hub" workers load "$repo/deploy/demo/linkworkers.csv"
  # Community services (Open Referral UK, invented): unchanged services are not published again.
  "$repo/.venv/bin/referral-hub" directory import "$repo/deploy/demo/swl-services.oruk.json"
  local demo_logins webhooks_line=""
  demo_logins=$("$python" -m hub_web.demo_logins | sed 's/^/              /')
  if [ "$demo" = webhooks ]; then
    start_webhook_demo
    webhooks_line="    webhooks  http://127.0.0.1:$webhook_port    (every delivery to the demo agency, signature checked)"
  fi
  cat <<MSG

  The referral hub is running.
    intake    http://127.0.0.1:${ports[intake]}    (API docs: /docs, health: /health/ready)
    router    http://127.0.0.1:${ports[router]}
    notifier  http://127.0.0.1:${ports[notifier]}
    web       http://127.0.0.1:${ports[web]}    (the web app; sign in as a demo user:)
$demo_logins
$webhooks_line
    Kafka     ${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}    PostgreSQL ${DATABASE_URL:-postgresql://hub:hub@127.0.0.1:5432/referral_hub}
    logs      $log_dir/

  Try it: publish an agency referral with any Kafka client, e.g.
    .venv/bin/python -m hub_cli.main referrals send community tests/fixtures/inbound/community-referral.json
  and watch the Task appear on referrals.tasks.

MSG
}

start_webhook_demo() {
  if service_pid webhooks >/dev/null; then say "webhook demo already running"; return; fi
  setsid nohup "$repo/.venv/bin/referral-hub" demo webhooks --port "$webhook_port" \
    --notifier "$NOTIFIER_URL" >>"$log_dir/webhooks.log" 2>&1 </dev/null &
  echo $! >"$run_dir/webhooks.pid"
  local waited=0
  until grep -q "webhook demo: subscription" "$log_dir/webhooks.log" 2>/dev/null; do
    service_pid webhooks >/dev/null || { tail -n 20 "$log_dir/webhooks.log" >&2; die "the webhook demo exited (log: $log_dir/webhooks.log)"; }
    sleep 0.5; waited=$((waited + 1))
    [ $waited -lt 60 ] || die "the webhook demo did not subscribe in 30 s (log: $log_dir/webhooks.log)"
  done
  say "webhook demo ready"
}

stop_services() {
  for name in "${services[@]}" webhooks; do
    local pid
    if pid=$(service_pid "$name"); then
      say "stopping $name (pid $pid)"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$run_dir/$name.pid"
  done
}

case "${1:-}" in
  up) start_services ;;
  run)
    start_services
    say "following the service logs; Ctrl-C stops the services"
    tail -n 0 -F "$log_dir/intake.log" "$log_dir/router.log" "$log_dir/notifier.log" "$log_dir/web.log" &
    follower=$!
    trap 'echo; kill "$follower" 2>/dev/null; stop_services; say "services stopped; Kafka and PostgreSQL keep running (make down stops them)"; exit 0' INT TERM
    wait
    ;;
  down) stop_services; bash "$here/stack.sh" down ;;
  status)
    for name in "${services[@]}"; do
      if pid=$(service_pid "$name"); then say "$name: running (pid $pid) on port ${ports[$name]}"; else say "$name: stopped"; fi
    done
    bash "$here/stack.sh" status
    ;;
  *) echo "usage: $0 up|run|down|status" >&2; exit 2 ;;
esac
