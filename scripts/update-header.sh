#!/usr/bin/env bash
# Regenerates include/wdt.h from the doc comments in src/ffi/ (cbindgen, via build.rs). Run it
# after changing an export or its comment, and commit the header; `cargo test` fails while the
# committed header is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
WDT_UPDATE_HEADER=1 cargo build -p libwdt
git --no-pager diff --stat -- include/wdt.h
