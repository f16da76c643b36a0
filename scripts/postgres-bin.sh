# Sourced by scripts/database.sh and scripts/ha-cluster.sh: finds the
# machine's PostgreSQL server binaries, installing Debian's postgresql
# package first when they are missing (as root).

pg_bin_dir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir)
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# Installs Debian packages when a command is missing: `need COMMAND PACKAGE...`.
need() {
  local command=$1
  shift
  command -v "$command" >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "${0##*/}: installing $*" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "${0##*/}: $command is missing: apt-get install $*" >&2
    exit 1
  fi
}

# Prints the PostgreSQL binaries' directory, installing them if needed.
pg_bin_dir_or_install() {
  local bin
  bin=$(pg_bin_dir || true)
  if [ -z "$bin" ]; then
    need initdb postgresql
    bin=$(pg_bin_dir)
  fi
  echo "$bin"
}
