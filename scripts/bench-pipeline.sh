#!/usr/bin/env bash
# End-to-end benchmark through a real broker: starts Tansu (installed by
# scripts/test.sh's cache) unless VIGIL_TEST_BOOTSTRAP is set, then runs the
# pipeline bench. Extra arguments go to the bench (e.g. the event count).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${VIGIL_CACHE:-$HOME/.cache/vigil}"
TANSU="$CACHE/tansu-0.6.0/bin/tansu"
if [[ -z "${VIGIL_TEST_BOOTSTRAP:-}" ]]; then
  [[ -x "$TANSU" ]] || { echo "run ./scripts/test.sh once to install tansu" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$TANSU" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >/dev/null 2>&1 &
  pid=$!
  # The bench reads the broker's CPU time too.
  export VIGIL_BENCH_BROKER_PID=$pid
  trap 'kill $pid 2>/dev/null || true' EXIT
  until python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; do sleep 0.1; done
  export VIGIL_TEST_BOOTSTRAP="127.0.0.1:$port"
fi
cargo bench -p vigil --bench pipeline -- "$@"
