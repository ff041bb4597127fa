#!/usr/bin/env bash
# Stop what .ci/slurm/start.sh started, by the PIDs it recorded: jobs first, then slurmd, slurmctld, munged.
set -uo pipefail
DIR=${TWASFLOW_SLURM_DIR:-/tmp/twasflow-slurm}
[ -d "$DIR" ] || exit 0
export SLURM_CONF="$DIR/slurm.conf"

stop_pid() {  # stop_pid NAME PIDFILE: SIGTERM, wait up to 20 s, then SIGKILL
  local name=$1 file=$2 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || { echo "stopped $name ($pid)"; return 0; }; sleep 0.5; done
  echo "$name ($pid) ignored SIGTERM; SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

if [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
  scancel --full --quiet --state=PENDING 2>/dev/null; scancel --full --quiet 2>/dev/null
  # let slurmd's step daemons (children of the jobs we cancelled) finish before stopping slurmd
  for _ in $(seq 20); do [ -z "$(squeue -h -t R,CG 2>/dev/null)" ] && break; sleep 0.5; done
fi
stop_pid slurmd "$DIR/slurmd.pid"
stop_pid slurmctld "$DIR/slurmctld.pid"
stop_pid munged "$DIR/munge/munged.pid"
if [ -e "$DIR/etc-link" ] && [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$DIR/slurm.conf" ]; then
  rm -f /etc/slurm/slurm.conf "$DIR/etc-link" && echo "removed /etc/slurm/slurm.conf (link to $DIR/slurm.conf)"
fi
