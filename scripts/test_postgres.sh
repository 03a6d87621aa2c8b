#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster (if needed), create a test role and
# database, and print the URL. Loopback only.
set -euo pipefail
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
as_postgres() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
    if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
        $SUDO pg_createcluster "$version" main >/dev/null
    fi
    $SUDO pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk '$4=="online"{print $3; exit}')
as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hiscrm') THEN
    CREATE ROLE hiscrm LOGIN PASSWORD 'hiscrm' CREATEDB;
  END IF;
END \$\$;
SQL
if ! as_postgres psql -p "$port" -tAc "SELECT 1 FROM pg_database WHERE datname='hiscrm_test'" | grep -q 1; then
    as_postgres createdb -p "$port" -O hiscrm hiscrm_test
fi
echo "postgresql://hiscrm:hiscrm@127.0.0.1:${port}/hiscrm_test"
