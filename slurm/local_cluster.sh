#!/usr/bin/env bash
# Start/stop a real Slurm cluster (Debian packages) on this machine for vidtr-bench's tests:
# one node (the default), or N nodes, each slurmd in a network namespace of its own.
#
#   eval "$(slurm/local_cluster.sh up [--nodes N])"  # install if needed, start munge+slurmctld+slurmd(s),
#                                        # wait for the node(s) to be idle; prints ONLY
#                                        # `export SLURM_CONF=...` on stdout (idempotent)
#   slurm/local_cluster.sh status [--nodes N]   # every node (and its namespace), sinfo, squeue; exit 0 if up
#   slurm/local_cluster.sh down [--nodes N]     # cancel jobs, stop every process, namespace, interface
#                                        # it made (+munged if it started it and no other Slurm needs it)
#
# State (slurm.conf, spool, state, logs, pid files) lives in $VIDTR_SLURM_HOME (default
# /tmp/vidtr-slurm for one node, /tmp/vidtr-slurm-<N>nodes for N): the one-node cluster and an
# N-node one can run side by side. Needs root (apt-get, munge key, SlurmUser=root, ip netns).
# No accounting DB: `sacct` fails, so submitit warns and job.state reads UNKNOWN,
# but job.result(), squeue and requeue work.
#
# N nodes (Slurm 22.05 is not built for several slurmd on one host): node<i> is a slurmd in
# network namespace vidtr-<tag>-n<i> (and a UTS namespace: its own host name), with the address
# 10.<a>.<b>.<10+i> on a veth pair to bridge vbr<tag>; slurmctld listens on the host, on the
# bridge's 10.<a>.<b>.1. <tag>, the subnet and the ports derive from $VIDTR_SLURM_HOME, so two
# clusters never share a name, address or port. The namespaces have no route off the bridge:
# nothing leaves the machine. Each node sees $VIDTR_SLURM_HOME/etc/hosts as its /etc/hosts (a mount
# namespace of its own), so node names resolve there (MASTER_ADDR=node1) as on a real cluster.
set -euo pipefail

log() { echo "[local_cluster] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { echo "usage: $0 up|down|status [--nodes N]   (N: 1 to 200; up's default: 1)" >&2; exit 2; }

CMD="${1:-}"
(($#)) && shift
NODES=""
while (($#)); do
  case "$1" in
    --nodes) (($# >= 2)) || usage; NODES="$2"; shift 2 ;;
    --nodes=*) NODES="${1#--nodes=}"; shift ;;
    *) usage ;;
  esac
done
[[ -z "$NODES" || ( "$NODES" =~ ^[1-9][0-9]*$ && "$NODES" -le 200 ) ]] ||
  die "--nodes $NODES: expected a whole number from 1 to 200"
if [[ -n "${VIDTR_SLURM_HOME:-}" ]]; then H="$VIDTR_SLURM_HOME"
elif [[ -z "$NODES" || "$NODES" == 1 ]]; then H=/tmp/vidtr-slurm
else H="/tmp/vidtr-slurm-${NODES}nodes"; fi
H="$(realpath -m "$H")"  # the tag below derives from it: one cluster, one spelling
CONF="$H/etc/slurm.conf"
STATE="$H/etc/cluster.env"  # what an N-node `up` made (NODES, SUBNET, ports), for `down` and `status`
TIMEOUT="${VIDTR_SLURM_TIMEOUT:-60}"
MIN_CPUS=2  # per node; see write_conf
export SLURM_CONF="$CONF"

# N nodes: names, subnet and ports derive from the state folder, so that two clusters never share one
HASH="$(printf %s "$H" | cksum | cut -d' ' -f1)"
TAG="$(printf %05x $((HASH % 1048576)))"
NS_PREFIX="vidtr-$TAG-n"   # namespaces vidtr-<tag>-n1..N
BRIDGE="vbr$TAG"           # interface names have at most 15 characters
VETH_PREFIX="vh${TAG}n"    # host ends vh<tag>n<i>; the namespace end is renamed eth0

state_nodes() { if [[ -f "$STATE" ]]; then sed -n 's/^NODES=//p' "$STATE"; else echo 1; fi; }
alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
logs_tail() {
  local f
  for f in "$H"/log/slurm{ctld,d}*.log; do
    [[ -f "$f" ]] && { echo "----- tail $f -----"; tail -n 25 "$f"; } >&2
  done
  return 0
}
node_name() { if ((NODES > 1)); then echo "node$1"; else hostname -s; fi; }
slurmd_pidfile() { if ((NODES > 1)); then echo "$H/run/slurmd.node$1.pid"; else echo "$H/run/slurmd.pid"; fi; }
cluster_up() {
  local i
  command -v sinfo >/dev/null 2>&1 && alive "$H/run/slurmctld.pid" || return 1
  for ((i = 1; i <= NODES; i++)); do alive "$(slurmd_pidfile "$i")" || return 1; done
  sinfo -h >/dev/null 2>&1
}
# '%t' suffixes (idle*, idle~, ...) mean not responding/powered down/etc: wait for a plain state
nodes_idle() { (($(sinfo -h -N -o '%t' 2>/dev/null | grep -Ecx '(idle|mix|alloc)') >= NODES)); }

install_pkgs() {
  local pkgs=(slurmctld slurmd slurm-client munge) b missing=()
  for b in slurmctld slurmd sinfo munged mungekey; do command -v "$b" >/dev/null || missing+=("$b"); done
  ((${#missing[@]})) || return 0
  log "not installed: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show "${pkgs[@]}" >/dev/null 2>&1; then
    log "apt-get update"; apt-get update -q >&2 || die "apt-get update failed"
  fi
  log "apt-get install ${pkgs[*]}"
  apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 \
    || die "apt-get install ${pkgs[*]} failed"
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi   # already running
  [[ -f /etc/munge/munge.key ]] || { log "creating /etc/munge/munge.key"; mungekey -c >&2; }
  mkdir -p /run/munge; chown munge:munge /run/munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  log "starting munged"
  runuser -u munge -- munged >&2 || die "munged failed to start (see /var/log/munge/munged.log)"
  local i
  for ((i = 0; i < 50; i++)); do
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then  # remember munged's pid: we own it
      cp /run/munge/munged.pid "$H/run/munged.ours" 2>/dev/null || true; return 0
    fi
    sleep 0.2
  done
  die "munged not answering after 10 s"
}

stop_pids() {  # stop_pids WHAT PID...: TERM, up to 10 s, then KILL
  local what="$1" i p left=(); shift
  (($#)) || return 0
  log "stopping $what (pid $*)"
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    left=(); for p in "$@"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    ((${#left[@]})) || return 0
    sleep 0.1
  done
  log "$what still alive (pid ${left[*]}), SIGKILL"; kill -KILL "${left[@]}" 2>/dev/null || true
}

stop_munged() {  # munged only if this script started it and no other Slurm uses it
  [[ -s "$H/run/munged.ours" ]] || return 0
  local others
  others="$({ pgrep -x slurmctld; pgrep -x slurmd; } | tr '\n' ' ' || true)"
  if [[ -z "$others" ]]; then stop_pid munged "$H/run/munged.ours"
  else log "munged left running: other Slurm daemons use it (pid $others)"; rm -f "$H/run/munged.ours"; fi
}

stop_pid() {  # stop_pid NAME PIDFILE
  if alive "$2"; then stop_pids "$1" "$(cat "$2")"; fi
  rm -f "$2"
}

# --- N nodes: subnet, ports, namespaces ---------------------------------------------------------

port_free() { [[ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]; }

pick_net() {  # SUBNET: a /24 no address or route of this host uses; CTLD_PORT, SLURMD_PORT: free
  local a=$((200 + HASH % 50)) b=$(((HASH / 50) % 256)) k p
  for ((k = 0; k < 256; k++)); do
    SUBNET="10.$a.$(((b + k) % 256))"
    ip -4 -o addr show | grep -q " inet $SUBNET\." || ip -4 route show | grep -q "^$SUBNET\." || break
  done
  ((k < 256)) || die "no free 10.$a.x.0/24 subnet for the cluster's bridge"
  p=$((7000 + (HASH % 400) * 2))
  for ((k = 0; k < 100; k++, p += 2)); do port_free "$p" && port_free "$((p + 1))" && break; done
  CTLD_PORT="${VIDTR_SLURMCTLD_PORT:-$p}" SLURMD_PORT="${VIDTR_SLURMD_PORT:-$((p + 1))}"
  port_free "$CTLD_PORT" || die "SlurmctldPort $CTLD_PORT is in use on this host"
}

net_up() {  # the bridge (the controller's address); per node a namespace, a veth pair, an address
  local i ns peer
  ip link add "$BRIDGE" type bridge
  ip addr add "$SUBNET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for ((i = 1; i <= NODES; i++)); do
    ns="$NS_PREFIX$i" peer="vp${TAG}n$i"
    ip netns add "$ns"
    ip link add "$VETH_PREFIX$i" type veth peer name "$peer"
    ip link set "$peer" netns "$ns"
    ip link set "$VETH_PREFIX$i" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$peer" name eth0
    ip -n "$ns" addr add "$SUBNET.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up   # no default route: only the bridge's subnet is reachable
  done
  { echo "127.0.0.1 localhost"; echo "$SUBNET.1 $(hostname -s)"
    for ((i = 1; i <= NODES; i++)); do echo "$SUBNET.$((10 + i)) node$i"; done; } >"$H/etc/hosts"
}

ours_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${NS_PREFIX}[0-9]+$" || true; }
ours_links() {
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^($BRIDGE|${VETH_PREFIX}[0-9]+)$" || true
}

net_down() {  # every process left in our namespaces (slurmstepd, job tasks), the namespaces, the links
  local ns pids=()
  for ns in $(ours_ns); do
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
    stop_pids "processes in namespace $ns" "${pids[@]}"
    ip netns del "$ns" 2>/dev/null || log "WARNING: could not delete namespace $ns"
  done
  for ns in $(ours_links); do ip link del "$ns" 2>/dev/null || true; done
}

# --- Slurm --------------------------------------------------------------------------------------

write_conf() {
  local host cpus mem i
  host="$(hostname -s)"  # one node: NodeName = `hostname -s`; 127.0.0.1 avoids DNS trouble
  # At least MIN_CPUS CPUs per node, whatever nproc says: the tests run 2 tasks per node, and a
  # 1-CPU machine (a CI runner) would otherwise be a cluster that can never start them. The
  # tasks only share the core; SlurmdParameters=config_overrides below makes slurmd take the
  # declared count instead of draining a node that has fewer.
  cpus="$(nproc)"; ((cpus >= MIN_CPUS)) || cpus=$MIN_CPUS
  mem=$(($(awk '/^MemTotal:/{print int($2/1024)}' /proc/meminfo) * 9 / 10 / NODES))
  if ((NODES == 1)); then
    CTL_ADDR=127.0.0.1 CTLD_PORT="${VIDTR_SLURMCTLD_PORT:-6817}" SLURMD_PORT="${VIDTR_SLURMD_PORT:-6818}"
  else
    CTL_ADDR="$SUBNET.1"
  fi
  {
    cat <<EOF
# generated by slurm/local_cluster.sh -- $NODES-node test cluster
ClusterName=vidtr$( ((NODES == 1)) || echo "$TAG")
SlurmctldHost=$host($CTL_ADDR)
SlurmUser=root
SlurmdParameters=config_overrides
AuthType=auth/munge
CredType=cred/munge
# cred_expire also delays a requeued job's restart (default 120 s)
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerParameters=sched_interval=2,bf_interval=2
ReturnToService=$( ((NODES == 1)) && echo 2 || echo 1)
KillWait=5
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$H/state
SlurmctldPidFile=$H/run/slurmctld.pid
SlurmctldLogFile=$H/log/slurmctld.log
EOF
    if ((NODES == 1)); then
      cat <<EOF
SlurmdSpoolDir=$H/spool
SlurmdPidFile=$H/run/slurmd.pid
SlurmdLogFile=$H/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
EOF
    else
      cat <<EOF
# one slurmd per node, each in its own namespaces: %n is the node's name
SlurmdSpoolDir=$H/spool/%n
SlurmdPidFile=$H/run/slurmd.%n.pid
SlurmdLogFile=$H/log/slurmd.%n.log
# a node whose slurmd stops answering is DOWN (its jobs requeued) after 20 s, not 5 min, and
# returns when its slurmd registers again; one set DOWN by hand stays so until State=RESUME
# (ReturnToService=1, as on most clusters)
SlurmdTimeout=20
EOF
      for ((i = 1; i <= NODES; i++)); do
        echo "NodeName=node$i NodeHostname=node$i NodeAddr=$SUBNET.$((10 + i)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"
      done
    fi
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } >"$CONF"
}

start_slurmd() {  # start_slurmd I
  if ((NODES == 1)); then slurmd -f "$CONF" >&2; return; fi
  mkdir -p "$H/spool/node$1"
  # the node's network namespace, and its own host name and /etc/hosts (the cluster's names, as DNS
  # would give them); slurmd forks into the background and keeps them, as do the jobs it starts.
  # Not `ip netns exec`: it mounts a /sys without /sys/fs/cgroup, and slurmd 22.05 then refuses to start.
  # shellcheck disable=SC2016 # ($1..$3: the inner sh's arguments)
  nsenter --net="/run/netns/$NS_PREFIX$1" -- unshare --uts --mount --propagation private -- \
    sh -c 'mount --bind "$3" /etc/hosts && hostname "$1" && exec slurmd -f "$2" -N "$1"' \
    sh "node$1" "$CONF" "$H/etc/hosts" >&2
}

stop_slurm() {  # the slurmd(s) (all at once), what is left in the namespaces, slurmctld; NODES: as started
  local i pf pids=()
  for ((i = 1; i <= NODES; i++)); do
    pf="$(slurmd_pidfile "$i")"
    if alive "$pf"; then pids+=("$(cat "$pf")"); fi
    rm -f "$pf"
  done
  stop_pids slurmd "${pids[@]}"
  ((NODES == 1)) || net_down
  stop_pid slurmctld "$H/run/slurmctld.pid"
}

wait_idle() {  # every node idle (or running jobs); one left DOWN by hand (in the saved state) is resumed
  local t0=$SECONDS resumed=0 down
  until nodes_idle; do
    down="$(sinfo -h -N -t down,drain -o '%N' 2>/dev/null | paste -sd , -)"
    if [[ -n "$down" ]] && ((!resumed && SECONDS - t0 > 5)); then
      log "resuming $down"; scontrol update NodeName="$down" State=RESUME >&2 || true; resumed=1
    fi
    if ((SECONDS - t0 > TIMEOUT)); then
      sinfo -N -l >&2 || true; logs_tail; die "nodes not idle after ${TIMEOUT}s"
    fi
    sleep 0.5
  done
  log "cluster up: $(sinfo -h -N -o '%N %t %c CPUs %m MB' | paste -sd ';' -)"
}

cmd_up() {
  local want="${NODES:-1}" running f i
  running="$(state_nodes)"
  if alive "$H/run/slurmctld.pid" && [[ "$running" != "$want" ]]; then
    die "a ${running}-node cluster is running in $H: \`$0 down\` it first, or set VIDTR_SLURM_HOME to another folder"
  fi
  NODES="$want"
  if cluster_up; then echo "export SLURM_CONF=$CONF"; return 0; fi
  if ((NODES > 1)) && alive "$H/run/slurmctld.pid" && (($(ours_ns | wc -l) == NODES)); then
    # the cluster is up but a node's slurmd is gone (killed, crashed): start that one alone; the
    # controller, the other nodes and their jobs carry on, and the node returns to service
    SUBNET="$(sed -n 's/^SUBNET=//p' "$STATE")"
    for ((i = 1; i <= NODES; i++)); do
      alive "$(slurmd_pidfile "$i")" && continue
      log "restarting slurmd node$i"
      start_slurmd "$i" || { logs_tail; die "slurmd node$i failed to start"; }
    done
    wait_idle
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, munge key, SlurmUser=root, ip netns)"
  install_pkgs
  mkdir -p "$H"/{etc,state,spool,run,log}
  start_munge
  # stale daemons and namespaces from a half-started cluster: stop them before rewriting the conf
  NODES="$running"; stop_slurm; NODES="$want"
  ((NODES == 1)) || net_down
  # keep $H/state across down/up so job ids keep increasing (submitit folders keyed by %j
  # would otherwise return stale results); spool is per-run scratch
  rm -rf "$H/spool"; mkdir -p "$H/spool"
  for f in "$H"/log/*.log; do [[ -f "$f" ]] && mv -f "$f" "$f.prev"; done
  if ((NODES > 1)); then
    { command -v unshare && command -v nsenter && ip netns list; } >/dev/null 2>&1 ||
      die "needs ip netns and unshare (Debian: iproute2, util-linux)"
    pick_net
    printf 'NODES=%s\nSUBNET=%s\nCTLD_PORT=%s\nSLURMD_PORT=%s\n' "$NODES" "$SUBNET" "$CTLD_PORT" "$SLURMD_PORT" >"$STATE"
    trap undo_failed_up EXIT  # a failure from here on leaves no namespace, link or daemon behind
    net_up
  else
    rm -f "$STATE"
  fi
  write_conf
  log "starting slurmctld + $NODES slurmd (conf $CONF)"
  slurmctld -f "$CONF" >&2 || { logs_tail; die "slurmctld failed to start"; }
  for ((i = 1; i <= NODES; i++)); do
    start_slurmd "$i" || { logs_tail; die "slurmd $(node_name "$i") failed to start"; }
  done
  wait_idle
  trap - EXIT
  echo "export SLURM_CONF=$CONF"
}

undo_failed_up() {
  local rc=$?
  ((rc)) || return 0
  log "up failed: stopping what it started (its logs stay in $H/log)"
  set +e; stop_slurm; stop_munged; rm -f "$STATE"
  exit "$rc"
}

cmd_down() {
  NODES="$(state_nodes)"
  if alive "$H/run/slurmctld.pid"; then
    local ids t0=$SECONDS
    mapfile -t ids < <(squeue -h -o %A 2>/dev/null || true)
    if ((${#ids[@]})); then
      log "cancelling jobs: ${ids[*]}"; scancel "${ids[@]}" 2>/dev/null || true
      while [[ -n "$(squeue -h -t R,CG -o %A 2>/dev/null)" ]] && ((SECONDS - t0 < 20)); do sleep 0.5; done
    fi
  fi
  stop_slurm
  net_down   # also a namespace or link of ours whose state file was lost
  stop_munged
  rm -f "$STATE"
  local left
  left="$(ours_ns) $(ours_links)"
  [[ -z "${left// /}" ]] || die "left behind: $left"
  local stepd; stepd="$(pgrep -x slurmstepd | tr '\n' ' ' || true)"
  ((NODES > 1)) || [[ -z "$stepd" ]] || log "WARNING: slurmstepd still running (pids $stepd)"
  log "cluster down"
}

cmd_status() {
  NODES="$(state_nodes)"
  SUBNET="$(sed -n 's/^SUBNET=//p' "$STATE" 2>/dev/null || true)"
  local up=0 i pf
  cluster_up && up=1
  echo "SLURM_CONF=$CONF: $NODES node(s), $( ((up)) && echo up || echo down)"
  if ((NODES > 1)); then
    echo "controller: $(hostname -s) at $SUBNET.1:$(sed -n 's/^CTLD_PORT=//p' "$STATE") on bridge $BRIDGE," \
      "slurmctld $(if alive "$H/run/slurmctld.pid"; then echo "pid $(cat "$H/run/slurmctld.pid")"; else echo "not running"; fi)"
    for ((i = 1; i <= NODES; i++)); do
      pf="$(slurmd_pidfile "$i")"
      echo "node$i: namespace $NS_PREFIX$i, address $SUBNET.$((10 + i)), slurmd" \
        "$(if alive "$pf"; then echo "pid $(cat "$pf")"; else echo "not running"; fi)"
    done
  fi
  ((up)) || { echo "slurm cluster is down (VIDTR_SLURM_HOME=$H)"; return 1; }
  sinfo -N -l
  squeue
}

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) usage ;;
esac
