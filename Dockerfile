# postoffice: one process, every agent of the mail path.
# Build stage: compile TypeScript and the better-sqlite3 native addon.
FROM node:20-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY config ./config
RUN npm ci && npm prune --omit=dev

# Run stage: no compiler, a non-root user that may bind ports below 1024.
FROM node:20-slim
RUN apt-get update && apt-get install -y --no-install-recommends libcap2-bin tini \
 && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")" \
 && apt-get purge -y libcap2-bin && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10025 --home-dir /data postoffice \
 && mkdir -p /data && chown postoffice /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/src/store/migrations ./src/store/migrations
COPY --from=build /app/config ./config
COPY docker/entrypoint.sh /usr/local/bin/postoffice-entrypoint
ENV NODE_ENV=production \
    POSTOFFICE_APP=/app \
    POSTOFFICE_DATA_DIR=/data \
    POSTOFFICE_LISTEN=0.0.0.0 \
    POSTOFFICE_SMTP_PORT=25 POSTOFFICE_SMTPS_PORT=465 POSTOFFICE_SUBMISSION_PORT=587 \
    POSTOFFICE_IMAP_PORT=143 POSTOFFICE_IMAPS_PORT=993 POSTOFFICE_POP3_PORT=110 POSTOFFICE_POP3S_PORT=995 \
    POSTOFFICE_HTTP_PORT=8080 \
    POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK=false
USER postoffice
VOLUME /data
EXPOSE 25 465 587 110 995 143 993 8080
ENTRYPOINT ["/usr/bin/tini", "--", "postoffice-entrypoint"]
