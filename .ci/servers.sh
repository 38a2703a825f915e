# Real servers for the cluster tests, on 127.0.0.1 only: PostgreSQL and a one-node SLURM cluster (see
# ../shared/notes/cluster-in-ci.md). Sourced by .ci/run: `start_servers` exports ATTNSEARCH_TEST_POSTGRES and
# ATTNSEARCH_TEST_SLURM for the tests that need them; `stop_servers` stops both by PID. A server that cannot be
# installed or started is reported, and its tests skip with that reason.

CI_SCRATCH=${CI_SCRATCH:-$(mktemp -d /tmp/attnsearch-ci.XXXXXX)}
chmod 755 "$CI_SCRATCH"  # the postgres and munge users must reach their folders inside
PG_PORT=${PG_PORT:-54329}
PG_BIN=/usr/lib/postgresql/15/bin

_install() {  # apt packages, once
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >"$CI_SCRATCH/apt.log" 2>&1
}

start_postgres() {
  _install postgresql || { echo "postgres: apt install failed (see $CI_SCRATCH/apt.log)"; return 1; }
  local data="$CI_SCRATCH/pg"
  mkdir -p "$data" "$CI_SCRATCH/pgsock" && chown postgres:postgres "$data" "$CI_SCRATCH/pgsock"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$data" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null || return 1
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $PG_PORT -k $CI_SCRATCH/pgsock -c listen_addresses=127.0.0.1" start >/dev/null || return 1
  runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -qc "CREATE DATABASE attnsearch" >/dev/null || return 1
  export ATTNSEARCH_TEST_POSTGRES="postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/attnsearch"
  echo "postgres: running on 127.0.0.1:$PG_PORT"
}

start_slurm() {
  _install slurm-wlm munge || { echo "slurm: apt install failed (see $CI_SCRATCH/apt.log)"; return 1; }
  local dir="$CI_SCRATCH/slurm" host
  host=$(hostname -s)
  mkdir -p "$dir"/{state,spool,log,bin} /run/munge && chown munge:munge /run/munge
  [ -f /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
  local mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
EnforcePartLimits=ALL
MinJobAge=86400
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  # No accounting here: answer submitit's `sacct` from `scontrol`, so a killed job fails instead of hanging the launcher.
  cat >"$dir/bin/sacct" <<'SACCT'
#!/usr/bin/env bash
ids=$(echo "$*" | sed -n 's/.*-j \([^ ]*\).*/\1/p' | tr ',' ' ')
echo "JobID|State|NodeList"
for id in $ids; do
  out=$(scontrol show job -o "$id" 2>/dev/null) || { echo "$id|COMPLETED|"; continue; }
  echo "$out" | while read -r line; do
    job=$(sed -n 's/.*JobId=\([0-9]*\).*/\1/p' <<<"$line"); task=$(sed -n 's/.*ArrayTaskId=\([0-9]*\).*/\1/p' <<<"$line")
    array=$(sed -n 's/.*ArrayJobId=\([0-9]*\).*/\1/p' <<<"$line")
    state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$line"); node=$(sed -n 's/.* NodeList=\([^ ]*\).*/\1/p' <<<"$line")
    if [ -n "$task" ] && [ -n "$array" ]; then echo "${array}_${task}|$state|$node"; else echo "$job|$state|$node"; fi
  done
done
SACCT
  chmod +x "$dir/bin/sacct"
  export SLURM_CONF="$dir/slurm.conf" PATH="$dir/bin:$PATH"
  slurmctld -i >/dev/null 2>&1 && slurmd >/dev/null 2>&1
  for _ in $(seq 30); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
  sinfo -h -o %t | grep -q idle || { echo "slurm: node not idle (see $dir/log)"; return 1; }
  export ATTNSEARCH_TEST_SLURM=1
  echo "slurm: one-node cluster up (partition debug)"
}

start_servers() {
  start_postgres || echo "postgres: unavailable, its tests will skip"
  start_slurm || echo "slurm: unavailable, its tests will skip"
}

stop_servers() {
  [ -f "$CI_SCRATCH/pg/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$CI_SCRATCH/pg" -m fast -w stop >/dev/null 2>&1
  for pid in "$CI_SCRATCH"/slurm/slurmd.pid "$CI_SCRATCH"/slurm/slurmctld.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
  done
  return 0
}
