#!/usr/bin/env bash
# Fails when the saved query data in .sqlx/ no longer matches the store's
# SQL and the migrations: builds use .sqlx/ (SQLX_OFFLINE, see
# .cargo/config.toml), so a stale .sqlx/ would check queries against an old
# schema. Runs `cargo sqlx prepare --check --workspace` against a fresh
# database migrated from migrations/. Installs sqlx-cli (postgres only)
# under the target directory when it is not on PATH.
#
# With --write it saves fresh query data instead (after changing a query or
# a migration), to be committed with the change.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=--check
[ "${1:-}" = --write ] && mode=

# shellcheck source=scripts/database.sh
source scripts/database.sh

version=0.9.0
tools="$(realpath -m "${CARGO_TARGET_DIR:-target}")/tools"
if ! command -v cargo-sqlx >/dev/null 2>&1 || ! cargo sqlx --version 2>/dev/null | grep -q " $version\$"; then
  if [ ! -x "$tools/bin/cargo-sqlx" ]; then
    echo "check-sqlx.sh: installing sqlx-cli $version (postgres only) into $tools" >&2
    cargo install --quiet sqlx-cli --version "=$version" --no-default-features \
      --features postgres --locked --root "$tools"
  fi
  export PATH="$tools/bin:$PATH"
fi

server=${DATABASE_URL%/*}
check_url="$server/ngalam112_sqlx_check"
sqlx database drop -y -f -D "$check_url" >/dev/null
sqlx database create -D "$check_url"
sqlx migrate run --source migrations -D "$check_url" >/dev/null
status=0
DATABASE_URL="$check_url" cargo sqlx prepare --workspace $mode -- --workspace --all-targets || status=$?
sqlx database drop -y -f -D "$check_url" >/dev/null || true
if [ "$status" != 0 ] && [ -n "$mode" ]; then
  echo "check-sqlx.sh: .sqlx/ is stale: run 'bash scripts/check-sqlx.sh --write' and commit .sqlx/" >&2
fi
exit "$status"
