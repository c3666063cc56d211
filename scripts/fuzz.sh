#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ and runs each for SECONDS_PER_TARGET seconds (default
# 30). Exits non-zero on a finding (crash, panic, failed assertion, hang, out-of-memory) and
# leaves the input in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      targets: config request answer outbox
#
# Stable Rust only: no cargo-fuzz and no nightly. cargo-fuzz would add AddressSanitizer, which
# needs nightly (-Zsanitizer); the coverage instrumentation it passes is made of stable codegen
# flags, so a plain `cargo build` with those flags plus libfuzzer-sys (which compiles libFuzzer
# from its C++ source) gives the same coverage-guided fuzzer. The library is safe Rust apart
# from ffi.rs, so what ASan would add is small next to panics, which is what we hunt.
#
# Needs: cargo, and a C++ compiler for libFuzzer (installed from Debian when missing).
# Environment: FUZZ_JOBS (targets run at once, default 1), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

SECONDS_PER_TARGET=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config request answer outbox)
case $SECONDS_PER_TARGET in
    '' | *[!0-9]*) echo "fuzz.sh: SECONDS_PER_TARGET must be a whole number, not '$SECONDS_PER_TARGET'" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ=$ROOT/fuzz

log() { echo "fuzz.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root to run: $*"; return 1
    fi
}

# --- what a fresh Debian machine lacks -------------------------------------------------------
command -v cargo >/dev/null || { log "cargo not found: install the Rust toolchain first"; exit 2; }
# libfuzzer-sys builds libFuzzer's C++ with the cc crate, which calls $CXX or c++.
if [ -z "${CXX:-}" ] && ! command -v c++ >/dev/null; then
    log "no C++ compiler: installing g++ from Debian"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 g++
fi

# --- build --------------------------------------------------------------------------------
# An explicit --target keeps these flags off build scripts and proc macros (as cargo-fuzz
# does): they only instrument the code that runs inside the fuzzer. overflow-checks and
# debug-assertions come from fuzz/Cargo.toml's release profile.
HOST=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing \
-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cforce-frame-pointers=yes"
if [ "$(uname -s)" = Linux ]; then
    RUSTFLAGS="$RUSTFLAGS -Cllvm-args=-sanitizer-coverage-stack-depth"
fi
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
started=$(date +%s)
log "building ${TARGETS[*]} for $HOST"
(cd "$FUZZ" && cargo build --release --target "$HOST" --target-dir "$FUZZ/target" \
    $(printf -- '--bin %s ' "${TARGETS[@]}"))
log "built in $(($(date +%s) - started)) s"

# --- run ----------------------------------------------------------------------------------
BIN=$FUZZ/target/$HOST/release
passed=0
failed=0
failures=()

run_one() {
    local t=$1
    mkdir -p "$FUZZ/work/$t" "$FUZZ/artifacts/$t"
    # The first corpus dir receives what the fuzzer learns; the committed seeds stay as they
    # are. -timeout turns a hang into a finding: every input here is a fast, local operation.
    "$BIN/$t" "$FUZZ/work/$t" "$FUZZ/corpus/$t" \
        -dict="$FUZZ/dict/$t.dict" \
        -max_total_time="$SECONDS_PER_TARGET" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -artifact_prefix="$FUZZ/artifacts/$t/" \
        -print_final_stats=1 \
        ${FUZZ_ARGS:-} \
        >"$FUZZ/artifacts/$t.log" 2>&1
}

report() {
    local t=$1 rc=$2
    local summary
    summary=$(grep -E '^Done [0-9]+ runs' "$FUZZ/artifacts/$t.log" | tail -1 || true)
    if [ "$rc" = 0 ]; then
        log "$t: ok, ${summary:-no stats}"
        passed=$((passed + 1))
    else
        log "$t: FINDING (exit $rc); log fuzz/artifacts/$t.log, input in fuzz/artifacts/$t/"
        tail -n 60 "$FUZZ/artifacts/$t.log" >&2
        failed=$((failed + 1))
        failures+=("$t")
    fi
}

jobs=${FUZZ_JOBS:-1}
i=0
while [ $i -lt ${#TARGETS[@]} ]; do
    batch=("${TARGETS[@]:$i:$jobs}")
    pids=()
    for t in "${batch[@]}"; do
        [ -x "$BIN/$t" ] || { log "no such target: $t"; exit 2; }
        log "running $t for $SECONDS_PER_TARGET s"
        run_one "$t" &
        pids+=($!)
    done
    for k in "${!batch[@]}"; do
        rc=0
        wait "${pids[$k]}" || rc=$?
        report "${batch[$k]}" "$rc"
    done
    i=$((i + jobs))
done

log "done in $(($(date +%s) - started)) s"
echo "fuzz: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
    log "findings in: ${failures[*]}"
    exit 1
fi
