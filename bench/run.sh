#!/usr/bin/env bash
# Loopback throughput benchmark of libwdt (see BENCHMARKS.md). One command, from anywhere:
#
#   bash bench/run.sh
#
# On a fresh Debian machine it installs what it needs (wrk, php-cli, php-curl, nginx-light or
# nginx, gcc, time, strace, mono), builds the library with `cargo build --release`, starts a
# private nginx on 127.0.0.1 (free high port, config and prefix in a temp dir, run as the current
# user) that answers POST /openapi like the gateway answers a quick return, and measures in
# paired, alternating rounds (every client once per round; odd rounds in this order, even rounds
# in reverse):
#   wrk          the transport limit: 1 thread, 1 connection, keep-alive, the quick-return body
#   wrk2         the same with 2 threads and 2 connections: what 2 client threads can gain here
#   c_raw        the floor of a synchronous client: the same POST written by hand on one
#                blocking keep-alive socket, no library (bench/c_bench.c raw)
#   c1, c2       N signed quick returns through the C ABI (bench/c_bench.c), 1 thread, then 2
#                threads sharing one client
#   php_ffi      the same N through the PHP binding (bindings/php, smartRefundUploadJson)
#   php_ffi_raw  the same N through a bare FFI::cdef of the C ABI (the floor of any binding)
#   csharp       the same N through the C# binding under Mono (bench/cs_bench.cs)
#   php_vendor   a PHP client written the vendor-SDK way (file_get_contents, new connection
#                per call), N_VENDOR calls
#   php_curl     a PHP client with one reused curl handle (keep-alive)
# with nginx's CPU during each run; then wdt_client_new time, the PHP binding's overhead over the
# bare FFI call (no network), syscalls per warm call of each client (strace -c -f, counted), the
# stripped size of libwdt.so, and prints one table with medians, min..max and per-round ratios
# (bench/report.php). Everything it starts is stopped at the end; only 127.0.0.1 is contacted.
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
#   WDT_BENCH_STRACE_N1/N2  the two run lengths of the syscall count (default 500, 1500)
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
  command -v strace >/dev/null 2>&1 || m+=(strace)
  command -v mcs >/dev/null 2>&1 || m+=(mono-mcs)
  command -v mono >/dev/null 2>&1 || m+=(mono-runtime)
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
  pkgs=(wrk php-cli php-curl gcc libc6-dev time strace mono-mcs mono-runtime libmono-system-core4.0-cil)
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
CLK_TCK=$(getconf CLK_TCK)

# The C# bench: the binding's sources and bench/cs_bench.cs compiled together with mcs, run with
# libwdt.so beside it (where Mono looks first for [DllImport("wdt")]).
mkdir -p "$OUT/cs"
cp "$LIB" "$OUT/cs/libwdt.so"
mcs -nologo -target:exe -unsafe -optimize+ -out:"$OUT/cs/cs_bench.exe" \
  "$root"/bindings/csharp/src/*.cs "$here/cs_bench.cs" || die "mcs could not build the C# bench"

# CPU ticks used so far by nginx (master and workers), for the server's CPU during each run.
nginx_pids() { echo "$nginx_pid" $(pgrep -P "$nginx_pid" 2>/dev/null); }
nginx_ticks() {
  local p total=0 t
  for p in $(nginx_pids); do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# record CLIENT ROUND CALLS_INCL_WARMUP CMD...: runs CMD, keeps its RESULT line, tagged, plus the
# server's CPU ticks during the run and how many calls the server saw in that time.
record() {
  local client=$1 round=$2 served=$3 line t0 t1
  shift 3
  t0=$(nginx_ticks)
  if ! line=$("$@" | grep '^RESULT ' | tail -n1) || [ -z "$line" ]; then
    die "$client (round $round) failed: $*"
  fi
  t1=$(nginx_ticks)
  echo "client=$client round=$round ${line#RESULT } srv_ticks=$((t1 - t0)) srv_calls=$served clk_tck=$CLK_TCK" >>"$results"
}

# wrk under /usr/bin/time, for its own CPU and peak RSS. The URL carries a freshly signed query
# (what libwdt sends), so the double accepts it too; nginx ignores it.
run_wrk() {
  local client=$1 round=$2 url=$3 seconds=$4 conns=${5:-1} line times signed t0 t1
  signed=$(php "$here/php_bench.php" query "$url")
  t0=$(nginx_ticks)
  /usr/bin/time -o "$tmp/wrk.time" -f 'user_s=%U sys_s=%S maxrss_kb=%M' \
    wrk -t"$conns" -c"$conns" -d"${seconds}s" -s "$here/wrk_post.lua" "$signed" >"$tmp/wrk.out"
  t1=$(nginx_ticks)
  line=$(grep '^RESULT ' "$tmp/wrk.out" | tail -n1)
  [ -n "$line" ] || { cat "$tmp/wrk.out" >&2; die "wrk failed against $url"; }
  times=$(tail -n1 "$tmp/wrk.time")
  local calls=${line##*calls=}
  calls=${calls%% *}
  echo "client=$client round=$round ${line#RESULT } $times srv_ticks=$((t1 - t0)) srv_calls=$calls clk_tck=$CLK_TCK" >>"$results"
}

if [ -n "$MOCK_URL" ]; then
  log "server check: wrk against nginx and against the gateway double (wdt-mock), 2 s each"
  run_wrk server_nginx 0 "$URL" 2
  run_wrk server_mock 0 "$MOCK_URL" 2
  kill "$mock_pid" 2>/dev/null || true
  wait "$mock_pid" 2>/dev/null || true
  mock_pid=""
fi

# One measurement of client ID in round R.
measure() {
  local id=$1 r=$2
  case $id in
    wrk) run_wrk wrk "$r" "$URL" "$WRK_SECONDS" ;;
    wrk2) run_wrk wrk2 "$r" "$URL" "$WRK_SECONDS" 2 ;;
    c_raw) record c_raw "$r" $((N + WARMUP)) "$OUT/c_bench" raw "$URL" "$N" "$WARMUP" ;;
    c1) record c1 "$r" $((N + WARMUP)) "$OUT/c_bench" seq "$URL" "$N" "$WARMUP" ;;
    c2) record c2 "$r" $((N + WARMUP)) "$OUT/c_bench" par "$URL" 2 "$N" "$WARMUP" ;;
    php_ffi) record php_ffi "$r" $((N + WARMUP)) "${PHP[@]}" "$here/php_bench.php" ffi "$URL" "$N" "$WARMUP" ;;
    php_ffi_raw) record php_ffi_raw "$r" $((N + WARMUP)) "${PHP[@]}" "$here/php_bench.php" ffi_raw "$URL" "$N" "$WARMUP" ;;
    csharp) record csharp "$r" $((N + WARMUP)) mono "$OUT/cs/cs_bench.exe" "$URL" "$N" "$WARMUP" ;;
    php_vendor) record php_vendor "$r" $((N_VENDOR + WARMUP)) "${PHP[@]}" "$here/php_bench.php" vendor "$URL" "$N_VENDOR" "$WARMUP" ;;
    php_curl) record php_curl "$r" $((N + WARMUP)) "${PHP[@]}" "$here/php_bench.php" curl "$URL" "$N" "$WARMUP" ;;
  esac
}

# Paired, alternating: every round runs every client once, odd rounds in this order and even
# rounds in the reverse order, so no client always runs first or last; ratios are taken within
# a round (clients seconds apart, under the same load) and then the median over rounds.
CLIENTS=(wrk wrk2 c_raw c1 c2 php_ffi php_ffi_raw csharp php_vendor php_curl)
for r in $(seq 1 "$ROUNDS"); do
  order=("${CLIENTS[@]}")
  if [ $((r % 2)) = 0 ]; then
    order=()
    for ((i = ${#CLIENTS[@]} - 1; i >= 0; i--)); do order+=("${CLIENTS[$i]}"); done
  fi
  log "round $r/$ROUNDS: ${order[*]} (N=$N, vendor N=$N_VENDOR, wrk ${WRK_SECONDS}s)"
  for id in "${order[@]}"; do measure "$id" "$r"; done
  record client_new "$r" 0 "$OUT/c_bench" new "$URL" "$NEW_COUNT"
done

# What the PHP binding adds per call over the bare FFI call (no network).
log "PHP binding overhead over the bare FFI call"
record php_overhead 0 0 "${PHP[@]}" "$here/php_bench.php" overhead "$URL" 200000 0

# Syscalls per call, counted (not timed) with strace -c -f: each client runs with S1 and with
# S2 calls (the same warm-up), and the difference of the totals divided by S2 - S1 is what one
# more warm call costs; process start-up, library loading and connecting cancel out.
S1=${WDT_BENCH_STRACE_N1:-500}
S2=${WDT_BENCH_STRACE_N2:-1500}
count_syscalls() {
  local id=$1 n file a b
  shift
  for n in "$S1" "$S2"; do
    file="$tmp/strace.$id.$n"
    strace -c -f -o "$file" "${@//@N@/$n}" >/dev/null 2>&1 || die "strace of $id failed"
  done
  php -r '
    function counts(string $f): array {
        $c = [];
        foreach (file($f, FILE_IGNORE_NEW_LINES) as $line) {
            $p = preg_split("/\s+/", trim($line));
            if (count($p) >= 5 && is_numeric($p[0]) && is_numeric($p[3])) { $c[end($p)] = (int)$p[3]; }
        }
        return $c;
    }
    [$a, $b, $d] = [counts($argv[1]), counts($argv[2]), (int)$argv[3]];
    $per = [];
    foreach ($b as $name => $calls) {
        if ($name === "total") { continue; }
        $x = ($calls - ($a[$name] ?? 0)) / $d;
        if ($x >= 0.05) { $per[$name] = $x; }
    }
    arsort($per);
    $top = implode(",", array_map(fn($k, $v) => $k . ":" . number_format($v, 2, ".", ""), array_keys($per), $per));
    printf("syscalls=%.2f top=%s\n", (($b["total"] ?? 0) - ($a["total"] ?? 0)) / $d, $top === "" ? "-" : $top);
  ' "$tmp/strace.$id.$S1" "$tmp/strace.$id.$S2" $((S2 - S1)) | sed "s/^/client=$id round=0 kind=strace /" >>"$results"
}
if command -v strace >/dev/null 2>&1; then
  log "syscalls per call (strace -c -f, $S1 and $S2 calls)"
  count_syscalls c_raw "$OUT/c_bench" raw "$URL" @N@ "$WARMUP"
  count_syscalls c1 "$OUT/c_bench" seq "$URL" @N@ "$WARMUP"
  count_syscalls c2 "$OUT/c_bench" par "$URL" 2 @N@ "$WARMUP"
  count_syscalls php_ffi "${PHP[@]}" "$here/php_bench.php" ffi "$URL" @N@ "$WARMUP"
  count_syscalls php_ffi_raw "${PHP[@]}" "$here/php_bench.php" ffi_raw "$URL" @N@ "$WARMUP"
  count_syscalls csharp mono "$OUT/cs/cs_bench.exe" "$URL" @N@ "$WARMUP"
  count_syscalls php_curl "${PHP[@]}" "$here/php_bench.php" curl "$URL" @N@ "$WARMUP"
  count_syscalls php_vendor "${PHP[@]}" "$here/php_bench.php" vendor "$URL" @N@ "$WARMUP"
else
  die "strace not found (apt-get install strace)"
fi

# --- 5. report ---------------------------------------------------------------------------
elapsed=$(($(date +%s) - started))
{
  echo "machine: nproc=$(nproc), cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel=$(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tools: $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), PHP $(php -r 'echo PHP_VERSION;'), Mono $(mono --version | head -n1 | sed 's/.*version \([^ ]*\).*/\1/'), $(gcc --version | head -n1)"
  echo "library: $LIB"
  echo "run: N=$N, N_VENDOR=$N_VENDOR, ROUNDS=$ROUNDS, WRK_SECONDS=$WRK_SECONDS, NEW_COUNT=$NEW_COUNT, strace $S1/$S2 calls, took ${elapsed}s"
  echo
  php "$here/report.php" "$results" "$lib_bytes" "$stripped_bytes"
} | tee "$OUT/table.md"
log "raw results: $results; table: $OUT/table.md"
