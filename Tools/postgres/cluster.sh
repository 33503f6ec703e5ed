#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests (docs/ledger.md, "PostgreSQL"):
#   cluster.sh start [DIR]   initdb + start; prints the postgres:// URL
#   cluster.sh url   [DIR]   prints the URL of the running cluster
#   cluster.sh stop  [DIR]   stops it and removes DIR
# DIR defaults to ${TMPDIR:-/tmp}/tradetap-postgres. The server listens on
# 127.0.0.1 only, on a free port, with scram-sha-256 password auth and no TLS (the
# URL says sslmode=disable); its unix socket lives in DIR. initdb refuses root, so as root the cluster runs as `postgres`.
set -euo pipefail

bin="${TRADETAP_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}"
command="${1:-}"
dir="${2:-${TMPDIR:-/tmp}/tradetap-postgres}"

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $(( 20000 + RANDOM % 30000 ))
}

start() {
  [ -x "$bin/initdb" ] || { echo "cluster.sh: no PostgreSQL at $bin (apt-get install postgresql-15)" >&2; exit 1; }
  if [ -f "$dir/url" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then cat "$dir/url"; return; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  local password
  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$password" >"$dir/pwfile"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$dir"
    # The postgres user must be able to reach DIR (a mktemp -d parent is 0700).
    chmod a+x "$(dirname "$dir")"
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U tradetap --pwfile="$dir/pwfile" --auth-host=scram-sha-256 \
    --auth-local=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  local port attempt
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200" \
      start >/dev/null 2>&1; then
      # sslmode=disable: the cluster has no TLS, and the collector sends a password
      # without TLS only when the URL says so (docs/ledger.md, "PostgreSQL").
      printf 'postgres://tradetap:%s@127.0.0.1:%s/postgres?sslmode=disable\n' "$password" "$port" >"$dir/url"
      cat "$dir/url"
      return
    fi
  done
  echo "cluster.sh: PostgreSQL did not start; $dir/server.log:" >&2
  tail -20 "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  url) cat "$dir/url" ;;
  *) echo "usage: $0 start|stop|url [DIR]" >&2; exit 2 ;;
esac
