#!/bin/sh
# postoffice container entrypoint: make the data dir, create the first user from
# POSTOFFICE_ADMIN_ADDRESS / POSTOFFICE_ADMIN_PASSWORD (once), then run the server
# (or the command given as arguments, e.g. `docker compose run postoffice user list`).
set -eu

APP=${POSTOFFICE_APP:-/app}
CLI="node $APP/dist/src/cli/main.js"
DATA=${POSTOFFICE_DATA_DIR:-/data}
export POSTOFFICE_DATA_DIR="$DATA"

mkdir -p "$DATA"
if [ ! -w "$DATA" ]; then
  echo "entrypoint: data dir $DATA is not writable by uid $(id -u)" >&2
  exit 1
fi

if [ -n "${POSTOFFICE_ADMIN_ADDRESS:-}" ]; then
  if [ -z "${POSTOFFICE_ADMIN_PASSWORD:-}" ]; then
    echo "entrypoint: POSTOFFICE_ADMIN_ADDRESS is set but POSTOFFICE_ADMIN_PASSWORD is empty" >&2
    exit 1
  fi
  domain=${POSTOFFICE_ADMIN_ADDRESS#*@}
  if ! $CLI user list | grep -qi "^${POSTOFFICE_ADMIN_ADDRESS} "; then
    $CLI domain add "$domain" >/dev/null
    # the password goes through stdin, never the process list
    printf '%s\n' "$POSTOFFICE_ADMIN_PASSWORD" | $CLI user add "$POSTOFFICE_ADMIN_ADDRESS" --password-stdin
  fi
fi

if [ $# -eq 0 ]; then
  exec $CLI serve
fi
case "$1" in
  serve|domain|user|alias|queue|trace) exec $CLI "$@" ;;
  *) exec "$@" ;;
esac
