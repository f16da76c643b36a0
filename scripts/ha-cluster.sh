#!/usr/bin/env bash
# A real high-availability PostgreSQL cluster on this one machine, from the
# configuration files in deploy/ha/: a single-member etcd, two PostgreSQL
# nodes managed by Patroni in synchronous mode (a commit is on the standby
# before it is acknowledged), and HAProxy routing one port to whichever node
# Patroni says is the primary. For the failover test and for trying the
# server against a cluster; docs/deployment.md describes the city's version.
#
#   scripts/ha-cluster.sh up               start it (installs patroni, etcd-server,
#                                          haproxy and PostgreSQL with apt-get when missing)
#   scripts/ha-cluster.sh url [DATABASE]   print the DATABASE_URL through HAProxy (of the
#                                          database ngalam112, made empty by `up`)
#   scripts/ha-cluster.sh status           patronictl list
#   scripts/ha-cluster.sh primary          print the primary node's name
#   scripts/ha-cluster.sh kill-primary     kill -9 the primary's postmaster, then its Patroni
#   scripts/ha-cluster.sh start NODE       start a stopped node again (it rejoins as a standby)
#   scripts/ha-cluster.sh wait-healthy     wait until one primary and a synchronous standby stream
#   scripts/ha-cluster.sh switchover       planned switchover to the synchronous standby
#   scripts/ha-cluster.sh down             stop everything and delete the cluster
#
# Where: $NGALAM112_HA_DIR (default /tmp/ngalam112-ha). Ports from
# $NGALAM112_HA_PORT (default 25430): HAProxy on it, the PostgreSQL nodes on
# +1 and +2, their Patroni REST APIs on +11 and +12, etcd on +20 and +21.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/postgres-bin.sh
source "$repo/scripts/postgres-bin.sh"

dir=${NGALAM112_HA_DIR:-/tmp/ngalam112-ha}
base=${NGALAM112_HA_PORT:-25430}
nodes=(node1 node2)
haproxy_port=$base
etcd_client=$((base + 20))
etcd_peer=$((base + 21))

pg_port() { [ "$1" = node1 ] && echo $((base + 1)) || echo $((base + 2)); }
rest_port() { [ "$1" = node1 ] && echo $((base + 11)) || echo $((base + 12)); }
other() { [ "$1" = node1 ] && echo node2 || echo node1; }
say() { echo "ha-cluster: $*" >&2; }

# Runs a command as the account that owns the PostgreSQL data (postgres
# when we are root, else ourselves).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$dir" "$@"
  else
    "$@"
  fi
}

exec_as_owner() {
  # Patroni's bootstrap (initdb) hangs when the working directory is one
  # the postgres account cannot enter (a checkout under a 0700 directory).
  cd "$dir"
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$dir" "$@"
  fi
  exec "$@"
}

# Fills the @NAME@ fields of a deploy/ha template: `render FILE KEY=VALUE...`.
render() {
  local file=$1 script=() pair
  shift
  for pair in "$@"; do
    script+=(-e "s|@${pair%%=*}@|${pair#*=}|g")
  done
  sed "${script[@]}" "$repo/deploy/ha/$file"
}

secret() { [ -s "$dir/$1.password" ] || head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/$1.password"; cat "$dir/$1.password"; }

# 0 when GET http://127.0.0.1:PORT/PATH answers 200.
rest_ok() { curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1/$2" 2>/dev/null; }

wait_for() { # SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "timed out after ${seconds}s waiting for $what"
      tail -n 30 "$dir"/*.log >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

start_node() {
  local node=$1
  # exec: the recorded pid is Patroni's own (kill-primary kills it).
  (exec_as_owner patroni "$dir/$node.yml" >>"$dir/$node.log" 2>&1) &
  echo $! >"$dir/$node.patroni.pid"
}

up() {
  need patroni patroni
  need etcd etcd-server
  need haproxy haproxy
  need curl curl
  local bin
  bin=$(pg_bin_dir_or_install)
  if [ -e "$dir/etcd.pid" ]; then
    say "already up in $dir (scripts/ha-cluster.sh down first)"
    exit 1
  fi
  mkdir -p "$dir"
  chmod 0711 "$dir"
  render etcd.yml NAME=etcd1 DATA_DIR="$dir/etcd" LISTEN_HOST=127.0.0.1 HOST=127.0.0.1 \
    CLIENT_PORT="$etcd_client" PEER_PORT="$etcd_peer" \
    INITIAL_CLUSTER="etcd1=http://127.0.0.1:$etcd_peer" >"$dir/etcd.yml"
  nohup etcd --config-file "$dir/etcd.yml" >>"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  wait_for 30 "etcd" rest_ok "$etcd_client" health

  local superuser replication rewind node
  superuser=$(secret superuser)
  replication=$(secret replication)
  rewind=$(secret rewind)
  for node in "${nodes[@]}"; do
    mkdir -p "$dir/$node"
    render patroni.yml NAME="$node" LISTEN_HOST=127.0.0.1 HOST=127.0.0.1 \
      REST_PORT="$(rest_port "$node")" PG_PORT="$(pg_port "$node")" \
      ETCD_HOSTS="127.0.0.1:$etcd_client" DATA_DIR="$dir/$node/data" BIN_DIR="$bin" \
      PGPASS="$dir/$node/pgpass" SOCKET_DIR="$dir/$node" NETWORK=127.0.0.1/32 \
      SUPERUSER_PASSWORD="$superuser" REPLICATION_PASSWORD="$replication" \
      REWIND_PASSWORD="$rewind" >"$dir/$node.yml"
    chmod 0600 "$dir/$node.yml"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/$node" "$dir/$node.yml"; fi
  done
  start_node node1
  wait_for 90 "node1 to become the primary" rest_ok "$(rest_port node1)" primary
  start_node node2
  render haproxy.cfg LISTEN="127.0.0.1:$haproxy_port" \
    NODE1_NAME=node1 NODE1_PG="127.0.0.1:$(pg_port node1)" NODE1_REST="$(rest_port node1)" \
    NODE2_NAME=node2 NODE2_PG="127.0.0.1:$(pg_port node2)" NODE2_REST="$(rest_port node2)" \
    >"$dir/haproxy.cfg"
  haproxy -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid" >>"$dir/haproxy.log" 2>&1
  wait_healthy
  as_owner "$bin/psql" -q -d "$(url postgres)" -c "CREATE DATABASE ngalam112"
  say "up: DATABASE_URL=$(url)"
}

url() { echo "postgres://postgres:$(cat "$dir/superuser.password")@127.0.0.1:$haproxy_port/${1:-ngalam112}"; }

primary() {
  local node
  for node in "${nodes[@]}"; do
    if rest_ok "$(rest_port "$node")" primary; then
      echo "$node"
      return
    fi
  done
  return 1
}

# One primary, the other node its synchronous standby, and HAProxy routing
# to the primary.
healthy() {
  local leader
  leader=$(primary) || return 1
  rest_ok "$(rest_port "$(other "$leader")")" sync || return 1
  as_owner "$(pg_bin_dir)/pg_isready" -q -h 127.0.0.1 -p "$haproxy_port" -t 1
}
wait_healthy() { wait_for 120 "a primary with a synchronous standby" healthy; }

kill_primary() {
  local leader postmaster
  leader=$(primary) || { say "no primary to kill"; exit 1; }
  postmaster=$(head -n 1 "$dir/$leader/data/postmaster.pid")
  # As a machine dies: the database first, its Patroni in the same instant.
  kill -9 "$postmaster"
  kill -9 "$(cat "$dir/$leader.patroni.pid")"
  echo "$leader"
}

start() {
  local node=${1:?which node}
  if kill -0 "$(cat "$dir/$node.patroni.pid" 2>/dev/null)" 2>/dev/null; then
    say "$node is running"
    return
  fi
  start_node "$node"
}

switchover() {
  local leader
  leader=$(primary) || { say "no primary"; exit 1; }
  as_owner patronictl -c "$dir/$leader.yml" switchover --leader "$leader" \
    --candidate "$(other "$leader")" --force >&2
  echo "$(other "$leader")"
}

down() {
  local file
  [ -e "$dir/haproxy.pid" ] && kill "$(cat "$dir/haproxy.pid")" 2>/dev/null || true
  for file in "$dir"/node*.patroni.pid; do
    [ -e "$file" ] && kill "$(cat "$file")" 2>/dev/null || true
  done
  # Patroni stops its PostgreSQL on SIGTERM; wait for both, then etcd.
  for _ in $(seq 50); do
    pgrep -f "postgres -D $dir/" >/dev/null || break
    sleep 0.2
  done
  pkill -9 -f "postgres -D $dir/" 2>/dev/null || true
  # A Patroni stuck in its bootstrap does not stop on SIGTERM.
  pkill -9 -f "patroni $dir/" 2>/dev/null || true
  [ -e "$dir/etcd.pid" ] && kill "$(cat "$dir/etcd.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$dir"
}

case "${1:-}" in
  up) up ;;
  url) url "${2:-}" ;;
  status) as_owner patronictl -c "$dir/node1.yml" list ;;
  primary) primary ;;
  kill-primary) kill_primary ;;
  start) start "${2:-}" ;;
  wait-healthy) wait_healthy ;;
  switchover) switchover ;;
  down) down ;;
  *)
    sed -n '2,24p' "$0" >&2
    exit 2
    ;;
esac
