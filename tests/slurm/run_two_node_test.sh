#!/usr/bin/env bash
# A real two-node Slurm cluster on this machine. Three network namespaces, each also in its own UTS
# namespace with its own host name: "trctl" runs slurmctld and holds a bridge; "node1" and "node2"
# each run a slurmd and reach the bridge through a veth pair, on 10.231.1.0/24. Nothing is added
# to the machine's own network namespace, so the cluster's traffic never leaves these namespaces.
# munged runs in the controller's namespace too; its socket is a file, which every namespace reaches.
#
# It runs (a) scripts/slurm/submit on both nodes (smoke suite, tiny budget): one results file per
# node, then the dependent merge job; and (b) trainrate's all-reduce with one rank per node,
# launched by srun --mpi=pmix, over TCP: every row verified, the ranks on both hosts, and the
# buffers counted on node2's link. Every daemon, job process, namespace and file is removed on exit, and the
# script fails if any is left.
#
#   tests/slurm/run_two_node_test.sh TRAINRATE_CLI
# Exit 0 pass, 1 fail, 77 skip (only without root, namespaces, veth/bridge links or the packages).
set -euo pipefail

cli="${1:?usage: run_two_node_test.sh TRAINRATE_CLI}"
cli="$(cd "$(dirname "$cli")" && pwd)/$(basename "$cli")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SKIP=77
say() { echo "two_node_test: $*"; }
skip() { say "SKIP: $*"; exit $SKIP; }
fail() { say "FAIL: $*" >&2; show_logs; exit 1; }

# Each wait below is bounded; together they stay well inside the ctest TIMEOUT, so the EXIT trap
# always runs (ctest kills a timed-out test without letting it clean up).
wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...: poll every 0.2 s
  local limit_s="$1" what="$2" deadline
  shift 2
  deadline=$(( SECONDS + limit_s ))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { say "gave up after ${limit_s} s waiting for $what"; return 1; }
    sleep 0.2
  done
}

[[ "$(id -u)" -eq 0 ]] || skip "needs root for network namespaces, slurmd and munged (run as root, e.g. in CI)"
# libpmix-dev: Slurm's mpi_pmix plugin dlopens "libpmix.so", a name only the -dev package provides.
packages=(slurmctld slurmd slurm-client munge openmpi-bin libopenmpi-dev libpmix-dev iproute2 util-linux procps)
"$root/scripts/setup" "${packages[@]}" || skip "the packages cannot be installed: scripts/setup ${packages[*]} failed"
PATH="$PATH:/usr/sbin:/sbin"
for tool in munged slurmctld slurmd sbatch srun squeue sinfo scontrol ip unshare nsenter pgrep mpicxx; do
  command -v "$tool" >/dev/null || skip "$tool missing after installing ${packages[*]}"
done

# ---- names: unique per run, so two runs (or other users of ip netns) never collide ---------------
tag="tr$$"
ns_ctl="trainrate-$$-ctl"
ns_node=("trainrate-$$-node1" "trainrate-$$-node2")
node_name=(node1 node2)
node_addr=(10.231.1.1 10.231.1.2)
ctl_name=trctl
ctl_addr=10.231.1.254
subnet=10.231.1.0/24
bridge="${tag}br"
ctl_end=("${tag}n1" "${tag}n2")  # bridge ports in $ns_ctl; each node's end is "${tag}e"
node_end="${tag}e"

work="$(mktemp -d "/tmp/trainrate-slurm2-$$-XXXXXX")"
chmod 755 "$work"
mkdir -p "$work"/{munge,state,run,log,out}
for node in "${node_name[@]}"; do mkdir -p "$work/spool/$node" "$work/tmp/$node"; done
pids=()
namespaces=()

show_logs() {
  for log in "$work"/log/* "$work"/out/*.out; do
    [[ -f "$log" ]] || continue
    echo "---- $log (last 25 lines)" >&2
    tail -n 25 "$log" >&2
  done
}

stop_all() {  # stop_all PID...: TERM to all, up to 5 s for all to exit, then KILL the rest
  local pid alive=("$@")
  [[ $# -gt 0 ]] || return 0
  kill "$@" 2>/dev/null || true
  for _ in $(seq 50); do
    alive=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [[ ${#alive[@]} -gt 0 ]] || return 0
    sleep 0.1
  done
  kill -9 "${alive[@]}" 2>/dev/null || true
  sleep 0.5
}

# Stops what this run started and checks that nothing is left: no daemon, no process in its
# namespaces (slurmstepd, job tasks), no namespace, no interface with its tag.
teardown() {
  local leftovers=() pid ns
  stop_all "${pids[@]}"
  for ns in "${namespaces[@]}"; do
    # shellcheck disable=SC2046 # one PID per word
    stop_all $(ip netns pids "$ns" 2>/dev/null)
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && leftovers+=("process $pid"); done
  for ns in "${namespaces[@]}"; do
    [[ -z "$(ip netns pids "$ns" 2>/dev/null)" ]] || leftovers+=("processes $(ip netns pids "$ns" | tr '\n' ' ')in $ns")
    ip netns delete "$ns" 2>/dev/null || true
    ip netns list | grep -qw "$ns" && leftovers+=("namespace $ns")
  done
  ip -o link show | grep -q "$tag" && leftovers+=("interface(s) $(ip -o link show | grep "$tag" | cut -d: -f2)")
  # Every daemon and job process names a path under $work: none may be left anywhere.
  for pid in $(pgrep -f "$work" || true); do leftovers+=("process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null))"); done
  if [[ ${#leftovers[@]} -gt 0 ]]; then
    say "FAIL: left behind: ${leftovers[*]}" >&2
    return 1
  fi
  say "teardown: every process, namespace and interface removed"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  teardown || status=1
  if [[ -n "${KEEP_SLURM_TEST:-}" ]]; then
    say "kept $work"
  elif [[ $status -ne 0 && $status -ne $SKIP ]]; then
    say "left $work for inspection" >&2
  else
    rm -rf "$work"
  fi
  exit $status
}
# A run killed outright (SIGKILL, e.g. by a ctest timeout) could not clean up: remove the
# namespaces, the processes inside them and the directory of every such run whose PID is gone.
sweep_dead_runs() {
  local ns run_pid
  for ns in $(ip netns list | awk '$1 ~ /^trainrate-[0-9]+-(ctl|node[12])$/ {print $1}'); do
    run_pid="${ns#trainrate-}"
    run_pid="${run_pid%%-*}"
    kill -0 "$run_pid" 2>/dev/null && continue
    say "removing $ns and its processes, left by a run (PID $run_pid) that is gone"
    # shellcheck disable=SC2046 # one PID per word
    stop_all $(ip netns pids "$ns" 2>/dev/null)
    ip netns delete "$ns"
    rm -rf /tmp/trainrate-slurm2-"$run_pid"-*
  done
}

trap cleanup EXIT
trap 'exit 1' INT TERM
sweep_dead_runs

# ---- the network: a bridge in the controller's namespace, a veth pair to each node ---------------
# nsenter joins only the network namespace; "ip netns exec" would also remount /sys, hiding the
# cgroup file systems slurmd needs.
in_ns() { local ns="$1"; shift; nsenter --net="/run/netns/$ns" "$@"; }
# Each daemon: its network namespace, a new UTS namespace named after it, then exec, so $! is the
# daemon itself (a shell function run with & would put a subshell between them).
start_in() {  # start_in NAMESPACE HOSTNAME LOG COMMAND...
  local ns="$1" host="$2" log="$3"
  shift 3
  nsenter --net="/run/netns/$ns" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$host" "$@" >"$work/log/$log" 2>&1 &
  pids+=($!)
}
for ns in "$ns_ctl" "${ns_node[@]}"; do
  ip netns add "$ns" 2>"$work/log/netns.err" || skip "cannot create network namespaces: $(cat "$work/log/netns.err")"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
done
unshare --uts true 2>"$work/log/uts.err" || skip "cannot create UTS namespaces: $(cat "$work/log/uts.err")"
ip -n "$ns_ctl" link add "$bridge" type bridge 2>"$work/log/link.err" ||
  skip "cannot create a bridge: $(cat "$work/log/link.err")"
ip -n "$ns_ctl" addr add "$ctl_addr/24" dev "$bridge"
ip -n "$ns_ctl" link set "$bridge" up
for i in 0 1; do
  ip -n "$ns_ctl" link add "${ctl_end[i]}" type veth peer name "$node_end" netns "${ns_node[i]}" 2>"$work/log/link.err" ||
    skip "cannot create a veth pair: $(cat "$work/log/link.err")"
  ip -n "$ns_ctl" link set "${ctl_end[i]}" master "$bridge" up
  ip -n "${ns_node[i]}" addr add "${node_addr[i]}/24" dev "$node_end"
  ip -n "${ns_node[i]}" link set "$node_end" up
done
# Reachable: a TCP connect to a closed port is refused (a RST came back) rather than timing out.
reaches() {  # reaches NAMESPACE ADDRESS
  local error
  error="$(in_ns "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)" && return 0
  [[ "$error" == *refused* ]]
}
for i in 0 1; do
  wait_until 10 "${node_name[i]} to reach the controller" reaches "${ns_node[i]}" "$ctl_addr" ||
    fail "no route from ${node_name[i]} (${node_addr[i]}) to the controller ($ctl_addr)"
done
wait_until 10 "node1 to reach node2" reaches "${ns_node[0]}" "${node_addr[1]}" || fail "no route from node1 to node2"
say "network up: $ctl_name $ctl_addr, ${node_name[0]} ${node_addr[0]}, ${node_name[1]} ${node_addr[1]} on bridge $bridge"

# ---- munge ---------------------------------------------------------------------------------------
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$work/munge"
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
start_in "$ns_ctl" "$ctl_name" munged.stdout munged --foreground --force --key-file="$work/munge/munge.key" \
  --socket="$socket" --pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" \
  --seed-file="$work/munge/seed"
wait_until 10 "munged's socket" test -S "$socket" || fail "munged did not start"

# ---- slurm.conf: both nodes and the controller by address; every path under $work ----------------
cpus="$(nproc)"
# The two nodes share this machine's memory.
real_memory=$(( $(free -m | awk '/^Mem:/ {print $2}') * 4 / 10 ))
conf="$work/slurm.conf"
cat >"$conf" <<CONF
ClusterName=trainrate2n
SlurmctldHost=$ctl_name($ctl_addr)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
# Per node: the PMIx plugin makes its step directory in TmpFS, and the nodes share one /tmp.
TmpFS=$work/tmp/%n
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd-%n.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd-%n.log
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
NodeName=${node_name[0]} NodeAddr=${node_addr[0]} NodeHostname=${node_name[0]} CPUs=$cpus RealMemory=$real_memory State=UNKNOWN
NodeName=${node_name[1]} NodeAddr=${node_addr[1]} NodeHostname=${node_name[1]} CPUs=$cpus RealMemory=$real_memory State=UNKNOWN
PartitionName=trainrate Nodes=${node_name[0]},${node_name[1]} Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf"

start_in "$ns_ctl" "$ctl_name" slurmctld.stdout slurmctld -D -i -f "$conf"
for i in 0 1; do
  start_in "${ns_node[i]}" "${node_name[i]}" "slurmd-${node_name[i]}.stdout" slurmd -D -N "${node_name[i]}" -f "$conf"
done
ctl() { in_ns "$ns_ctl" "$@"; }
# Ready when both nodes are idle; a daemon that exited ends the wait at once.
exited_pid=""
cluster_ready_or_broken() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { exited_pid="$pid"; return 0; }; done
  [[ "$(ctl sinfo -h -N -o '%N %T' | grep -c ' idle')" -eq 2 ]]
}
wait_until 60 "both nodes idle" cluster_ready_or_broken && [[ -z "$exited_pid" ]] ||
  fail "the cluster did not come up${exited_pid:+ (daemon $exited_pid exited)}: $(ctl sinfo -N -o '%N %T %E' 2>&1 | tr '\n' ';')"
say "Slurm $(sinfo --version | awk '{print $2}') up: ${node_name[*]} idle, $cpus CPUs and ${real_memory} MB each"
mpi_types="$(ctl srun --mpi=list 2>&1 | tr -s ' \t\n' ' ')"
say "srun --mpi=list: $mpi_types"
[[ "$mpi_types" == *" pmix "* ]] || fail "this Slurm has no pmix plugin (slurm-wlm-basic-plugins ships mpi_pmix)"

# ---- (a) the fleet job on both nodes, screened, then the merge ----------------------------------
# A baseline to screen against: the smoke suite measured here with the job's backend and options,
# copied as three peer nodes. Tiny problems on a shared machine can be many times slower from one run
# to the next, so the rate rules are off (--screen-args): this checks that each task screens and
# writes metrics, and that the merge gathers the verdicts; the rules are tested in test_fleet.cpp.
run_args="--budget-ms 20 --warmup 1 --threads 1"
# shellcheck disable=SC2086  # run_args is a list of options
"$cli" run --suite smoke --backends custom-cpu $run_args --quiet -o "$work/pre.json" >/dev/null ||
  fail "the run for the baseline failed"
for peer in peer-a peer-b peer-c; do
  sed "s/\"host\": \"[^\"]*\"/\"host\": \"$peer\"/" "$work/pre.json" >"$work/$peer.json"
done
"$cli" baseline "$work"/peer-*.json -o "$work/baseline.json" >/dev/null || fail "trainrate baseline failed"
started_s=$SECONDS
submitted="$(TRAINRATE_CPU_BACKENDS=custom-cpu ctl "$root/scripts/slurm/submit" --nodes 2 --gpus-per-node 0 \
  --suite smoke --out "$work/out" --bin "$cli" --run-args "$run_args" --time 00:05:00 \
  --baseline "$work/baseline.json" --screen-args "--kind-threshold 0 --floor 0" --metrics-dir "$work/metrics")" ||
  fail "submit failed: $submitted"
echo "$submitted"
read -r run_job merge_job < <(awk '/^jobs:/ {print $2, $3}' <<<"$submitted")
[[ -n "$run_job" && -n "$merge_job" ]] || fail "submit printed no job ids"
jobs_gone() { ! ctl squeue -h -j "$run_job,$merge_job" | grep -q .; }
wait_until 120 "jobs $run_job and $merge_job" jobs_gone ||
  fail "jobs still queued or running: $(ctl squeue -j "$run_job,$merge_job" 2>&1 | tr '\n' ';')"
job_field() { ctl scontrol show job "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2; exit}'; }
say "run job $run_job $(job_field "$run_job" JobState) on $(job_field "$run_job" NodeList);" \
  "merge job $merge_job $(job_field "$merge_job" JobState) (exit $(job_field "$merge_job" ExitCode))" \
  "after $(( SECONDS - started_s )) s"
[[ "$(job_field "$run_job" JobState)" == COMPLETED ]] || fail "run job $run_job did not complete"
[[ "$(job_field "$run_job" NodeList)" == "node[1-2]" ]] || fail "run job $run_job did not span both nodes"
[[ "$(job_field "$merge_job" JobState)" == COMPLETED && "$(job_field "$merge_job" ExitCode)" == 0:0 ]] ||
  fail "merge job $merge_job failed (exit 1 = a device flagged)"
for node in "${node_name[@]}"; do
  results="$work/out/results-$node-cpu.json"
  [[ -s "$results" ]] || fail "no $results (files: $(ls "$work/out" | tr '\n' ' '))"
  grep -q '"suite": "smoke"' "$results" || fail "$results does not hold the smoke suite"
  grep -q "| $node | cpu |" "$work/out/fleet/fleet.md" || fail "fleet.md has no row for $node cpu"
  screen="$work/out/screen-$node-cpu.json"
  [[ -s "$screen" && -s "${screen%.json}.md" ]] || fail "$node's task wrote no screen verdict $screen (and .md)"
  grep -q '"verdict": "ACCEPT"' "$screen" || fail "$node was not ACCEPTed with the rate rules off: $(cat "$screen")"
done
grep -q "screened 2 file(s)" "$work/out/trainrate-merge-$merge_job.out" || fail "the merge job did not gather both verdicts"
# Both nodes write the same name (a node-local directory on a real cluster); the last one stays.
metrics="$work/metrics/trainrate-cpu.prom"
grep -q '^trainrate_screen_accepted{.*host="node[12]".*} 1$' "$metrics" || fail "no ACCEPT in the metrics $metrics"
grep -q '^trainrate_rate_flops_per_second{' "$metrics" || fail "no rates in the metrics $metrics"
say "(a) ok: results-node1-cpu.json and results-node2-cpu.json, each screened (ACCEPT) and merged into fleet/fleet.md"

# ---- (b) a 2-rank all-reduce across the two nodes over TCP ---------------------------------------
# trainrate's all-reduce, one rank per node, 1 to 4 MiB. Open MPI 4.1 from Debian talks to Slurm only
# through PMIx (it has no PMI-2 component), so srun --mpi=pmix. TCP only (no shared memory, no UCX),
# pinned to the cluster's subnet.
"$cli" devices 2>/dev/null | grep -q '^mpi ' ||
  fail "this trainrate has no mpi backend (configure found no MPI; install libopenmpi-dev and configure again)"
largest_bytes=$(( 4 << 20 ))
collectives="$work/out/collectives.json"
link_bytes() { ip netns exec "$ns_ctl" cat "/sys/class/net/${ctl_end[1]}/statistics/rx_bytes"; }
before_bytes="$(link_bytes)"
started_s=$SECONDS
mpi_out="$(ctl env OMPI_MCA_pml=ob1 OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include="$subnet" \
  timeout 90 srun --nodes 2 --ntasks 2 --ntasks-per-node 1 --mpi=pmix \
  "$cli" run --suite collectives --kind all-reduce --min-size $(( 1 << 20 )) --max-size "$largest_bytes" \
  --ranks 2 --budget-ms 40 --min-time-ms 5 --min-samples 3 --threads 1 --output "$collectives" 2>&1)" ||
  fail "the all-reduce across the nodes failed: $mpi_out"
crossed_bytes=$(( $(link_bytes) - before_bytes ))
echo "$mpi_out"
# Every row measured and verified by both ranks, and the ranks on two hosts, node1 and node2.
python3 - "$collectives" <<'PY' || fail "$collectives: not 6 verified all-reduce rows from 2 ranks on node1 and node2"
import json, sys
results = json.load(open(sys.argv[1]))
rows = [r for r in results["results"] if r["problem"]["kind"] == "collective"]
assert len(rows) == 6, f"{len(rows)} rows, expected 3 sizes x fp32/bf16"
assert all(r["status"] == "ok" and r["verification"]["mismatches"] == 0 for r in rows), "a row not ok or not verified"
mpi = next(d for d in results["devices"] if d["id"] == "mpi")["properties"]
assert mpi["ranks"] == "2" and mpi["nodes"] == "2", mpi
assert sorted(mpi["rank_hosts"].split(",")) == ["node1", "node2"], mpi["rank_hosts"]
PY
(( crossed_bytes >= largest_bytes )) ||
  fail "only $crossed_bytes bytes left node2 over its link, less than one $largest_bytes-byte all-reduce"
say "(b) ok: trainrate's all-reduce, 2 ranks on node1 and node2, 6 rows verified in $(( SECONDS - started_s )) s;" \
  "$crossed_bytes bytes left node2 over ${ctl_end[1]}"
