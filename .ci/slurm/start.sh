#!/usr/bin/env bash
# Start a single-node SLURM for CI on 127.0.0.1: its own munged, slurmctld and slurmd, all state under
# $TWASFLOW_SLURM_DIR (default /tmp/twasflow-slurm). Clients find the cluster through SLURM_CONF, written to
# $TWASFLOW_SLURM_DIR/env (source it), and through a symlink /etc/slurm/slurm.conf -> $DIR/slurm.conf, because
# the executor plugin's job step strips SLURM_* variables (SLURM_CONF too) before its inner srun. The symlink
# is only made when /etc/slurm/slurm.conf does not exist, and stop.sh removes it.
# Stop with .ci/slurm/stop.sh.
# Exit status 0 only when a test job has run to completion through sbatch + srun.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${TWASFLOW_SLURM_DIR:-/tmp/twasflow-slurm}
CTLD_PORT=${TWASFLOW_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${TWASFLOW_SLURM_SLURMD_PORT:-6818}

fail() {
  echo "twasflow CI SLURM: $*" >&2
  for f in "$DIR/slurmctld.log" "$DIR/slurmd.log" "$DIR/munge/munged.log"; do
    [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -n 20 "$f" >&2; }
  done
  "$HERE/stop.sh" >&2 || true
  exit 1
}

[ "$(id -u)" = 0 ] || { echo "twasflow CI SLURM: must run as root (slurmd launches jobs); try: sudo $0" >&2; exit 1; }
for bin in munged slurmctld slurmd sbatch srun squeue scontrol sinfo; do
  command -v "$bin" >/dev/null || { echo "twasflow CI SLURM: '$bin' not found; install: apt-get install slurm-wlm munge" >&2; exit 1; }
done
if [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
  echo "twasflow CI SLURM: already running (state in $DIR)"; exit 0
fi

# a previous CI cluster's state is discarded; anything else at that path is left alone
if [ -e "$DIR" ] && [ ! -e "$DIR/slurm.conf" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  echo "twasflow CI SLURM: $DIR exists and is not a CI cluster's state; set TWASFLOW_SLURM_DIR" >&2; exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR/munge" "$DIR/ctld" "$DIR/slurmd"
chmod 700 "$DIR/munge"
head -c 1024 /dev/urandom > "$DIR/munge/munge.key"
chmod 400 "$DIR/munge/munge.key"

# --force: munged refuses a socket below world-writable /tmp otherwise; the key is private to this cluster.
munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket.2" \
  --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed" \
  || fail "munged did not start"

host=$(hostname -s)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
sed -e "s|@DIR@|$DIR|g" -e "s|@HOST@|$host|g" -e "s|@USER@|$(id -un)|g" -e "s|@CPUS@|$(nproc)|g" \
    -e "s|@MEM_MB@|$mem_mb|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" \
    "$HERE/slurm.conf.in" > "$DIR/slurm.conf"
export SLURM_CONF="$DIR/slurm.conf"
printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" > "$DIR/env"
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$SLURM_CONF" ]; then
  touch "$DIR/etc-link"
elif [ -e /etc/slurm/slurm.conf ] || [ -L /etc/slurm/slurm.conf ]; then
  fail "/etc/slurm/slurm.conf exists (a real cluster's?); not replacing it. Remove it to use the CI cluster."
else
  mkdir -p /etc/slurm && ln -s "$SLURM_CONF" /etc/slurm/slurm.conf && touch "$DIR/etc-link"
fi

slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" -N "$host" || fail "slurmd did not start"

for _ in $(seq 60); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || fail "node not idle after 60 s (state '${state:-none}')"

# A real job through the batch and step paths Snakemake's executor uses (sbatch, then srun inside).
out=$(timeout 120 sbatch --wait --parsable -t 1 --mem 100 -o "$DIR/smoke.out" --wrap "srun hostname") \
  || fail "smoke job failed (sbatch exit $?)"
grep -qx "$host" "$DIR/smoke.out" || fail "smoke job $out ran but printed '$(cat "$DIR/smoke.out")'"
echo "twasflow CI SLURM: up on 127.0.0.1 (node $host, $(nproc) CPUs, ${mem_mb} MB); source $DIR/env"
