#!/usr/bin/env bash
# npm run bench: postoffice and the anchor (Postfix + Dovecot) measured back to back with the
# shared load generator (../shared/bench), on this machine, same workloads.
#
#   npm run bench                       # both targets, the shared defaults (RUNS=3, every workload)
#   WORKLOADS=smtp_inbound RUNS=1 npm run bench
#   TARGETS=postoffice npm run bench    # only postoffice
#
# postoffice runs from this checkout on the dev ports with a throw-away data dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
[ -x "$SHARED/bench/run.sh" ] || { echo "bench: $SHARED/bench/run.sh not found (set SHARED)" >&2; exit 1; }
TARGETS=${TARGETS:-"postoffice anchor"}
export BENCH_RESULTS=${BENCH_RESULTS:-$HERE/bench/results}
mkdir -p "$BENCH_RESULTS"

(cd "$HERE" && npm run build --silent)
for target in $TARGETS; do
  case $target in
    postoffice)
      data=$(mktemp -d /tmp/postoffice-bench.XXXXXX)
      export POSTOFFICE_DIR=$HERE POSTOFFICE_DATA_DIR=$data POSTOFFICE_LOG_LEVEL=warn
      # pobench cleans mailboxes over IMAP and counts with STATUS: plaintext LOGIN on loopback
      export POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK=true
      # like the anchor's Postfix, no SPF/DKIM/DMARC on port 25 (and no DNS traffic off the machine)
      export POSTOFFICE_INBOUND_AUTH=false POSTOFFICE_DNS_SERVERS=127.0.0.1:9
      # the load generator sends as bench-sender@example.test (a local domain) on port 25, as Postfix takes it;
      # our default refuses our own domains on port 25 without SPF (localSenderOnPort25=reject)
      export POSTOFFICE_LOCAL_SENDER_ON_PORT25=allow
      export POSTOFFICE_START_CMD=${POSTOFFICE_START_CMD:-"exec node dist/src/cli/main.js serve"}
      "$SHARED/bench/run.sh" postoffice
      rm -rf "$data"
      ;;
    anchor)
      "$SHARED/anchors/anchor.sh" start >/dev/null
      "$SHARED/bench/run.sh" anchor
      ;;
    *) echo "bench: unknown target $target" >&2; exit 2 ;;
  esac
done
