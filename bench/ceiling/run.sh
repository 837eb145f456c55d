#!/usr/bin/env bash
# npm run bench:ceiling: the shared load generator's own ceiling for imap_fetch and pop3_retr on
# this machine (bench/ceiling/replay.mjs), beside postoffice and the anchor (Postfix + Dovecot).
# For each target: fill the bench's mailboxes as ../shared/bench/run.sh does (smtp-source), record
# the target's answers, then alternate replay / target for RUNS runs.
#
#   TARGETS="postoffice anchor" RUNS=3 npm run bench:ceiling
#
# One JSON line per measurement in bench/results/ceiling-STAMP.jsonl (and on stdout), then medians.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
export SHARED
TARGETS=${TARGETS:-"postoffice anchor"}
RUNS=${RUNS:-3}
N=${BENCH_N:-5000}
SIZE=${BENCH_MSG_BYTES:-10240}
POP3_SESSIONS=${BENCH_POP3_SESSIONS:-4}
export BENCH_PASSWORD=${BENCH_PASSWORD:-benchpw}
POBENCH="python3 $SHARED/bench/pobench.py"
SMTP_SOURCE=${SMTP_SOURCE:-$(command -v smtp-source || echo /usr/sbin/smtp-source)}
RESULTS=${BENCH_RESULTS:-$HERE/bench/results}
mkdir -p "$RESULTS"
OUT=$RESULTS/ceiling-$(date -u +%Y%m%dT%H%M%SZ).jsonl
USERS=(bench-in@example.test)
for i in $(seq "$POP3_SESSIONS"); do USERS+=("bench-pop$i@example.test"); done
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

fill() { # user count
  $POBENCH clean "$1" >/dev/null 2>&1 || true
  "$SMTP_SOURCE" -s 4 -m "$2" -l "$SIZE" -f bench-sender@example.test -t "$1" -M loadgen.example.test "$BENCH_HOST:$BENCH_SMTP_PORT" >/dev/null
  $POBENCH wait-count "$1" "$2" 150 >/dev/null
}

measure() { # label
  fill "${USERS[0]}" "$N"
  local pids=()
  for u in "${USERS[@]:1}"; do fill "$u" $((N / POP3_SESSIONS)) & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  node "$HERE/bench/ceiling/replay.mjs" --imap "$BENCH_HOST:$BENCH_IMAP_PORT" --pop3 "$BENCH_HOST:$BENCH_POP3_PORT" --runs "$RUNS" --label "$1" | tee -a "$OUT"
  $POBENCH clean "${USERS[@]}" >/dev/null 2>&1 || true
}

(cd "$HERE" && npm run build --silent)
for target in $TARGETS; do
  case $target in
    postoffice)
      export BENCH_HOST=127.0.0.1 BENCH_SMTP_PORT=${POSTOFFICE_SMTP_PORT:-2525} BENCH_IMAP_PORT=${POSTOFFICE_IMAP_PORT:-2143} BENCH_POP3_PORT=${POSTOFFICE_POP3_PORT:-2110}
      ! port_open 127.0.0.1 "$BENCH_SMTP_PORT" || { echo "bench:ceiling: port $BENCH_SMTP_PORT is taken; stop that server first" >&2; exit 1; }
      data=$(mktemp -d /tmp/postoffice-ceiling.XXXXXX)
      # the settings of npm run bench (bench/run.sh)
      (cd "$HERE" && POSTOFFICE_DATA_DIR=$data POSTOFFICE_LOG_LEVEL=warn POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK=true \
        POSTOFFICE_INBOUND_AUTH=false POSTOFFICE_DNS_SERVERS=127.0.0.1:9 POSTOFFICE_LOCAL_SENDER_ON_PORT25=allow \
        POSTOFFICE_SMTP_PORT=$BENCH_SMTP_PORT POSTOFFICE_IMAP_PORT=$BENCH_IMAP_PORT POSTOFFICE_POP3_PORT=$BENCH_POP3_PORT \
        exec setsid node dist/src/cli/main.js serve) >/tmp/postoffice-ceiling.log 2>&1 &
      pid=$!
      trap 'kill -- -$pid 2>/dev/null || true; rm -rf "$data"' EXIT
      for _ in $(seq 100); do port_open 127.0.0.1 "$BENCH_IMAP_PORT" && break; sleep 0.3; done
      for u in "${USERS[@]}"; do (cd "$HERE" && POSTOFFICE_DATA_DIR=$data npx --no-install postoffice user add "$u" --password "$BENCH_PASSWORD" >/dev/null); done
      measure postoffice
      kill -- -$pid 2>/dev/null || true
      wait $pid 2>/dev/null || true
      rm -rf "$data"
      trap - EXIT
      ;;
    anchor)
      export BENCH_HOST=127.0.0.1 BENCH_SMTP_PORT=3525 BENCH_IMAP_PORT=3143 BENCH_POP3_PORT=3110
      "$SHARED/anchors/anchor.sh" start >/dev/null
      for u in "${USERS[@]}"; do "$SHARED/anchors/anchor.sh" adduser "$u" "$BENCH_PASSWORD" >/dev/null; done
      sleep 1
      measure anchor
      ;;
    *) echo "bench:ceiling: unknown target $target" >&2; exit 2 ;;
  esac
done
# medians per target and workload
python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["recorded_from"], r["workload"], r["target"], r.get("client", "python")), []).append(r)
for (src, wl, target, client), rs in groups.items():
    med = statistics.median(r["msgs_per_s"] for r in rs)
    share = statistics.median(r["loadgen_core_share"] for r in rs)
    print(f"{wl:11} {target:10} {client:6} client (recorded from {src}): median {med:9.1f} msgs/s over {len(rs)} runs, load generator {share:.2f} cores", file=sys.stderr)
EOF
echo "bench:ceiling: results in $OUT" >&2
