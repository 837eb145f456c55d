#!/usr/bin/env bash
# Issue 3's two fetch figures apart (header fetch, full bodies), postoffice then the anchor's
# Dovecot, with the same Node client (bench/imap-fetch-split.mjs), back to back.
#   bash bench/fetch-split.sh [messages=5000] [clients=8] [runs=3]
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
N=${1:-5000} C=${2:-8} R=${3:-3}
USER_=bench-split@example.test PW=benchpw
(cd "$HERE" && npm run build --silent)

data=$(mktemp -d /tmp/postoffice-split.XXXXXX)
export POSTOFFICE_DATA_DIR=$data POSTOFFICE_LOG_LEVEL=warn POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK=true
export POSTOFFICE_INBOUND_AUTH=false POSTOFFICE_DNS_SERVERS=127.0.0.1:9
export POSTOFFICE_SMTP_PORT=2525 POSTOFFICE_SUBMISSION_PORT=2587 POSTOFFICE_IMAP_PORT=2143 POSTOFFICE_POP3_PORT=2110
cd "$HERE"
node dist/src/cli/main.js domain add example.test >/dev/null
node dist/src/cli/main.js user add "$USER_" --password "$PW" >/dev/null
node dist/src/cli/main.js serve >"$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/2143) 2>/dev/null && break; sleep 0.2; done
echo "postoffice:" >&2
node bench/imap-fetch-split.mjs 127.0.0.1 2143 "$USER_" "$PW" "$N" "$C" "$R"
kill $pid; wait $pid 2>/dev/null || true

"$SHARED/anchors/anchor.sh" start >/dev/null
"$SHARED/anchors/anchor.sh" adduser "$USER_" "$PW" >/dev/null 2>&1 || true
echo "anchor (Dovecot):" >&2
node bench/imap-fetch-split.mjs 127.0.0.1 3143 "$USER_" "$PW" "$N" "$C" "$R"
