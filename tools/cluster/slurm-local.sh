#!/usr/bin/env bash
# A single-node Slurm on this machine (Debian's slurm-wlm and munge), to run deploy/slurm-scan.sbatch's path for real:
#   tools/cluster/slurm-local.sh start    installs slurm-wlm and munge if missing, writes a config under $IIP_SLURM_DIR
#                                         (default /tmp/iip-slurm), starts munged, slurmctld and slurmd; prints the
#                                         SLURM_CONF to export
#   tools/cluster/slurm-local.sh stop     stops them
# One node with this machine's cores, no cgroups (proctrack/linuxproc), no accounting. Needs root (the daemons' user).
set -euo pipefail
dir=${IIP_SLURM_DIR:-/tmp/iip-slurm}
host=$(hostname -s)
case "${1:-start}" in
  start)
    command -v slurmctld >/dev/null && command -v munged >/dev/null || apt-get install -y -q slurm-wlm munge >/dev/null
    mkdir -p "$dir"/{state,spool,log} /run/munge /etc/munge
    [ -f /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chmod 400 /etc/munge/munge.key; }
    chown -R munge:munge /etc/munge /run/munge 2>/dev/null || true
    pgrep -x munged >/dev/null || su -s /bin/sh munge -c munged 2>/dev/null || munged --force
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    cat > "$dir/slurm.conf" <<CONF
ClusterName=iip-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    pgrep -x slurmctld >/dev/null || slurmctld -c
    pgrep -x slurmd >/dev/null || slurmd
    for _ in $(seq 30); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
    sinfo -h -o "%P %D %t %c" || { echo "slurm-local: the node did not come up; see $dir/log" >&2; exit 1; }
    echo "export SLURM_CONF=$dir/slurm.conf"
    ;;
  stop)
    pkill -x slurmd || true; pkill -x slurmctld || true
    ;;
  *) echo "usage: slurm-local.sh start|stop" >&2; exit 2 ;;
esac
