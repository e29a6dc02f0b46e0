#!/usr/bin/env bash
# The whole test suite, real broker included. This is the README's test
# command and what CI runs.
#
# It installs the Tansu broker (a Kafka-compatible broker from crates.io)
# into a cache outside the repository the first time (about 15 minutes on
# 2 cores), starts it on a free loopback port with in-memory storage, runs
# every test of the workspace against it, and stops it again. Before that it
# checks the Prometheus alert rules with promtool (installing Debian's
# prometheus package when promtool is missing and apt-get is usable).
#
#   VIGIL_CACHE       where tools are cached (default: ~/.cache/vigil)
#   VIGIL_TEST_BOOTSTRAP  use this broker instead of starting one
set -euo pipefail
cd "$(dirname "$0")/.."

TANSU_VERSION=0.6.0
CACHE="${VIGIL_CACHE:-$HOME/.cache/vigil}"
TANSU_ROOT="$CACHE/tansu-$TANSU_VERSION"
TANSU="$TANSU_ROOT/bin/tansu"

ensure_tansu() {
  if [[ -x "$TANSU" ]]; then return; fi
  echo "test.sh: installing tansu $TANSU_VERSION into $TANSU_ROOT (first run only, ~15 min)" >&2
  mkdir -p "$CACHE"
  # Built outside this workspace so its target dir never mixes with ours.
  (cd "$CACHE" && cargo install tansu --locked --features dynostore \
      --version "$TANSU_VERSION" --root "$TANSU_ROOT" --quiet)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_broker() {
  local port log
  port=$(free_port)
  log="$(mktemp -t vigil-tansu.XXXXXX.log)"
  "$TANSU" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$log" 2>&1 &
  BROKER_PID=$!
  trap 'kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true' EXIT
  # Ready when the port accepts connections.
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
      export VIGIL_TEST_BOOTSTRAP="127.0.0.1:$port"
      echo "test.sh: tansu broker pid $BROKER_PID on $VIGIL_TEST_BOOTSTRAP (log $log)" >&2
      return
    fi
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      echo "test.sh: tansu exited at start:" >&2; cat "$log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "test.sh: tansu did not listen on $port within 10 s" >&2; cat "$log" >&2; exit 1
}

# The alert rules and the compose Prometheus configuration: promtool checks
# them and runs the rules' unit tests (deploy/prometheus/alerts.test.yml).
# It comes with Debian's prometheus package, installed here when missing and
# apt is usable; without it, tests/observability.rs still parses the rules
# and checks their metric names against a running vigil.
check_prometheus_files() {
  if ! command -v promtool >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] \
      && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing promtool (Debian package prometheus)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null 2>&1 \
      || echo "test.sh: could not install the prometheus package" >&2
  fi
  if command -v promtool >/dev/null 2>&1; then
    promtool check rules deploy/prometheus/alerts.yml
    promtool check config deploy/prometheus/prometheus.yml
    (cd deploy/prometheus && promtool test rules alerts.test.yml)
  else
    echo "test.sh: promtool not available: alert rules checked by tests/observability.rs only" >&2
  fi
}

check_prometheus_files

if [[ -z "${VIGIL_TEST_BOOTSTRAP:-}" ]]; then
  ensure_tansu
  start_broker
fi
# tests/outage.rs freezes a broker of its own.
if [[ -x "$TANSU" ]]; then export VIGIL_TANSU="$TANSU"; fi

cargo test --workspace --all-targets --locked "$@"
# Doc tests are not covered by --all-targets.
cargo test --workspace --doc --locked
