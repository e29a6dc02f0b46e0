#!/usr/bin/env bash
# End to end through the real service: loads a simulated population into a
# topic with `vigil gen --kafka-bootstrap`, starts `vigil run` (the release
# binary, with its HTTP endpoints, metrics recorder and logging) on it, and
# reads /metrics until every event is consumed. Prints the sustained rate,
# CPU per event (vigil's and the broker's), receive-to-publish latency,
# the outputs acknowledged by then and resident memory; then stops vigil
# with SIGTERM and checks that it exits 0 (after flushing and committing).
#
# usage: scripts/bench-run.sh [PLAYERS] [DAYS]      (default 8000 30, ~2 M events)
#   VIGIL_BENCH_FORMAT=proto     protobuf input (JSON by default)
#   VIGIL_BENCH_PARTITIONS=N     input partitions (default 2)
#   VIGIL_TEST_BOOTSTRAP=H:P     use this broker instead of starting Tansu
#   VIGIL_BIN=PATH               run this vigil binary instead of building
#                                the release one (the test suite's own run)
#
# Starts Tansu (installing it into the cache first if needed, see
# scripts/lib/tansu.sh) unless VIGIL_TEST_BOOTSTRAP is set. Figures only;
# nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
players="${1:-8000}"
days="${2:-30}"
format="${VIGIL_BENCH_FORMAT:-json}"
partitions="${VIGIL_BENCH_PARTITIONS:-2}"
case "$format" in
  json) encoding=json ;;
  proto) encoding=protobuf ;;
  *) echo "VIGIL_BENCH_FORMAT: json or proto, not $format" >&2; exit 2 ;;
esac
# shellcheck source=scripts/lib/tansu.sh
source scripts/lib/tansu.sh

if [[ -n "${VIGIL_BIN:-}" ]]; then
  vigil="$VIGIL_BIN"
else
  cargo build --release --locked -p vigil --bin vigil >&2
  vigil=target/release/vigil
fi

work="$(mktemp -d -t vigil-bench-run.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

broker_pid=""
if [[ -z "${VIGIL_TEST_BOOTSTRAP:-}" ]]; then
  start_tansu
  broker_pid=$TANSU_PID
  pids+=("$broker_pid")
fi
bootstrap="$VIGIL_TEST_BOOTSTRAP"
run="$(date +%s)-$$"
topic="bench-run-events-$run"

# Load first, so vigil's phase measures consuming, not waiting for input.
NO_COLOR=1 "$vigil" gen --players "$players" --days "$days" --seed 1 --format "$format" \
  --kafka-bootstrap "$bootstrap" --topic "$topic" --partitions "$partitions" 2> "$work/gen.log"
events=$(sed 's/\x1b\[[0-9;]*m//g' "$work/gen.log" | sed -n 's/.*loaded events.*records=\([0-9]*\).*/\1/p' | tail -1)
[[ -n "$events" ]] || { echo "vigil gen did not report what it loaded:" >&2; cat "$work/gen.log" >&2; exit 1; }

http_port=$(free_port)
cat > "$work/vigil.toml" <<EOF
[kafka]
bootstrap_servers = "$bootstrap"
group_id = "bench-run-$run"

[topics]
inputs = [{ name = "$topic", encoding = "$encoding" }]
alerts = { name = "bench-run-alerts-$run" }
scores = { name = "bench-run-scores-$run" }
offers = { name = "bench-run-offers-$run" }
outcomes = { name = "bench-run-outcomes-$run" }
profiles = { name = "bench-run-profiles-$run" }
dead_letter = "bench-run-dlq-$run"
changelog = "bench-run-changelog-$run"

[pipeline]
# Simulated history: no wall-clock advance, and events may lie ahead of
# this host's clock.
idle_advance = "0s"
max_event_ahead = "0s"

[http]
listen = "127.0.0.1:$http_port"

[log]
format = "json"
EOF
"$vigil" check-config --config "$work/vigil.toml" >/dev/null
"$vigil" run --config "$work/vigil.toml" > "$work/vigil.log" 2>&1 &
vigil_pid=$!
pids+=("$vigil_pid")

python3 - "$http_port" "$events" "$players" "$days" "$format" "$partitions" "$vigil_pid" "${broker_pid:-0}" <<'PY' || { echo "vigil's log:" >&2; tail -20 "$work/vigil.log" >&2; exit 1; }
import os, re, sys, time, urllib.request

port, events, players, days, fmt, partitions, vigil, broker = sys.argv[1:]
events, vigil, broker = int(events), int(vigil), int(broker)
url = f"http://127.0.0.1:{port}/metrics"
tick = 0.02
clk_tck = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    """User and system CPU seconds of `pid`, to the clock tick (the
    exported process_cpu_seconds_total counts whole seconds only)."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clk_tck

def scrape():
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    series = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name_labels, _, value = line.rpartition(" ")
        series[name_labels] = float(value)
    return series

def total(s, name):
    return sum(v for k, v in s.items() if k == name or k.startswith(name + "{"))

def done(s):
    return total(s, "vigil_events_consumed_total") + total(s, "vigil_events_rejected_total")

def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

deadline = time.monotonic() + 600
first, n = None, 0
while True:
    if time.monotonic() > deadline:
        sys.exit(f"vigil consumed {n:.0f} of {events} events in 10 minutes")
    if not running(vigil):
        sys.exit(f"vigil exited after consuming {n:.0f} of {events} events")
    s = scrape()
    now = time.monotonic()
    if s is not None:
        n = done(s)
        if first is None and n > 0:
            first = (now, n, cpu(vigil), cpu(broker))
        if n >= events:
            last = (now, n, cpu(vigil), cpu(broker))
            break
    time.sleep(tick)

(t0, n0, cpu0, b0), (t1, n1, cpu1, b1) = first, last
measured = n1 - n0
secs = t1 - t0

def quantile(s, metric, q):
    buckets = sorted(
        (float("inf") if m.group(1) == "+Inf" else float(m.group(1)), v)
        for k, v in s.items()
        for m in [re.search(r'le="([^"]+)"', k)]
        if k.startswith(metric + "_bucket{") and 'output="score"' in k and m
    )
    if not buckets or buckets[-1][1] == 0:
        return "n/a"
    for le, count in buckets:
        if count >= q * buckets[-1][1]:
            return f"<= {le:g} s"

players_held = total(s, "vigil_players_tracked")
rss = total(s, "process_resident_memory_bytes")
print(f"events:                 {events} ({players} players x {days} days, {partitions} partitions, {fmt} input), {measured:.0f} measured")
print(f"consumed:               {total(s, 'vigil_events_consumed_total'):.0f} events, "
      f"{total(s, 'vigil_events_rejected_total'):.0f} refused")
if measured > 0 and secs > 0:
    print(f"vigil run:              {measured / secs:.0f} events/s over {secs:.2f} s (scraped every {tick * 1000:.0f} ms)")
    print(f"CPU per event:          vigil {(cpu1 - cpu0) * 1e6 / measured:.2f} us (the whole process)"
          + (f", broker {(b1 - b0) * 1e6 / measured:.2f} us" if broker else ""))
else:
    print("vigil run:              too few events to time (all consumed between two scrapes)")
print(f"receive-to-publish:     p50 {quantile(s, 'vigil_receive_to_publish_seconds', 0.5)}, "
      f"p99 {quantile(s, 'vigil_receive_to_publish_seconds', 0.99)} (score records, histogram bucket bounds)")
# Counted as the broker acknowledges them: the last batch's may still be
# on their way.
print(f"acknowledged by then:   {total(s, 'vigil_alerts_published_total'):.0f} alerts, "
      f"{total(s, 'vigil_scores_published_total'):.0f} score records, "
      f"{total(s, 'vigil_changelog_records_total'):.0f} changelog records, "
      f"{total(s, 'vigil_dead_letter_messages_total'):.0f} dead letters")
print(f"resident memory:        {rss / 2**20:.0f} MiB at the end, {players_held:.0f} players held")
PY

kill -TERM "$vigil_pid"
if wait "$vigil_pid"; then
  echo "shutdown:               SIGTERM, exit 0"
else
  echo "shutdown:               vigil exited $? after SIGTERM; its log:" >&2
  tail -20 "$work/vigil.log" >&2
  exit 1
fi
