#!/bin/sh
# `postoffice ...` inside the container, e.g.
#   docker compose exec postoffice postoffice user list
# runs the CLI as the user the server runs as (never as root, so files in the data dir keep
# their owner).
set -eu
CLI="${POSTOFFICE_APP:-/app}/dist/src/cli/main.js"
if [ "$(id -u)" = 0 ] && [ -n "${POSTOFFICE_RUN_AS:-}" ]; then
  exec setpriv --reuid="$POSTOFFICE_RUN_AS" --regid="$POSTOFFICE_RUN_AS" --init-groups --no-new-privs \
    --inh-caps=-all --bounding-set=-all -- node "$CLI" "$@"
fi
exec node "$CLI" "$@"
