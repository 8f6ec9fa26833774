#!/usr/bin/env bash
# schemathesis against a real server with data in it: every check, no failure allowed.
#
# Starts `python app.py` (eventlet) on 127.0.0.1 and a free port, on a fresh SQLite
# database seeded by tests/schemathesis_seed.py (an admin's token, a course with a
# roster, an ended and a live meeting), runs `schemathesis run --checks all` on
# /api/v1/openapi.json with the token, and stops the server. `make schemathesis`.
#
# SCHEMATHESIS_MAX_EXAMPLES (default 30) and SCHEMATHESIS_MAX_TIME (seconds, default
# 75) bound the run; SCHEMATHESIS_SEED makes it repeatable.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
SCHEMATHESIS="${SCHEMATHESIS:-.venv/bin/schemathesis}"

workdir="$(mktemp -d -t attendance-schemathesis-XXXXXX)"
server_pid=""
stop() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap stop EXIT

port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export DATABASE_URL="sqlite:///$workdir/attendance.db"
export SECRET_KEY="schemathesis-only-secret"
export ZOOM_WEBHOOK_SECRET_TOKEN="schemathesis-webhook-secret"
export SCHEDULER_ENABLED=false
export LOG_LEVEL=WARNING
unset REDIS_URL TEST_DATABASE_URL

token="$(ASYNC_MODE=threading "$PYTHON" tests/schemathesis_seed.py)"

HOST=127.0.0.1 PORT="$port" ASYNC_MODE=eventlet "$PYTHON" app.py >"$workdir/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if curl -fsS "$base/api/zoom/health" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$workdir/server.log"
    echo "the server did not start" >&2
    exit 1
  fi
  sleep 0.2
done

status=0
SCHEMATHESIS_HOOKS=tests.schemathesis_hooks "$SCHEMATHESIS" run "$base/api/v1/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $token" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --max-time "${SCHEMATHESIS_MAX_TIME:-75}" \
  --request-timeout 10 \
  --workers 1 \
  ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
  --report-dir "$workdir/report" || status=$?

if [[ $status -ne 0 ]]; then
  echo "== server log (errors)" >&2
  grep -E "ERROR|Traceback" -A 20 "$workdir/server.log" | tail -n 200 >&2 || true
fi
exit $status
