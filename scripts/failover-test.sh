#!/usr/bin/env bash
# The failover test (tests/failover): brings up the high-availability
# cluster of scripts/ha-cluster.sh (Patroni, etcd, HAProxy, two PostgreSQL
# nodes) in a temporary directory, runs the test against it and takes it
# down again, whatever the outcome. Installs patroni, etcd-server and
# haproxy with apt-get when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

NGALAM112_HA_DIR=$(mktemp -d /tmp/ngalam112-ha.XXXXXX)
export NGALAM112_HA_DIR
# Another cluster (a user's, or a second CI run) may hold the default ports.
port=25430
while timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null ||
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((port + 20))" 2>/dev/null; do
  port=$((port + 100))
done
export NGALAM112_HA_PORT=$port
# On failure the cluster's own logs (etcd, Patroni with PostgreSQL, HAProxy)
# are shown before the cluster goes; the servers' are under target/tmp/.
trap 'status=$?; [ "$status" = 0 ] || tail -n 40 "$NGALAM112_HA_DIR"/*.log >&2; bash scripts/ha-cluster.sh down' EXIT

bash scripts/ha-cluster.sh up
cargo test --locked -p ngalam112 --test failover -- --ignored --nocapture "$@"
