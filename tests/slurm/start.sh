#!/usr/bin/env bash
# Start a single-node Slurm (controller + compute node "localhost", two fake GPUs) for
# tests/slurm/test_slurm.py. Needs root and Debian/Ubuntu (apt). Idempotent: exits at once when the node
# is already idle. Daemons are started by hand (containers have no init system).
#   sudo tests/slurm/start.sh          # then: .venv/bin/pytest -m slurm tests/slurm/test_slurm.py
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
STATE=/var/spool/slurm-dqci
CONF_DIR=/etc/slurm

if [ "$(id -u)" != 0 ]; then
    echo "start.sh: needs root (apt-get, munge, mknod, slurmd)" >&2
    exit 1
fi

node_idle() {
    sinfo -h -N -o '%N %t' 2>/dev/null | grep -Eq '^localhost (idle|mix|alloc)'
}

if command -v sinfo >/dev/null && node_idle; then
    echo "start.sh: Slurm already running:"; sinfo
    exit 0
fi

# 1. packages
missing=0
for bin in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch /usr/bin/sinfo; do
    [ -x "$bin" ] || missing=1
done
if [ "$missing" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge
fi

# 2. configuration: the node as big as the machine (slurmd drains a node that claims more)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d"
sed -e "s|@CPUS@|$CPUS|" -e "s|@MEM_MB@|$MEM_MB|" -e "s|@STATE@|$STATE|g" \
    "$HERE/slurm.conf.in" > "$CONF_DIR/slurm.conf"
cp "$HERE/gres.conf" "$CONF_DIR/gres.conf"
for i in 0 1; do
    [ -e /dev/fakegpu$i ] || mknod /dev/fakegpu$i c 1 3
done

# 3. munge (authentication between the Slurm commands and daemons)
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge: /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge: /run/munge /var/log/munge /var/lib/munge
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 20); do munge -n >/dev/null 2>&1 && break; sleep 0.5; done
fi

# 4. Slurm daemons (restart them so they read this configuration)
for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill "$(cat "$pidfile")"
        sleep 1
    fi
done
/usr/sbin/slurmctld
/usr/sbin/slurmd -N localhost

for _ in $(seq 60); do
    if node_idle; then
        echo "start.sh: Slurm is up:"; sinfo
        exit 0
    fi
    sleep 1
done
echo "start.sh: the node did not become idle; sinfo and the logs:" >&2
sinfo -N -l >&2 || true
tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
exit 1
