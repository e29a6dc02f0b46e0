#!/usr/bin/env bash
# Coverage-guided fuzzing of what vigil reads from outside (fuzz/): event
# lines and messages, changelog records, CRM profiles, engine settings.
# Runs on the stable toolchain with nothing to install: libfuzzer-sys
# builds libFuzzer, and the coverage instrumentation is LLVM's sancov
# pass, asked for by flags. No AddressSanitizer (that needs nightly): the
# code fuzzed is safe Rust, where an out-of-bounds access is a panic, which
# is what a target fails on, but for a few small `unsafe` blocks:
# vigil-codec's SSE2 string scan and its unchecked conversion of ASCII
# strings, both property-tested against safe references, and the engine's
# prefetch hints, which read nothing. Overflow checks and debug assertions
# are on, so an arithmetic overflow on hostile input is found too, not
# silently wrapped.
#
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer options...]
#   scripts/fuzz.sh all [SECONDS]       each target in turn (default 60 s)
#
# engine_config makes one settings edit per 11 bytes; libFuzzer grows its
# inputs slowly, so for combinations of many edits from the start add
# `-max_len=220 -len_control=0`.
#
# Targets: json_events proto_events changelog profile engine_config. The
# seed corpus is written from the simulator into fuzz/corpus/ first;
# findings land in fuzz/artifacts/TARGET/ (replay one with
# `fuzz/target/<host triple>/release/TARGET FILE`; for engine_config,
# `cargo run --bin settings FILE` in fuzz/ prints the settings it made).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

TARGETS=(json_events proto_events changelog profile engine_config)
target=${1:?"usage: scripts/fuzz.sh TARGET|all [SECONDS] [libFuzzer options...]"}
secs=${2:-60}
shift $(( $# < 2 ? $# : 2 ))

# Seeds: a plain build, since the seeds binary is not linked with libFuzzer.
if [[ ! -d corpus ]]; then
  CARGO_TARGET_DIR=target/seeds cargo run --quiet --release --bin seeds
fi

export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  -Cdebug-assertions -Coverflow-checks"
# An explicit target, so the flags reach the fuzzed code but not build
# scripts and proc macros (which would not link without libFuzzer).
host=$(rustc -vV | sed -n 's/^host: //p')
bins=()
for t in "${TARGETS[@]}"; do bins+=(--bin "$t"); done
cargo build --quiet --release --target "$host" "${bins[@]}"

run() {
  local t=$1; shift
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "fuzz.sh: $t for ${secs}s" >&2
  "target/$host/release/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
    -max_total_time="$secs" -max_len=65536 -timeout=10 -print_final_stats=1 "$@"
}

if [[ $target == all ]]; then
  for t in "${TARGETS[@]}"; do run "$t" "$@"; done
else
  run "$target" "$@"
fi
