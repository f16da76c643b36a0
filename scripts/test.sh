#!/usr/bin/env bash
# Runs the whole test suite against a real PostgreSQL (and, for the web
# console's tests, a headless Chromium).
#
# Which PostgreSQL: $DATABASE_URL if it answers; else the local server at
# postgres://postgres@127.0.0.1:5432/postgres if it answers; else a
# throwaway cluster started here from the machine's PostgreSQL binaries
# (installing Debian's postgresql package first if they are missing), and
# stopped again when the tests end.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/database.sh
source scripts/database.sh

# The browser tests drive headless Chromium through chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Chromium and ChromeDriver for the browser tests" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "test.sh: the browser tests need chromium and chromedriver (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
fi

status=0
cargo test --workspace --locked "$@" || status=$?

# Each integration test made its own database; clear them away.
if command -v psql >/dev/null 2>&1; then
  psql -q -d "$DATABASE_URL" -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'ngalam112_test_%'" 2>/dev/null |
    while read -r database; do
      psql -q -d "$DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
fi
exit "$status"
