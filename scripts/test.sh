#!/usr/bin/env bash
# The test command: install, lint, type-check, then the tests against a real Redis.
# Uses $REDIS_URL when given; otherwise starts a throwaway redis-server on a free port, with a Sentinel
# naming it ($REDIS_SENTINEL_URL) and a throwaway 3-master Redis Cluster ($REDIS_CLUSTER_URL). Given a
# REDIS_URL but no REDIS_CLUSTER_URL / REDIS_SENTINEL_URL, the tests start their own (tests/redis_server.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/ruff check bot knowledge adapters tests bench
.venv/bin/mypy

fatal() { echo "FATAL: $*" >&2; for log in "${redis_dir:-/nonexistent}"/*.log; do [ -f "$log" ] && cat "$log" >&2; done; exit 1; }
# A free port; `bus` also wants its cluster bus port (10000 above) free, so it stays below 55536.
free_port() {
  .venv/bin/python - "$@" <<'EOF'
import random, socket, sys
while True:
    port = random.randrange(20000, 30000) if sys.argv[1:] == ["bus"] else 0
    with socket.socket() as a, socket.socket() as b:
        try:
            a.bind(("127.0.0.1", port))
            if sys.argv[1:] == ["bus"]:
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        print(a.getsockname()[1])
        break
EOF
}
# Waits until `redis-cli -p port args…` prints something containing `expect`.
wait_for() {
  local port=$1 expect=$2; shift 2
  for _ in $(seq 100); do redis-cli -p "$port" "$@" 2>/dev/null | grep -q "$expect" && return 0; sleep 0.1; done
  return 1
}

if [ -z "${REDIS_URL:-}" ]; then
  for binary in redis-server redis-cli; do
    command -v "$binary" >/dev/null || fatal "$binary not found; install it (Debian: apt-get install redis-server) or set REDIS_URL"
  done
  redis_dir=$(mktemp -d)
  cleanup() {  # stops the servers, waits until they are gone (they write on the way out), keeps the tests' status
    local status=$? pids=() file pid
    for file in "$redis_dir"/*.pid; do [ -f "$file" ] && pids+=("$(cat "$file")"); done
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    done
    rm -rf "$redis_dir" || true
    exit "$status"
  }
  trap cleanup EXIT
  serve() {  # name port args…: a daemonised redis-server with its pid and log in $redis_dir
    local name=$1 port=$2; shift 2
    mkdir -p "$redis_dir/$name"
    redis-server "$@" --port "$port" --bind 127.0.0.1 --dir "$redis_dir/$name" --daemonize yes \
      --pidfile "$redis_dir/$name.pid" --logfile "$redis_dir/$name.log" || fatal "redis-server $name did not start"
  }

  port=$(free_port)
  serve redis "$port" --save "" --appendonly no
  wait_for "$port" PONG ping || fatal "throwaway redis-server did not start"
  export REDIS_URL="redis://127.0.0.1:$port/0"

  sentinel_port=$(free_port)
  printf 'sentinel monitor storebot 127.0.0.1 %s 1\n' "$port" > "$redis_dir/sentinel.conf"  # Sentinel rewrites it
  serve sentinel "$sentinel_port" "$redis_dir/sentinel.conf" --sentinel
  wait_for "$sentinel_port" "$port" sentinel get-master-addr-by-name storebot || fatal "throwaway Sentinel did not start"
  export REDIS_SENTINEL_URL="redis+sentinel://127.0.0.1:$sentinel_port/storebot/0"

  nodes=()
  for n in 1 2 3; do
    node_port=$(free_port bus)
    serve "cluster$n" "$node_port" --cluster-enabled yes --cluster-config-file nodes.conf --save "" --appendonly no
    wait_for "$node_port" PONG ping || fatal "throwaway cluster node $n did not start"
    nodes+=("127.0.0.1:$node_port")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$redis_dir/cluster-create.log" 2>&1 \
    || fatal "redis-cli --cluster create failed"
  for node in "${nodes[@]}"; do
    wait_for "${node#*:}" cluster_state:ok cluster info || fatal "throwaway cluster did not reach cluster_state:ok"
  done
  export REDIS_CLUSTER_URL="redis+cluster://$(IFS=,; echo "${nodes[*]}")"
fi
.venv/bin/python -m pytest -q "$@"
