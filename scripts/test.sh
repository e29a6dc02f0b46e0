#!/usr/bin/env bash
# The whole test suite, real broker included. This is the README's test
# command and what CI runs.
#
# It installs the Tansu broker (a Kafka-compatible broker from crates.io)
# into a cache outside the repository the first time (about 15 minutes on
# 2 cores), starts it on a free loopback port with in-memory storage
# (scripts/lib/tansu.sh), runs every test of the workspace against it, and
# stops it again. Before that it
# checks the Prometheus alert rules with promtool (installing Debian's
# prometheus package when promtool is missing and apt-get is usable).
#
#   VIGIL_CACHE       where tools are cached (default: ~/.cache/vigil)
#   VIGIL_TEST_BOOTSTRAP  use this broker instead of starting one
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/tansu.sh
source scripts/lib/tansu.sh

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
  start_tansu
  trap 'kill "$TANSU_PID" 2>/dev/null || true; wait "$TANSU_PID" 2>/dev/null || true' EXIT
fi
# tests/outage.rs freezes a broker of its own.
if [[ -x "$TANSU" ]]; then export VIGIL_TANSU="$TANSU"; fi

cargo test --workspace --all-targets --locked "$@"
# Doc tests are not covered by --all-targets.
cargo test --workspace --doc --locked
