#!/usr/bin/env bash
# Starts the database servers the outbox's server stores are tested against (Debian's MariaDB
# and PostgreSQL, installed by scripts/setup.sh), on 127.0.0.1 only, and prints what a test needs
# to reach them as `export` lines (also written to target/db-env.sh, for `source`):
#
#   WDT_TEST_MYSQL_URL      mysql://wdt:…@127.0.0.1:3306/wdt_test      (the outbox's grants)
#   WDT_TEST_PG_URL         postgres://wdt:…@127.0.0.1:5432/wdt_test   (owner of db and schema)
#   WDT_TEST_MYSQL_RO_URL   the same database as wdt_ro: SELECT only
#   WDT_TEST_PG_RO_URL      the same database as wdt_ro: SELECT only, every transaction
#                           read-only by default (what a hot standby looks like to a client)
#   WDT_TEST_MYSQL_RESTART  a shell command that restarts the MariaDB server
#   WDT_TEST_PG_RESTART     a shell command that restarts the PostgreSQL cluster
#
#   bash scripts/db-servers.sh                 # start (or check) both, print the exports
#   eval "$(bash scripts/db-servers.sh)"       # … into this shell
#   source target/db-env.sh                    # what the last run wrote
#
# Grants. On MariaDB, wdt has on wdt_test exactly what the outbox needs (CREATE, ALTER, INDEX,
# SELECT, INSERT, UPDATE, DELETE: a test against wdt_test proves the list is enough), and on the
# databases `wdt_test_<name>` the same plus DROP and TRIGGER, so a test can have a database of
# its own (and make the server answer "disk full" with a trigger). On PostgreSQL, wdt owns
# wdt_test and its public schema, and may create databases (one per test). WDT_TEST_DB_PASSWORD and WDT_TEST_DB_RO_PASSWORD override the two passwords (test
# servers on 127.0.0.1 holding test data only; every run sets them again).
#
# Needs root (the servers are the machine's). No systemd needed: MariaDB runs through its init
# script (`service`), PostgreSQL through pg_ctlcluster, so a fresh CI machine works. Idempotent
# and quick when both already run; a server that cannot be started is an error (exit 1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { echo "db-servers: $*" >&2; }
die() { echo "db-servers: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (the servers are the machine's; scripts/setup.sh installs them)"
command -v mariadb >/dev/null && command -v mariadb-admin >/dev/null || die "no MariaDB client: run bash scripts/setup.sh"
[ -x /etc/init.d/mariadb ] || die "no MariaDB server (/etc/init.d/mariadb): run bash scripts/setup.sh"
command -v pg_lsclusters >/dev/null && command -v psql >/dev/null || die "no PostgreSQL: run bash scripts/setup.sh"

PW=${WDT_TEST_DB_PASSWORD:-WdtTest_7f3c9a21}
RO_PW=${WDT_TEST_DB_RO_PASSWORD:-WdtRo_5e81b2c4}
# The passwords go into SQL string literals and URLs unescaped: keep them to safe characters.
for p in "$PW" "$RO_PW"; do
  [[ $p =~ ^[A-Za-z0-9_]{8,64}$ ]] || die "a test database password must be 8-64 of [A-Za-z0-9_]"
done
MY_PORT=3306

# The servers are the machine's, shared by every worktree: one run at a time. The daemons are
# started with fd 8 closed, or they would hold the lock for as long as they run.
mkdir -p /run/lock
exec 8>/run/lock/wdt-db-servers.lock
flock -w 300 8 || die "another scripts/db-servers.sh holds /run/lock/wdt-db-servers.lock"

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local name=$1 i
  for ((i = 0; i < $2 * 5; i++)); do
    if "${@:3}" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "$name did not come up within $2 s"
}

# ---------------------------------------------------------------- MariaDB
# 127.0.0.1 only, no reverse DNS of clients (accounts are @'127.0.0.1'); room for many
# processes of several test suites at once.
MY_CNF=/etc/mysql/mariadb.conf.d/90-wdt-test.cnf
my_conf="# Written by libwdt's scripts/db-servers.sh (test server).
[mysqld]
bind-address = 127.0.0.1
port = $MY_PORT
skip-name-resolve
max_connections = 500
# Rows read per table (information_schema.TABLE_STATISTICS): the outbox's tests check that a
# flush reads each entry a bounded number of times, not the backlog per claim.
userstat = 1
"
my_changed=0
if [ "$(cat "$MY_CNF" 2>/dev/null)" != "$(printf '%s' "$my_conf")" ]; then
  printf '%s' "$my_conf" >"$MY_CNF"
  my_changed=1
fi
my_ping() { mariadb-admin --protocol=socket -uroot ping; }
if my_ping >/dev/null 2>&1; then
  if [ $my_changed = 1 ]; then
    log "MariaDB: configuration changed, restarting"
    service mariadb restart 8>&- >&2 || die "service mariadb restart failed"
  fi
else
  log "MariaDB: starting"
  service mariadb start 8>&- >&2 || die "service mariadb start failed (see /var/log/mysql/ or journal)"
fi
wait_for MariaDB 60 my_ping
my_sql() { mariadb --protocol=socket -uroot --batch --skip-column-names "$@"; }
my_sql <<SQL || die "MariaDB: cannot create the test database and users"
CREATE DATABASE IF NOT EXISTS wdt_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'wdt'@'127.0.0.1' IDENTIFIED BY '$PW';
ALTER USER 'wdt'@'127.0.0.1' IDENTIFIED BY '$PW';
GRANT CREATE, ALTER, INDEX, SELECT, INSERT, UPDATE, DELETE ON \`wdt_test\`.* TO 'wdt'@'127.0.0.1';
GRANT CREATE, ALTER, INDEX, SELECT, INSERT, UPDATE, DELETE, DROP, TRIGGER ON \`wdt\\_test\\_%\`.* TO 'wdt'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'wdt_ro'@'127.0.0.1' IDENTIFIED BY '$RO_PW';
ALTER USER 'wdt_ro'@'127.0.0.1' IDENTIFIED BY '$RO_PW';
GRANT SELECT ON \`wdt_test\`.* TO 'wdt_ro'@'127.0.0.1';
GRANT SELECT ON \`wdt\\_test\\_%\`.* TO 'wdt_ro'@'127.0.0.1';
SQL
my_version=$(my_sql -e 'SELECT VERSION()')
# Proof that the account works over TCP on 127.0.0.1, as the tests connect.
MYSQL_PWD=$PW mariadb --protocol=tcp -h 127.0.0.1 -P "$MY_PORT" -u wdt --batch --skip-column-names \
  -e 'SELECT 1' wdt_test >/dev/null || die "MariaDB: wdt cannot log in over 127.0.0.1:$MY_PORT"

# ---------------------------------------------------------------- PostgreSQL
# The newest installed major version's cluster "main" (Debian 12: 15), created if missing.
pg_ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
[ -n "$pg_ver" ] || die "no PostgreSQL server under /usr/lib/postgresql: run bash scripts/setup.sh"
if ! pg_lsclusters -h | awk -v v="$pg_ver" '$1 == v && $2 == "main"' | grep -q .; then
  log "PostgreSQL: creating cluster $pg_ver/main"
  pg_createcluster "$pg_ver" main 8>&- >&2 || die "pg_createcluster $pg_ver main failed"
fi
# Debian's postgresql.conf includes conf.d/ last: our settings there override its defaults.
PG_CNF=/etc/postgresql/$pg_ver/main/conf.d/90-wdt-test.conf
pg_conf="# Written by libwdt's scripts/db-servers.sh (test server).
listen_addresses = '127.0.0.1'
max_connections = 300
"
pg_changed=0
if [ "$(cat "$PG_CNF" 2>/dev/null)" != "$(printf '%s' "$pg_conf")" ]; then
  mkdir -p "$(dirname "$PG_CNF")"
  printf '%s' "$pg_conf" >"$PG_CNF"
  pg_changed=1
fi
# The cluster's own port (5432 for the first cluster of a machine).
PG_PORT=$(pg_lsclusters -h | awk -v v="$pg_ver" '$1 == v && $2 == "main" {print $3}')
pg_status() { pg_lsclusters -h | awk -v v="$pg_ver" '$1 == v && $2 == "main" {print $4}'; }
pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }
PG_RESTART="pg_ctlcluster $pg_ver main restart"
if [ "$(pg_status)" = online ]; then
  if [ $pg_changed = 1 ]; then
    log "PostgreSQL: configuration changed, restarting"
    $PG_RESTART 8>&- >&2 || die "$PG_RESTART failed"
  fi
else
  log "PostgreSQL: starting cluster $pg_ver/main"
  pg_ctlcluster "$pg_ver" main start 8>&- >&2 || die "pg_ctlcluster $pg_ver main start failed (see /var/log/postgresql/)"
fi
wait_for PostgreSQL 60 pg_ready
pg_sql() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"); }
pg_sql -d postgres <<SQL >/dev/null || die "PostgreSQL: cannot create the test users and database"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wdt') THEN CREATE ROLE wdt LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wdt_ro') THEN CREATE ROLE wdt_ro LOGIN; END IF;
END \$\$;
ALTER ROLE wdt LOGIN CREATEDB PASSWORD '$PW';
ALTER ROLE wdt_ro LOGIN PASSWORD '$RO_PW';
ALTER ROLE wdt_ro SET default_transaction_read_only = on;
SELECT 'CREATE DATABASE wdt_test OWNER wdt ENCODING ''UTF8'' TEMPLATE template0'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'wdt_test') \gexec
ALTER DATABASE wdt_test OWNER TO wdt;
GRANT CONNECT ON DATABASE wdt_test TO wdt_ro;
SQL
pg_sql -d wdt_test <<SQL >/dev/null || die "PostgreSQL: cannot set the grants in wdt_test"
ALTER SCHEMA public OWNER TO wdt;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO wdt_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO wdt_ro;
ALTER DEFAULT PRIVILEGES FOR ROLE wdt GRANT SELECT ON TABLES TO wdt_ro;
SQL
pg_version=$(pg_sql -d postgres -A -t -c 'SELECT version()' | head -n1)
PGPASSWORD=$PW psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U wdt -d wdt_test -A -t -c 'SELECT 1' >/dev/null ||
  die "PostgreSQL: wdt cannot log in over 127.0.0.1:$PG_PORT"

log "MariaDB $my_version on 127.0.0.1:$MY_PORT; ${pg_version%% on *} on 127.0.0.1:$PG_PORT"

exports="export WDT_TEST_MYSQL_URL='mysql://wdt:$PW@127.0.0.1:$MY_PORT/wdt_test'
export WDT_TEST_PG_URL='postgres://wdt:$PW@127.0.0.1:$PG_PORT/wdt_test'
export WDT_TEST_MYSQL_RO_URL='mysql://wdt_ro:$RO_PW@127.0.0.1:$MY_PORT/wdt_test'
export WDT_TEST_PG_RO_URL='postgres://wdt_ro:$RO_PW@127.0.0.1:$PG_PORT/wdt_test'
export WDT_TEST_MYSQL_RESTART='service mariadb restart'
export WDT_TEST_PG_RESTART='$PG_RESTART'"
mkdir -p "$ROOT/target"
printf '%s\n' "$exports" >"$ROOT/target/db-env.sh.tmp"
mv "$ROOT/target/db-env.sh.tmp" "$ROOT/target/db-env.sh"
printf '%s\n' "$exports"
