#!/usr/bin/env bash
# A throwaway Redis Cluster on loopback for tests and benchmarks.
#
#   scripts/redis_cluster.sh start [first-port] [node-timeout-ms]
#   scripts/redis_cluster.sh stop  [first-port]
#   scripts/redis_cluster.sh status [first-port]
#
# `start` runs six redis-server processes on first-port .. first-port+5 (default 7101-7106):
# three masters with one replica each, no persistence, each node in its own directory under one
# `mktemp -d`. If a healthy cluster already answers on first-port it is reused. It prints the
# state directory; `<dir>/<port>.pid` holds each node's PID. `stop` ends exactly those PIDs and
# removes that directory, nothing else.
set -euo pipefail

cmd="${1:-}"
first="${2:-7101}"
timeout_ms="${3:-1000}"
nodes=6
ports=()
for i in $(seq 0 $((nodes - 1))); do ports+=($((first + i))); done
# Where `start` records its state directory, so that `stop` finds the PIDs it started.
pointer="${TMPDIR:-/tmp}/gramio-session-redis-cluster-${first}.dir"

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

healthy() {
  local info
  info="$(cli "$first" cluster info 2>/dev/null)" || return 1
  grep -q '^cluster_state:ok' <<<"$info" || return 1
  grep -q "^cluster_known_nodes:${nodes}" <<<"$info" || return 1
  # Every node up, every replica in sync with its master.
  for port in "${ports[@]}"; do
    local role
    role="$(cli "$port" info replication 2>/dev/null)" || return 1
    if grep -q '^role:slave' <<<"$role"; then
      grep -q '^master_link_status:up' <<<"$role" || return 1
    fi
  done
}

wait_for() {
  local what="$1" tries="$2"
  shift 2
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
  echo "[redis-cluster] $what did not happen" >&2
  return 1
}

start() {
  for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "[redis-cluster] $tool is not installed" >&2; exit 1; }
  done
  if healthy; then
    echo "[redis-cluster] reusing the cluster on 127.0.0.1:${first}-$((first + nodes - 1))" >&2
    [[ -f "$pointer" ]] && cat "$pointer"
    return 0
  fi
  # Leftovers of an earlier start on these ports (a crashed test run): end them first.
  [[ -f "$pointer" ]] && stop
  for port in "${ports[@]}"; do
    if cli "$port" ping >/dev/null 2>&1; then
      echo "[redis-cluster] port $port answers but is not a healthy cluster of $nodes nodes;" \
        "stop it (scripts/redis_cluster.sh stop $first) or pick other ports" >&2
      exit 1
    fi
  done
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/gramio-session-redis-cluster.XXXXXX")"
  echo "$dir" >"$pointer"
  for port in "${ports[@]}"; do
    mkdir "$dir/$port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" \
      --dir "$dir/$port" --pidfile "$dir/$port.pid" --logfile "$dir/$port/redis.log" \
      --save "" --appendonly no --repl-diskless-sync-delay 0 \
      --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
      --cluster-node-timeout "$timeout_ms" --cluster-replica-validity-factor 0
  done
  for port in "${ports[@]}"; do
    wait_for "node $port start" 50 cli "$port" ping >/dev/null
  done
  local addresses=()
  for port in "${ports[@]}"; do addresses+=("127.0.0.1:$port"); done
  cli "$first" --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
    { cat "$dir/create.log" >&2; exit 1; }
  wait_for "cluster_state:ok on every node with replicas in sync" 100 healthy
  echo "[redis-cluster] started on 127.0.0.1:${first}-$((first + nodes - 1)) (state in $dir)" >&2
  echo "$dir"
}

stop() {
  [[ -f "$pointer" ]] || { echo "[redis-cluster] nothing started on $first by this script" >&2; return 0; }
  local dir
  dir="$(cat "$pointer")"
  # PIDs are read once: a stopping redis-server deletes its pid file, so a second read can miss it.
  local pids=() pid
  for port in "${ports[@]}"; do
    pid="$(cat "$dir/$port.pid" 2>/dev/null)" || continue
    # Only a redis-server we started (the PID may have been reused after a crash).
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]]; then
      kill "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  case "$dir" in
  "${TMPDIR:-/tmp}"/gramio-session-redis-cluster.*) rm -rf -- "$dir" ;;
  esac
  rm -f -- "$pointer"
  echo "[redis-cluster] stopped 127.0.0.1:${first}-$((first + nodes - 1))" >&2
}

case "$cmd" in
start) start ;;
stop) stop ;;
status) if healthy; then echo "ok"; else echo "down"; exit 1; fi ;;
*)
  echo "usage: $0 start|stop|status [first-port] [node-timeout-ms]" >&2
  exit 2
  ;;
esac
