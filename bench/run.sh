#!/usr/bin/env bash
# Loopback throughput benchmark of libwdt (see BENCHMARKS.md). One command, from anywhere:
#
#   bash bench/run.sh
#
# On a fresh Debian machine it installs what it needs (wrk, php-cli, php-curl, nginx-light or
# nginx, gcc, time), builds the library with `cargo build --release`, starts a private nginx on
# 127.0.0.1 (free high port, config and prefix in a temp dir, run as the current user) that
# answers POST /openapi like the gateway answers a quick return, and measures in rounds:
#   wrk          the transport limit: 1 thread, 1 connection, keep-alive, the quick-return body
#   wrk2         the same with 2 threads and 2 connections: what 2 client threads can gain here
#   c_raw        the floor of a synchronous client: the same POST written by hand on one
#                blocking keep-alive socket, no library (bench/c_bench.c raw)
#   c1, c2       N signed quick returns through the C ABI (bench/c_bench.c), 1 thread, then 2
#                threads sharing one client
#   php_ffi      the same N through the PHP binding (bindings/php)
#   php_vendor   a PHP client written the vendor-SDK way (file_get_contents, new connection
#                per call), N_VENDOR calls
#   php_curl     a PHP client with one reused curl handle (keep-alive)
# plus wdt_client_new time and the stripped size of libwdt.so, then prints a table with
# ratios to wrk and to the vendor-style client (ratios, because absolute numbers on a shared
# 2-core machine move by tens of percent between runs). Everything it starts is stopped at the
# end; only 127.0.0.1 is ever contacted.
#
# Environment (all optional):
#   WDT_BENCH_N             calls per keep-alive client per round (default 6000)
#   WDT_BENCH_N_VENDOR      calls of the connection-per-call PHP client per round (default N/4)
#   WDT_BENCH_ROUNDS        rounds; the table shows medians over them (default 5)
#   WDT_BENCH_WRK_SECONDS   wrk duration per round (default 2)
#   WDT_BENCH_NEW_COUNT     wdt_client_new calls averaged (default 2000)
#   WDT_BENCH_LIB_DIR       benchmark the libwdt.so in this directory instead of building
#                           target/release (e.g. a prototype build); skips cargo build
#   WDT_BENCH_NO_INSTALL=1  never run apt-get (fail if a tool is missing)
#   WDT_BENCH_OUT           where raw results and the table go (default target/bench)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

N=${WDT_BENCH_N:-6000}
N_VENDOR=${WDT_BENCH_N_VENDOR:-$((N / 4))}
ROUNDS=${WDT_BENCH_ROUNDS:-5}
WRK_SECONDS=${WDT_BENCH_WRK_SECONDS:-2}
NEW_COUNT=${WDT_BENCH_NEW_COUNT:-2000}
WARMUP=200
OUT=${WDT_BENCH_OUT:-$root/target/bench}
started=$(date +%s)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# --- 1. tools ----------------------------------------------------------------------------
missing_tools() {
  local m=()
  command -v wrk >/dev/null 2>&1 || m+=(wrk)
  command -v gcc >/dev/null 2>&1 || m+=(gcc)
  [ -x /usr/bin/time ] || m+=(time)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || m+=(nginx)
  if command -v php >/dev/null 2>&1; then
    php -r 'exit(function_exists("curl_init") ? 0 : 1);' || m+=(php-curl)
    php -d ffi.enable=1 -r 'exit(class_exists("FFI") ? 0 : 1);' || m+=(php-ffi)
  else
    m+=(php-cli php-curl)
  fi
  echo "${m[@]:-}"
}

need=$(missing_tools)
if [ -n "$need" ]; then
  [ "${WDT_BENCH_NO_INSTALL:-0}" = 1 ] && die "missing: $need (and WDT_BENCH_NO_INSTALL=1)"
  command -v apt-get >/dev/null 2>&1 || die "missing: $need; install them (this script knows apt-get only)"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing: $need; run as root or install sudo"
    sudo=sudo
  fi
  log "installing: $need"
  apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
  apt_get update -qq
  pkgs=(wrk php-cli php-curl gcc libc6-dev time)
  if apt-cache show nginx-light >/dev/null 2>&1; then pkgs+=(nginx-light); else pkgs+=(nginx); fi
  apt_get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  need=$(missing_tools)
  [ -z "$need" ] || die "still missing after apt-get: $need"
fi
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
command -v cargo >/dev/null 2>&1 || [ -n "${WDT_BENCH_LIB_DIR:-}" ] || die "cargo not found (install Rust: https://rustup.rs)"

# --- 2. build ----------------------------------------------------------------------------
mkdir -p "$OUT"
if [ -n "${WDT_BENCH_LIB_DIR:-}" ]; then
  LIB_DIR=$(cd "$WDT_BENCH_LIB_DIR" && pwd)
  log "using the library in $LIB_DIR (no cargo build)"
else
  log "cargo build --release"
  cargo build --release --quiet
  LIB_DIR=$root/target/release
fi
LIB=$LIB_DIR/libwdt.so
[ -f "$LIB" ] || die "no $LIB"
MOCK_BIN=""
if [ -z "${WDT_BENCH_LIB_DIR:-}" ] && cargo build --release --quiet -p wdt-mock 2>/dev/null; then
  MOCK_BIN=$root/target/release/wdt-mock
fi
gcc -O2 -pthread -Wall -Wextra -I "$root/include" "$here/c_bench.c" -L "$LIB_DIR" -lwdt \
  -Wl,-rpath,"$LIB_DIR" -o "$OUT/c_bench"
export LD_LIBRARY_PATH=$LIB_DIR # so c_bench loads exactly $LIB even if the rpath differs
export WDT_LIB=$LIB
strip --strip-all -o "$OUT/libwdt.stripped.so" "$LIB"
lib_bytes=$(stat -c %s "$LIB")
stripped_bytes=$(stat -c %s "$OUT/libwdt.stripped.so")

# --- 3. servers --------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wdt-bench.XXXXXX")
nginx_pid=""
mock_pid=""
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local i
  for i in $(seq 1 100); do
    port_open "$1" && return 0
    sleep 0.05
  done
  return 1
}

start_nginx() {
  local attempt port temp_paths="" m
  mkdir -p "$tmp/nginx/tmp"
  # Temp paths of the modules this nginx has, so nothing is created under /var/lib/nginx.
  for m in proxy fastcgi uwsgi scgi; do
    if ! "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
      temp_paths+="    ${m}_temp_path $tmp/nginx/tmp/$m;\\n"
    fi
  done
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    port_open "$port" && continue
    sed -e "s#@PREFIX@#$tmp/nginx#g" -e "s#@PORT@#$port#g" -e "s#@WORKERS@#1#g" \
      -e "s#@USER@#$(id -un)#g" -e "s#@GROUP@#$(id -gn)#g" -e "s#@TEMP_PATHS@#$temp_paths#" \
      "$here/nginx.conf.in" >"$tmp/nginx/nginx.conf"
    "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
    nginx_pid=$!
    if wait_port "$port" && kill -0 "$nginx_pid" 2>/dev/null; then
      NGINX_PORT=$port
      return 0
    fi
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
  done
  cat "$tmp/nginx/error.log" >&2 || true
  die "nginx did not start"
}

start_nginx
URL=http://127.0.0.1:$NGINX_PORT/openapi
log "nginx $("$NGINX" -v 2>&1 | sed 's/.*version: //') on $URL (pid $nginx_pid)"

MOCK_URL=""
if [ -n "$MOCK_BIN" ]; then
  "$MOCK_BIN" --host 127.0.0.1 --port 0 --quiet >"$tmp/mock.out" 2>"$tmp/mock.err" &
  mock_pid=$!
  for _ in $(seq 1 100); do
    grep -q 'listening on' "$tmp/mock.out" 2>/dev/null && break
    sleep 0.05
  done
  MOCK_URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/mock.out" | head -n1)
fi

# --- 4. measurements ---------------------------------------------------------------------
results=$OUT/results.txt
: >"$results"
PHP=(php -d ffi.enable=1 -d memory_limit=256M)

# record CLIENT ROUND CMD...: runs CMD, keeps its RESULT line, tagged.
record() {
  local client=$1 round=$2 line
  shift 2
  if ! line=$("$@" | grep '^RESULT ' | tail -n1) || [ -z "$line" ]; then
    die "$client (round $round) failed: $*"
  fi
  echo "client=$client round=$round ${line#RESULT }" >>"$results"
}

# wrk under /usr/bin/time, for its own CPU and peak RSS. The URL carries a freshly signed query
# (what libwdt sends), so the double accepts it too; nginx ignores it.
run_wrk() {
  local client=$1 round=$2 url=$3 seconds=$4 conns=${5:-1} line times
  local signed
  signed=$(php "$here/php_bench.php" query "$url")
  /usr/bin/time -o "$tmp/wrk.time" -f 'user_s=%U sys_s=%S maxrss_kb=%M' \
    wrk -t"$conns" -c"$conns" -d"${seconds}s" -s "$here/wrk_post.lua" "$signed" >"$tmp/wrk.out"
  line=$(grep '^RESULT ' "$tmp/wrk.out" | tail -n1)
  [ -n "$line" ] || { cat "$tmp/wrk.out" >&2; die "wrk failed against $url"; }
  times=$(tail -n1 "$tmp/wrk.time")
  echo "client=$client round=$round ${line#RESULT } $times" >>"$results"
}

if [ -n "$MOCK_URL" ]; then
  log "server check: wrk against nginx and against the gateway double (wdt-mock), 2 s each"
  run_wrk server_nginx 0 "$URL" 2
  run_wrk server_mock 0 "$MOCK_URL" 2
  kill "$mock_pid" 2>/dev/null || true
  wait "$mock_pid" 2>/dev/null || true
  mock_pid=""
fi

for r in $(seq 1 "$ROUNDS"); do
  log "round $r/$ROUNDS: wrk ${WRK_SECONDS}s with 1 and 2 connections, raw C floor, C 1 thread, C 2 threads, PHP ffi/vendor/curl (N=$N, vendor N=$N_VENDOR)"
  run_wrk wrk "$r" "$URL" "$WRK_SECONDS"
  run_wrk wrk2 "$r" "$URL" "$WRK_SECONDS" 2
  record c_raw "$r" "$OUT/c_bench" raw "$URL" "$N" "$WARMUP"
  record c1 "$r" "$OUT/c_bench" seq "$URL" "$N" "$WARMUP"
  record c2 "$r" "$OUT/c_bench" par "$URL" 2 "$N" "$WARMUP"
  record php_ffi "$r" "${PHP[@]}" "$here/php_bench.php" ffi "$URL" "$N" "$WARMUP"
  record php_vendor "$r" "${PHP[@]}" "$here/php_bench.php" vendor "$URL" "$N_VENDOR" "$WARMUP"
  record php_curl "$r" "${PHP[@]}" "$here/php_bench.php" curl "$URL" "$N" "$WARMUP"
  record client_new "$r" "$OUT/c_bench" new "$URL" "$NEW_COUNT"
done

# --- 5. report ---------------------------------------------------------------------------
elapsed=$(($(date +%s) - started))
{
  echo "machine: nproc=$(nproc), cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel=$(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tools: $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), PHP $(php -r 'echo PHP_VERSION;'), $(gcc --version | head -n1)"
  echo "library: $LIB"
  echo "run: N=$N, N_VENDOR=$N_VENDOR, ROUNDS=$ROUNDS, WRK_SECONDS=$WRK_SECONDS, NEW_COUNT=$NEW_COUNT, took ${elapsed}s"
  echo
  php "$here/report.php" "$results" "$lib_bytes" "$stripped_bytes"
} | tee "$OUT/table.md"
log "raw results: $results; table: $OUT/table.md"
