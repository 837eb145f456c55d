#!/usr/bin/env bash
# npm run bench:pg — issue 16's benchmark: the shared bench's smtp_inbound and imap_fetch, and the
# 250 -> IDLE EXISTS latency, against three set-ups run back to back on this machine:
#   sqlite  one node, the SQLite store (throw-away data dir)
#   pg1     one node, PostgreSQL (a private cluster started here)
#   pg2     two nodes (127.0.0.2 and 127.0.0.3, same ports) on one PostgreSQL database, the load
#           split: half the SMTP sessions and messages to each node, IMAP fetch clients alternating;
#           latency = 250 on node A -> '* n EXISTS' on an IDLE client of node B
# The workloads are bench/pg/split.py, built from the shared load generator (../shared/bench/pobench.py):
# with one node they are the shared smtp_inbound / imap_fetch step for step.
#
# PostgreSQL: initdb + pg_ctl (Debian's /usr/lib/postgresql/N/bin) in a temp dir, run as "nobody"
# when started as root, listening on 127.0.0.1 only; default settings (synchronous_commit on,
# fsync on); stopped at the end. Every set-up gets a fresh database / data dir and fresh nodes.
#
# Knobs (env): RUNS (3), BENCH_N (5000), BENCH_MSG_BYTES (10240), BENCH_SMTP_SESSIONS (16),
#   BENCH_FETCH_CLIENTS (8), BENCH_LATENCY_SAMPLES (200), BENCH_PG_SETUPS ("sqlite pg1 pg2"),
#   BENCH_NOOP_PROBE (1: an IMAP client NOOPs every 20 ms during smtp_inbound; 0 = off),
#   BENCH_PG_CONF ("": extra postgres -c options, e.g. "-c shared_buffers=512MB"),
#   BENCH_RESULTS (bench/results/pg), POSTOFFICE_DIR (the checkout to measure: this one; built dist/),
#   BENCH_PG_REF (a commit, e.g. HEAD or a357c57: exported and built in a temp dir and measured there),
#   SHARED_BENCH (../shared/bench), BENCH_WORKLOAD_TIMEOUT (300 s).
# A try run of a few minutes: RUNS=1 BENCH_N=500 BENCH_LATENCY_SAMPLES=50 bash bench/pg/run.sh
# Output: JSON lines (one per workload and run, each with /proc/loadavg at its start and end, then
# one "summary" line per set-up) in $BENCH_RESULTS/pg-STAMP.jsonl, and the table on stderr.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PODIR=$(cd "${POSTOFFICE_DIR:-$ROOT}" && pwd)
COMMIT=$(git -C "$PODIR" rev-parse HEAD 2>/dev/null || echo unknown)
export SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
PY=${PYTHON:-python3}
SPLIT="$PY $HERE/split.py"
RUNS=${RUNS:-3}
N=${BENCH_N:-5000}
SIZE=${BENCH_MSG_BYTES:-10240}
SESSIONS=${BENCH_SMTP_SESSIONS:-16}
FETCH_CLIENTS=${BENCH_FETCH_CLIENTS:-8}
LAT_SAMPLES=${BENCH_LATENCY_SAMPLES:-200}
SETUPS=${BENCH_PG_SETUPS:-"sqlite pg1 pg2"}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results/pg}
WL_TIMEOUT=${BENCH_WORKLOAD_TIMEOUT:-300}
export BENCH_PASSWORD=${BENCH_PASSWORD:-benchpw}
export SMTP_SOURCE=${SMTP_SOURCE:-$(command -v smtp-source || echo /usr/sbin/smtp-source)}
U_IN=bench-in@example.test
U_LAT=bench-lat@example.test

die() { echo "bench:pg: $*" >&2; exit 1; }
say() { echo "bench:pg: $*" >&2; }
[ -f "$SHARED_BENCH/pobench.py" ] || die "$SHARED_BENCH/pobench.py not found (set SHARED_BENCH)"
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (Postfix's; apt-get install postfix) — set SMTP_SOURCE"
if [ -n "${BENCH_PG_REF:-}" ]; then   # measure a commit, built in a private copy (others may be editing this tree)
  COMMIT=$(git -C "$PODIR" rev-parse --verify "$BENCH_PG_REF^{commit}") || die "no commit $BENCH_PG_REF"
  REFDIR=$(mktemp -d /tmp/postoffice-bench-pg-ref.XXXXXX)
  trap 'rm -rf "$REFDIR"' EXIT
  git -C "$PODIR" archive "$COMMIT" | tar -x -C "$REFDIR"
  ln -s "$PODIR/node_modules" "$REFDIR/node_modules"
  say "building $BENCH_PG_REF ($COMMIT) in $REFDIR"
  (cd "$REFDIR" && node_modules/.bin/tsc -p tsconfig.json) || die "$BENCH_PG_REF does not build"
  PODIR=$REFDIR
fi
[ -f "$PODIR/dist/src/cli/main.js" ] || die "$PODIR/dist/src/cli/main.js missing: build first (npm run build)"
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
case " $SETUPS " in *" pg"*) [ -x "$PGBIN/initdb" ] || die "PostgreSQL server binaries not found (apt-get install postgresql, or set PGBIN)";; esac

mkdir -p "$RESULTS"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS/pg-$STAMP.jsonl
LOGS=$RESULTS/pg-$STAMP-logs
mkdir -p "$LOGS"
WORK=$(mktemp -d /tmp/postoffice-bench-pg.XXXXXX)
chmod 711 "$WORK"
NODE_PIDS=()
PGDATA_DIR=
PGPORT=

free_port() { "$PY" -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "${1:-127.0.0.1}"; }
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# ---------------------------------------------------------------- PostgreSQL (private cluster)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
pg_start() {
  local dir=$WORK/pg
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown nobody: "$dir"
  chmod 700 "$dir"
  PGDATA_DIR=$dir/data
  PGPORT=$(free_port)
  as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 \
    || { cat "$LOGS/initdb.log" >&2; die "initdb failed"; }
  # defaults otherwise: synchronous_commit=on, fsync=on, shared_buffers=128MB
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$dir/server.log" -w -t 60 \
    -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200 ${BENCH_PG_CONF:-}" start >/dev/null \
    || { cat "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  say "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT ($PGDATA_DIR)"
}
pg_stop() {
  [ -n "$PGDATA_DIR" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
  cp "$WORK/pg/server.log" "$LOGS/postgresql.log" 2>/dev/null || true
  PGDATA_DIR=
}
pg_createdb() { "$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE $1" >/dev/null; echo "postgres://postgres@127.0.0.1:$PGPORT/$1"; }

# ---------------------------------------------------------------- postoffice nodes
# node_env NAME HOST SMTP IMAP DATADIR URL: the environment of one node (and of its CLI)
node_env() {
  echo POSTOFFICE_DATA_DIR="$5" POSTOFFICE_STORE_URL="$6" POSTOFFICE_LISTEN="$2" POSTOFFICE_NODE_ID="$1" \
    POSTOFFICE_HOSTNAME="$1.bench.example.test" POSTOFFICE_DOMAINS=example.test POSTOFFICE_LOG_LEVEL=warn \
    POSTOFFICE_SMTP_PORT="$3" POSTOFFICE_IMAP_PORT="$4" POSTOFFICE_SMTPS_PORT=0 POSTOFFICE_SUBMISSION_PORT=0 \
    POSTOFFICE_IMAPS_PORT=0 POSTOFFICE_POP3_PORT=0 POSTOFFICE_POP3S_PORT=0 POSTOFFICE_HTTP_PORT=0 POSTOFFICE_HTTPS_PORT=0 \
    POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK=true POSTOFFICE_INBOUND_AUTH=false POSTOFFICE_DNS_SERVERS=127.0.0.1:9 \
    POSTOFFICE_LOCAL_SENDER_ON_PORT25=allow
}
# as bench/run.sh: pobench logs in with plaintext LOGIN on loopback, no SPF/DKIM/DMARC on port 25,
# no DNS off the machine, the load generator sends as a local-domain address on port 25
cli() { local envs=$1; shift; (cd "$PODIR" && env $envs node dist/src/cli/main.js "$@"); }
node_start() { # NAME HOST SMTP IMAP DATADIR URL
  local envs
  envs=$(node_env "$@")
  # a session of its own: a Ctrl-C reaches this script (which stops the nodes), not the nodes mid-run
  (cd "$PODIR" && exec setsid env $envs node dist/src/cli/main.js serve) >"$LOGS/$SETUP-$1.log" 2>&1 &
  NODE_PIDS+=($!)
  for _ in $(seq 150); do
    port_open "$2" "$4" && port_open "$2" "$3" && return 0
    kill -0 "${NODE_PIDS[-1]}" 2>/dev/null || { tail -20 "$LOGS/$SETUP-$1.log" >&2; die "node $1 exited"; }
    sleep 0.2
  done
  die "node $1 did not open $2:$3/$4"
}
nodes_stop() {
  local p
  for p in "${NODE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${NODE_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  NODE_PIDS=()
}
cleanup() { nodes_stop; pg_stop; rm -rf "$WORK" ${REFDIR:+"$REFDIR"}; }
trap cleanup EXIT
trap 'exit 130' INT TERM

record() { # WORKLOAD ARGS...: one JSON line in $OUT (an error line if it fails or times out)
  local line rc=0
  # --foreground: in this process group, so that Ctrl-C stops it (and then this script, via the trap)
  line=$(BENCH_RUN=$RUN timeout --foreground "$WL_TIMEOUT" $SPLIT "$@") || rc=$?
  [ $rc != 130 ] || exit 130   # interrupted
  if [ $rc != 0 ] || [ -z "$line" ]; then
    line="{\"setup\":\"$SETUP\",\"run\":$RUN,\"workload\":\"$1\",\"error\":\"rc=$rc\",\"loadavg_end\":[$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)]}"
  fi
  echo "$line" | tee -a "$OUT" >&2
}

# ---------------------------------------------------------------- the set-ups
say "results $OUT; RUNS=$RUNS N=$N size=$SIZE sessions=$SESSIONS fetch_clients=$FETCH_CLIENTS latency_samples=$LAT_SAMPLES; $PODIR at ${COMMIT:0:10}"
"$PY" - "$OUT" "$PODIR" "$COMMIT" <<'EOF'
import json, os, subprocess, sys, time
def git(*a):
    try: return subprocess.run(["git", "-C", sys.argv[2], *a], capture_output=True, text=True).stdout.strip()
    except Exception: return None
rec = {"workload": "meta", "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadavg": os.getloadavg(),
       "cpus": os.cpu_count(), "commit": sys.argv[3], "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
       "env": {k: v for k, v in os.environ.items() if k.startswith("BENCH_") or k == "RUNS"}}
open(sys.argv[1], "a").write(json.dumps(rec) + "\n")
EOF
case " $SETUPS " in *" pg"*) pg_start;; esac

for SETUP in $SETUPS; do
  SMTP_P=$(free_port 127.0.0.1); IMAP_P=$(free_port 127.0.0.1)
  case $SETUP in
    sqlite) URL=""; HOSTS=(127.0.0.1) ;;
    pg1)    URL=$(pg_createdb "bench_pg1_$$"); HOSTS=(127.0.0.1) ;;
    pg2)    URL=$(pg_createdb "bench_pg2_$$"); HOSTS=(127.0.0.2 127.0.0.3) ;;
    *) die "unknown set-up $SETUP (sqlite, pg1, pg2)" ;;
  esac
  NODES=()
  i=0
  NAMES=(a b)
  for h in "${HOSTS[@]}"; do
    name=${NAMES[$i]}
    data=$WORK/$SETUP-$name
    mkdir -p "$data"
    envs=$(node_env "$name" "$h" "$SMTP_P" "$IMAP_P" "$data" "$URL")
    if [ $i = 0 ]; then   # users once: the nodes share the store (SQLite: one node)
      for u in "$U_IN" "$U_LAT"; do cli "$envs" user add "$u" --password "$BENCH_PASSWORD" >/dev/null; done
    fi
    node_start "$name" "$h" "$SMTP_P" "$IMAP_P" "$data" "$URL"
    NODES+=("$h:$SMTP_P:$IMAP_P")
    i=$((i + 1))
  done
  for n in "${NODES[@]}"; do
    BENCH_HOST=${n%%:*} BENCH_SMTP_PORT=$SMTP_P $PY "$SHARED_BENCH/pobench.py" probe-rcpt "$U_IN" "$U_LAT" || die "$n refuses the bench users"
  done
  say "set-up $SETUP: nodes ${NODES[*]}${URL:+ on $URL}"
  for RUN in $(seq "$RUNS"); do
    record smtp_inbound "$SETUP" "$U_IN" "$N" "$SIZE" "$SESSIONS" "${NODES[@]}"
    if [ "$($SPLIT count "${NODES[0]}" "$U_IN")" != "$N" ]; then  # as the shared bench: fill if smtp_inbound did not
      $SPLIT clean "${NODES[0]}" "$U_IN"
      "$SMTP_SOURCE" -s 4 -m "$N" -l "$SIZE" -f bench-sender@example.test -t "$U_IN" -M loadgen.example.test "${NODES[0]%:*}" >/dev/null
    fi
    record imap_fetch "$SETUP" "$U_IN" "$FETCH_CLIENTS" "${NODES[@]}"
    $SPLIT clean "${NODES[0]}" "$U_IN" || true
    record latency "$SETUP" "$U_LAT" "$LAT_SAMPLES" "${NODES[0]}" "${NODES[-1]}"
  done
  nodes_stop
  rm -rf "$WORK"/"$SETUP"-*
  [ -z "$URL" ] || "$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE bench_${SETUP}_$$" >/dev/null || true
done

$SPLIT table "$OUT" >>"$OUT"
say "JSON lines: $OUT; server logs: $LOGS"
