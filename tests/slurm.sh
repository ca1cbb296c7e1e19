#!/usr/bin/env bash
# `--shard auto` under a real Slurm: starts a one-node cluster on this machine (munge,
# slurmctld, slurmd, in a temporary folder, on ports of its own), submits a sweep as a job
# array of three whose tasks find their shard from Slurm's variables, merges the shards, and
# checks the merge is the unsharded sweep (provenance aside). Resubmitting the array must run
# nothing again.
#
# Run it as root on a machine with Debian's slurm-wlm (`apt-get install slurm-wlm`):
#     bash tests/slurm.sh
# Without Slurm it says so and exits 0 (CI skips it there); with SLURM_TEST=required it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  if [ "${SLURM_TEST:-}" = required ]; then
    echo "slurm.sh: $1" >&2
    exit 1
  fi
  echo "slurm.sh: skipped: $1"
  exit 0
}
for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install slurm-wlm)"
done
[ "$(id -u)" = 0 ] || skip "slurmd needs root"

pccsim="${PCCSIM:-$PWD/target/debug/pccsim}"
[ -x "$pccsim" ] || cargo build -q --bin pccsim
work="$(mktemp -d)"
export SLURM_CONF="$work/slurm.conf"
our_munge=""
cleanup() {
  local daemons=()
  for f in "$work/slurmctld.pid" "$work/slurmd.pid"; do
    [ -f "$f" ] && daemons+=("$(cat "$f")")
  done
  [ -n "$our_munge" ] && [ -f /run/munge/munged.pid ] && daemons+=("$(cat /run/munge/munged.pid)")
  for pid in "${daemons[@]}"; do kill "$pid" 2>/dev/null || true; done
  # The daemons write their state as they stop: wait for them before removing it.
  for _ in $(seq 50); do
    alive=0
    for pid in "${daemons[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

# Munge authenticates Slurm's messages; start it unless one runs already.
if [ ! -S /run/munge/munge.socket.2 ]; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  [ -f /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge 2>/dev/null || true
  chmod 0400 /etc/munge/munge.key
  su -s /bin/sh munge -c "munged --force" 2>/dev/null || munged --force 2>/dev/null \
    || skip "munged does not start"
  our_munge=1
fi

host="$(hostname -s)"
mkdir -p "$work/state" "$work/spool"
cat >"$SLURM_CONF" <<EOF
ClusterName=pccsimtest
SlurmctldHost=$host
SlurmctldPort=17817
SlurmdPort=17818
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -i || skip "slurmctld does not start"
slurmd || skip "slurmd does not start"
for _ in $(seq 50); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 0.2
done
sinfo -h -o %t | grep -q idle || skip "the node does not come up: $(tail -n3 "$work/slurmd.log")"

# A small sweep: 2 classifiers × 3 seeds of 20 s, six jobs for three tasks.
cat >"$work/sweep.ron" <<EOF
Sweep(scenario: "$PWD/scenarios/dual_wan.ron", seeds: 3, duration: "20s",
      variants: (classifiers: ["src-address", "both-addresses"]))
EOF
cat >"$work/task.sh" <<EOF
#!/bin/bash
exec "$pccsim" sweep "$work/sweep.ron" --shard auto --out "$work/results/shard-\$SLURM_ARRAY_TASK_ID"
EOF
chmod +x "$work/task.sh"
submit() {
  sbatch --wait --array=1-3 --chdir="$work" --output="$work/task-%a.out" "$work/task.sh" >/dev/null
}
submit
grep -L "results in" "$work"/task-*.out | grep . && { cat "$work"/task-*.out; exit 1; }
"$pccsim" merge "$work"/results/shard-*/shard-*-of-3.json --out "$work/merged" >/dev/null
"$pccsim" sweep "$work/sweep.ron" --out "$work/whole" >/dev/null

python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
def read(d):
    c = json.load(open(f"{work}/{d}/comparison.json"))
    return c, c.pop("provenance")
merged, shards = read("merged")
whole, _ = read("whole")
assert merged == whole, "the merged array differs from the unsharded sweep"
assert len(shards) == 3, shards
print("slurm.sh: 3 array tasks found their shards; the merge equals the unsharded sweep")
EOF

# Resubmitted, every task finds its shard complete and runs nothing.
submit
for task in 1 2 3; do
  grep -q "already complete" "$work/task-$task.out" || { cat "$work/task-$task.out"; exit 1; }
done
echo "slurm.sh: a resubmitted array ran nothing again"
