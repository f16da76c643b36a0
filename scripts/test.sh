#!/usr/bin/env bash
# Runs the whole test suite against a real PostgreSQL (and, for the web
# console's tests, a headless Chromium and axe-core from npm; for the road
# tests, osmium).
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

# The browser tests drive headless Chromium through chromedriver; the
# road tests write their networks as OpenStreetMap XML and convert them to
# PBF with osmium.
need chromium chromium chromium-driver
need chromedriver chromium-driver
need osmium osmium-tool
# The browser tests check every page with axe-core, from npm (a
# devDependency of web/, loaded into the page by the tests only, never part
# of the served bundle).
if [ ! -f web/node_modules/axe-core/axe.min.js ]; then
  need npm npm
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi

status=0
cargo test --workspace --locked "$@" || status=$?
# The dispatch tests again on roads (a grid over Kota Malang, built by the
# testkit): every rule holds when nearest means least drive time.
if [ "$status" = 0 ] && [ $# = 0 ]; then
  NGALAM112_TEST_ROADS=grid cargo test --locked -p ngalam112 --test api -- \
    dispatch:: concurrency:: realtime:: wakeups:: || status=$?
fi

# Each integration test made its own database; clear them away.
if command -v psql >/dev/null 2>&1; then
  psql -q -d "$DATABASE_URL" -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'ngalam112_test_%'" 2>/dev/null |
    while read -r database; do
      psql -q -d "$DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
fi
exit "$status"
