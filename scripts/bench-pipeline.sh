#!/usr/bin/env bash
# End-to-end benchmark through a real broker: starts Tansu (installing it
# into the cache first if needed, see scripts/lib/tansu.sh) unless
# VIGIL_TEST_BOOTSTRAP is set, then runs the pipeline bench. Extra
# arguments go to the bench (e.g. the event count).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/tansu.sh
source scripts/lib/tansu.sh
if [[ -z "${VIGIL_TEST_BOOTSTRAP:-}" ]]; then
  start_tansu
  trap 'kill "$TANSU_PID" 2>/dev/null || true' EXIT
  # The bench reads the broker's CPU time too.
  export VIGIL_BENCH_BROKER_PID=$TANSU_PID
fi
cargo bench -p vigil --bench pipeline -- "$@"
