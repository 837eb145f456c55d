# postoffice: one process, every agent of the mail path.
# Build stage: the dependencies (with the better-sqlite3 native addon), then src/ only
# (tsconfig.build.json: the image has no use for test/).
FROM node:20-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# dependencies first: this layer is rebuilt only when package.json or the lock file changes
COPY package.json package-lock.json ./
# the addon is build/Release/better_sqlite3.node; its sources and objects (~25 MB) stay here
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3 \
 && cd node_modules/better-sqlite3 && rm -rf deps src build/deps build/Release/obj build/Release/obj.target \
    build/Release/.deps build/Release/sqlite3.a build/Release/test_extension.node
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Run stage: no compiler. It starts as root only to hand /data to the postoffice user and drop to
# it with the one capability it needs, binding ports below 1024 (docker/entrypoint.sh: setpriv,
# an ambient capability; no setcap on node, which would copy the 95 MB binary into a layer).
FROM node:20-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10025 --user-group --home-dir /data --shell /usr/sbin/nologin postoffice \
 && mkdir -p /data && chown postoffice: /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY src/store/migrations ./src/store/migrations
# the PostgreSQL store's own migrations (POSTOFFICE_STORE_URL=postgres://...: several nodes on one database)
COPY src/store/postgres/migrations ./src/store/postgres/migrations
COPY config ./config
COPY docker/healthcheck.mjs docker/known-password.mjs ./docker/
COPY docker/entrypoint.sh /usr/local/bin/postoffice-entrypoint
COPY docker/postoffice.sh /usr/local/bin/postoffice
ENV NODE_ENV=production \
    POSTOFFICE_APP=/app \
    POSTOFFICE_RUN_AS=postoffice \
    POSTOFFICE_DATA_DIR=/data \
    POSTOFFICE_LISTEN=0.0.0.0 \
    POSTOFFICE_SMTP_PORT=25 POSTOFFICE_SMTPS_PORT=465 POSTOFFICE_SUBMISSION_PORT=587 \
    POSTOFFICE_IMAP_PORT=143 POSTOFFICE_IMAPS_PORT=993 POSTOFFICE_POP3_PORT=110 POSTOFFICE_POP3S_PORT=995 \
    POSTOFFICE_HTTP_PORT=8080 \
    POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK=false
VOLUME /data
EXPOSE 25 465 587 110 995 143 993 8080
# /healthz over loopback (the store answers), or a TCP connect when HTTP is off
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["node", "/app/docker/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "postoffice-entrypoint"]
