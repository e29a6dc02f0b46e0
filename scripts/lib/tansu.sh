# The Tansu broker for the test and bench scripts: sourced, not run.
#
# Tansu is a Kafka-compatible broker from crates.io, installed the first
# time into a cache outside the repository (about 15 minutes on 2 cores)
# and started on a free loopback port with in-memory storage.
#
#   VIGIL_CACHE   where tools are cached (default: ~/.cache/vigil)
#
# After `start_tansu`: TANSU_PID is the broker's pid and
# VIGIL_TEST_BOOTSTRAP (exported) its address. Stopping it is the caller's
# job (its own EXIT trap), since callers stop other processes too.

TANSU_VERSION=0.6.0
VIGIL_CACHE="${VIGIL_CACHE:-$HOME/.cache/vigil}"
TANSU_ROOT="$VIGIL_CACHE/tansu-$TANSU_VERSION"
TANSU="$TANSU_ROOT/bin/tansu"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

ensure_tansu() {
  if [[ -x "$TANSU" ]]; then return; fi
  echo "installing tansu $TANSU_VERSION into $TANSU_ROOT (first run only, ~15 min)" >&2
  mkdir -p "$VIGIL_CACHE"
  # Built outside the workspace so its target dir never mixes with ours.
  (cd "$VIGIL_CACHE" && cargo install tansu --locked --features dynostore \
      --version "$TANSU_VERSION" --root "$TANSU_ROOT" --quiet)
}

# Starts the broker (installing it first if needed) and waits until its
# port accepts connections; exits the script, with the broker's log, if it
# dies or does not listen within 10 s.
start_tansu() {
  ensure_tansu
  local port log
  port=$(free_port)
  log="$(mktemp -t vigil-tansu.XXXXXX.log)"
  "$TANSU" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$log" 2>&1 &
  TANSU_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
      export VIGIL_TEST_BOOTSTRAP="127.0.0.1:$port"
      echo "tansu broker pid $TANSU_PID on $VIGIL_TEST_BOOTSTRAP (log $log)" >&2
      return
    fi
    if ! kill -0 "$TANSU_PID" 2>/dev/null; then
      echo "tansu exited at start:" >&2; cat "$log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "tansu did not listen on $port within 10 s" >&2; cat "$log" >&2
  kill "$TANSU_PID" 2>/dev/null || true
  exit 1
}
