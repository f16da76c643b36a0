# Sourced by scripts/test.sh and scripts/check-sqlx.sh: finds a PostgreSQL
# and exports DATABASE_URL. Which one: $DATABASE_URL if it answers; else
# the local server at postgres://postgres@127.0.0.1:5432/postgres if it
# answers; else a throwaway cluster started here from the machine's
# PostgreSQL binaries (installing Debian's postgresql package first if they
# are missing), stopped again when the calling script exits.

# shellcheck source=scripts/postgres-bin.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres-bin.sh"

answers() { # URL
  local url=$1 hostport host port
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -d "$url" -t 3
    return
  fi
  hostport=${url#*@}; hostport=${hostport%%/*}
  host=${hostport%%:*}; port=${hostport##*:}
  [ "$host" = "$port" ] && port=5432
  timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

start_throwaway_cluster() {
  local bin dir port as=()
  bin=$(pg_bin_dir_or_install)
  dir=$(mktemp -d /tmp/ngalam112-test-pg.XXXXXX)
  chmod 755 "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  port=54329
  while timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; do port=$((port + 1)); done
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300" start >/dev/null
  # shellcheck disable=SC2064
  trap "${as[*]} '$bin/pg_ctl' -D '$dir/data' -m fast stop >/dev/null; rm -rf '$dir'" EXIT
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "${0##*/}: started a throwaway PostgreSQL on port $port" >&2
}

if [ -n "${DATABASE_URL:-}" ] && answers "$DATABASE_URL"; then
  echo "${0##*/}: using DATABASE_URL" >&2
elif answers "postgres://postgres@127.0.0.1:5432/postgres"; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
  echo "${0##*/}: using the local PostgreSQL on 127.0.0.1:5432" >&2
else
  start_throwaway_cluster
fi
