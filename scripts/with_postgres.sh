#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server from Debian's `postgresql` package:
# a fresh cluster in a temporary folder, listening on a free port of 127.0.0.1, trusted local
# logins, removed on exit. The command sees its URL in NINES_TEST_POSTGRES_URL, e.g.
#
#   scripts/with_postgres.sh cargo test -p nines-web --test http
#
# runs nines-web's HTTP tests on PostgreSQL instead of SQLite. As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

bin="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
  echo "with_postgres: no PostgreSQL server found under /usr/lib/postgresql (scripts/setup.sh installs it)" >&2
  exit 1
fi
dir="$(mktemp -d)"
as=()
if [[ "$(id -u)" -eq 0 ]]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
stop() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -U nines --auth=trust -E UTF8 >/dev/null
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
export NINES_TEST_POSTGRES_URL="postgres://nines@127.0.0.1:$port/postgres"
"$@"
