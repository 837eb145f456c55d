#!/bin/sh
# postoffice container entrypoint: make the data dir, create the first user from
# POSTOFFICE_ADMIN_ADDRESS / POSTOFFICE_ADMIN_PASSWORD (once), then run the server
# (or the command given as arguments, e.g. `docker compose run postoffice user list`).
#
# The image starts this as root only to hand the data dir to POSTOFFICE_RUN_AS and to drop to
# that user keeping one capability, CAP_NET_BIND_SERVICE (ports 25, 110, ... below 1024), as an
# ambient capability: no file capability on the node binary (which would copy it into a layer).
# When POSTOFFICE_ADMIN_PASSWORD is unset, empty or the example value `change-me`, a strong
# password is generated and printed once; only its scrypt hash is stored. A first user still
# holding `change-me` (a volume made with an earlier docker-compose.yml) gets one too.
set -eu

APP=${POSTOFFICE_APP:-/app}
CLI="node $APP/dist/src/cli/main.js"
DATA=${POSTOFFICE_DATA_DIR:-/data}
export POSTOFFICE_DATA_DIR="$DATA"

if [ "$(id -u)" = 0 ] && [ -n "${POSTOFFICE_RUN_AS:-}" ]; then
  mkdir -p "$DATA"
  # a fresh named volume or a bind mount owned by root: the data dir itself (not the files in it)
  chown "$POSTOFFICE_RUN_AS:" "$DATA"
  # volumes mounted on parts of it, shared by several nodes (examples/compose-postgres.yml): fresh ones are root's
  for d in dkim tls acme; do
    if [ -d "$DATA/$d" ]; then chown "$POSTOFFICE_RUN_AS:" "$DATA/$d"; fi
  done
  exec setpriv --reuid="$POSTOFFICE_RUN_AS" --regid="$POSTOFFICE_RUN_AS" --init-groups \
    --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
    --bounding-set=-all,+net_bind_service --no-new-privs \
    -- env POSTOFFICE_RUN_AS= sh "$0" "$@"
fi

mkdir -p "$DATA"
if [ ! -w "$DATA" ]; then
  echo "entrypoint: data dir $DATA is not writable by uid $(id -u)" >&2
  exit 1
fi

# 24 characters of base64url: 144 random bits
new_password() {
  node -e 'process.stdout.write(require("node:crypto").randomBytes(18).toString("base64url"))'
}

# shown once, in the container log: $1 the address, $2 the password, $3 why it was generated
announce() {
  cat <<EOF
entrypoint: ----------------------------------------------------------------------------------
entrypoint: $3, so $1 got a generated password:
entrypoint:
entrypoint:     generated password: $2
entrypoint:
entrypoint: It is shown only this once (only its hash is stored). $1 signs in to mail
entrypoint: (IMAP, POP3, SMTP submission) and to the dashboard (port 8080) as an admin. Change it with:
entrypoint:     printf '%s\n' 'NEW PASSWORD' | docker compose exec -T postoffice postoffice user passwd $1 --password-stdin
entrypoint: ----------------------------------------------------------------------------------
EOF
}

if [ -n "${POSTOFFICE_ADMIN_ADDRESS:-}" ]; then
  address=$(printf '%s' "$POSTOFFICE_ADMIN_ADDRESS" | tr 'A-Z' 'a-z')
  case "$address" in
    ?*@?*.?*) ;;
    *) echo "entrypoint: POSTOFFICE_ADMIN_ADDRESS=$POSTOFFICE_ADMIN_ADDRESS is not an address like admin@example.org" >&2; exit 1 ;;
  esac
  # the password goes through stdin, never the process list; the CLI stores its scrypt hash
  if ! $CLI user list | awk -v a="$address" '$1 == a { found = 1 } END { exit !found }'; then
    $CLI domain add "${address#*@}" >/dev/null
    password=${POSTOFFICE_ADMIN_PASSWORD:-}
    if [ -z "$password" ] || [ "$password" = change-me ]; then
      why="POSTOFFICE_ADMIN_PASSWORD is ${password:+the example value change-me}${password:-not set}"
      password=$(new_password)
      printf '%s\n' "$password" | $CLI user add "$address" --password-stdin --admin
      announce "$address" "$password" "$why"
    else
      printf '%s\n' "$password" | $CLI user add "$address" --password-stdin --admin
    fi
    unset password
  elif node "$APP/docker/known-password.mjs" "$address"; then
    # a data volume from before: the first user was made with docker-compose.yml's `change-me`
    password=$(new_password)
    printf '%s\n' "$password" | $CLI user passwd "$address" --password-stdin
    announce "$address" "$password" "$address still had the example password change-me of an earlier docker-compose.yml"
    unset password
  fi
fi

if [ $# -eq 0 ]; then
  exec $CLI serve
fi
case "$1" in
  serve|domain|user|alias|queue|trace|dns|doctor|import|export|backup|restore|migrate-store) exec $CLI "$@" ;;
  *) exec "$@" ;;
esac
