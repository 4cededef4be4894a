#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine: munged, slurmctld and slurmd from Debian's
# packages, run as root from a temporary directory; submits scripts/slurm/submit with the CPU
# fallback on the smoke suite, screened against a baseline and writing metrics, waits for the run
# job and its dependent merge job, and checks the results file, the verdict, the metrics and the
# fleet report. Every daemon it starts is stopped on exit.
#
#   tests/slurm/run_slurm_test.sh TRAINRATE_CLI
# Exit 0 pass, 1 fail, 77 skip (only when Slurm cannot be installed or started here).
set -euo pipefail

cli="${1:?usage: run_slurm_test.sh TRAINRATE_CLI}"
cli="$(cd "$(dirname "$cli")" && pwd)/$(basename "$cli")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SKIP=77
skip() { echo "run_slurm_test: SKIP: $*"; exit $SKIP; }
fail() { echo "run_slurm_test: FAIL: $*" >&2; show_logs; exit 1; }

[[ "$(id -u)" -eq 0 ]] || skip "needs root to run slurmd and munged (run as root, e.g. in CI)"
if ! "$root/scripts/setup" slurmctld slurmd slurm-client munge; then
  skip "Slurm cannot be installed: scripts/setup slurmctld slurmd slurm-client munge failed"
fi
for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
  command -v "$tool" >/dev/null || skip "$tool missing after installing Slurm"
done

work="$(mktemp -d /tmp/trainrate-slurm-XXXXXX)"
chmod 755 "$work"
mkdir -p "$work"/{munge,state,spool,log,out}
pids=()
show_logs() {
  for log in "$work"/log/*.log "$work"/out/*.out; do
    [[ -f "$log" ]] || continue
    echo "---- $log (last 30 lines)" >&2
    tail -n 30 "$log" >&2
  done
}
cleanup() {
  local status=$?
  # Stop only the daemons this script started, by their process ids.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ $status -eq 0 || -n "${KEEP_SLURM_TEST:-}" ]]; then
    [[ -n "${KEEP_SLURM_TEST:-}" ]] && echo "run_slurm_test: kept $work" || rm -rf "$work"
  else
    echo "run_slurm_test: left $work for inspection" >&2
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- munge --------------------------------------------------------------------------------------
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$work/munge"
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
munged --foreground --force --key-file="$work/munge/munge.key" --socket="$socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" \
  >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S "$socket" ]] && break; sleep 0.1; done
[[ -S "$socket" ]] || { show_logs; skip "munged did not start (see log above)"; }

# ---- slurm.conf for this one host ---------------------------------------------------------------
cpus=2
real_memory=$(( $(free -m | awk '/^Mem:/ {print $2}') * 8 / 10 ))
port_base=$(( 20000 + RANDOM % 20000 ))
conf="$work/slurm.conf"
cat >"$conf" <<CONF
ClusterName=trainratetest
SlurmctldHost=localhost
SlurmctldPort=$port_base
SlurmdPort=$((port_base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_memory State=UNKNOWN
PartitionName=trainrate Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf"

slurmctld -D -i -f "$conf" >"$work/log/slurmctld.stdout" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$conf" >"$work/log/slurmd.stdout" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 60); do
  state="$(sinfo -h -n localhost -o %T 2>/dev/null || true)"
  [[ "$state" == idle* ]] && break
  sleep 1
done
if [[ "$state" != idle* ]]; then
  show_logs
  cat "$work"/log/*.stdout >&2 || true
  skip "the one-node Slurm cluster did not come up (node state '${state:-none}'; logs above)"
fi
echo "run_slurm_test: Slurm $(sinfo --version | awk '{print $2}') up: node localhost idle, $cpus CPUs, ${real_memory} MB"

# ---- a baseline to screen against ---------------------------------------------------------------
# The smoke GEMMs measured here with the job's backends and options, copied as three peer nodes. Tiny
# problems on a shared machine can be many times slower from one run to the next, so the rate rules
# are turned off (--screen-args): this checks that each task screens and the merge gathers the
# verdicts; the rules themselves are tested in tests/test_fleet.cpp.
backends=custom-cpu,openblas,onednn
"$cli" run --suite smoke --kind gemm --backends "$backends" --budget-ms 50 --warmup 1 --quiet -o "$work/pre.json" ||
  fail "the run for the baseline failed"
for peer in peer-a peer-b peer-c; do
  sed "s/\"host\": \"[^\"]*\"/\"host\": \"$peer\"/" "$work/pre.json" >"$work/$peer.json"
done
"$cli" baseline "$work"/peer-*.json -o "$work/baseline.json" >/dev/null || fail "trainrate baseline failed"

# ---- the job under test -------------------------------------------------------------------------
submitted="$("$root/scripts/slurm/submit" --nodes 1 --gpus-per-node 0 --suite smoke --out "$work/out" \
  --bin "$cli" --run-args "--budget-ms 50 --warmup 1" --time 00:10:00 --baseline "$work/baseline.json" \
  --screen-args "--kind-threshold 0 --floor 0" --metrics-dir "$work/metrics")" || fail "submit failed: $submitted"
echo "$submitted"
read -r run_job merge_job < <(awk '/^jobs:/ {print $2, $3}' <<<"$submitted")
[[ -n "$run_job" && -n "$merge_job" ]] || fail "submit printed no job ids"
scontrol show job "$merge_job" | grep -q "Dependency=afterok:$run_job" || fail "merge job $merge_job does not depend on $run_job with afterok"

deadline=$(( SECONDS + 420 ))
while squeue -h -j "$run_job,$merge_job" 2>/dev/null | grep -q .; do
  (( SECONDS < deadline )) || fail "jobs $run_job/$merge_job still queued or running after 7 minutes: $(squeue -j "$run_job,$merge_job")"
  sleep 2
done
job_field() { scontrol show job "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2; exit}'; }
run_state="$(job_field "$run_job" JobState)"
merge_state="$(job_field "$merge_job" JobState)"
merge_exit="$(job_field "$merge_job" ExitCode)"
echo "run_slurm_test: run job $run_job $run_state; merge job $merge_job $merge_state (exit $merge_exit)"
[[ "$run_state" == COMPLETED ]] || fail "run job $run_job ended $run_state"
[[ "$merge_state" == COMPLETED && "$merge_exit" == 0:0 ]] || fail "merge job $merge_job ended $merge_state, exit $merge_exit (1 = a device flagged)"

host="$(printf '%s' "$(hostname -s)" | tr -c 'A-Za-z0-9._-' '_')"
results="$work/out/results-$host-cpu.json"
[[ -s "$results" ]] || fail "no results file $results (files: $(ls "$work/out"))"
grep -q '"schema": "trainrate-results"' "$results" || fail "$results is not a trainrate results file"
grep -q '"suite": "smoke"' "$results" || fail "$results is not the smoke suite"
for report in fleet.md fleet.csv fleet.html; do
  [[ -s "$work/out/fleet/$report" ]] || fail "merge wrote no $report"
done
grep -q "| $(hostname -s) | cpu |" "$work/out/fleet/fleet.md" || fail "fleet.md has no row for $(hostname -s) cpu"
screen="$work/out/screen-$host-cpu.json"
[[ -s "$screen" && -s "${screen%.json}.md" ]] || fail "the task wrote no screen verdict $screen (and .md)"
grep -q '"verdict": "ACCEPT"' "$screen" || fail "the node was not ACCEPTed with the rate rules off: $(cat "$screen")"
grep -q "screened 1 file(s)" "$work/out/trainrate-merge-$merge_job.out" || fail "the merge job did not gather the verdict"
metrics="$work/metrics/trainrate-cpu.prom"
grep -q '^trainrate_screen_accepted{.*} 1$' "$metrics" || fail "no ACCEPT in the node's metrics $metrics"
grep -q '^trainrate_rate_flops_per_second{' "$metrics" || fail "no rates in the node's metrics $metrics"
echo "run_slurm_test: ok: results-$host-cpu.json, its screen verdict and metrics, and the fleet report written through Slurm (jobs $run_job, $merge_job)"
