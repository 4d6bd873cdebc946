#!/usr/bin/env bash
# The test command: install, lint, type-check, then the tests against a real Redis.
# Uses $REDIS_URL when given; otherwise starts a throwaway redis-server on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/ruff check bot knowledge adapters tests bench
.venv/bin/mypy
if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null || { echo "FATAL: redis-server not found; install it (Debian: apt-get install redis-server) or set REDIS_URL" >&2; exit 1; }
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis_dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --daemonize yes \
    --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
  trap 'kill "$(cat "$redis_dir/redis.pid")" 2>/dev/null; rm -rf "$redis_dir"' EXIT
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" ping >/dev/null || { echo "FATAL: throwaway redis-server did not start" >&2; cat "$redis_dir/redis.log" >&2; exit 1; }
  export REDIS_URL="redis://127.0.0.1:$port/0"
fi
.venv/bin/python -m pytest -q "$@"
