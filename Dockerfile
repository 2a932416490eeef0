# Dockerfile - multi-stage build of the three runtime images (Debian 12 slim, non-root
# user 10001, base images pinned to a point release; bump them deliberately):
#   target "api":     lighttpd + rest-fcgi (FastCGI) + the web client's build
#   target "gateway": the WebSocket gateway daemon
#   target "edge":    Debian's HAProxy with deploy/haproxy/haproxy.cfg (public entry)
# docker-compose.yml builds all three; everything is configured by environment variables.

FROM debian:12.11-slim AS build-c
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config libfcgi-dev libwebsockets-dev libuv1-dev \
      libmongoc-dev libbson-dev libhiredis-dev libjwt-dev libcrypt-dev libjansson-dev \
      libcmocka-dev libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY common common
COPY rest-fcgi rest-fcgi
COPY ws-gateway ws-gateway
COPY tests/unit tests/unit
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build \
    && ctest --test-dir build -E 'repo|membership|redis|ratelimit|presence|db' --output-on-failure

FROM node:20.19-bookworm-slim AS build-web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm install --no-audit --no-fund
COPY web ./
# the client bundles the same common-password list as the server (../common/data)
COPY common/data /common/data
RUN npm run build

FROM debian:12.11-slim AS api
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      lighttpd libfcgi0ldbl libmongoc-1.0-0 libhiredis0.14 libjwt0 libjansson4 libcrypt1 \
      curl ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app chat && mkdir -p /app/run && chown chat /app/run
WORKDIR /app
COPY --from=build-c /src/build/rest-fcgi/chat-api /app/bin/chat-api
COPY --from=build-web /web/dist /app/web
COPY common/data/common-passwords.txt /app/share/common-passwords.txt
COPY lighttpd.conf /app/lighttpd.conf
COPY deploy/lighttpd-gateways.sh /app/deploy/lighttpd-gateways.sh
ENV HTTP_HOST=0.0.0.0 HTTP_PORT=8080 CHAT_ROOT=/app CHAT_RUN_DIR=/app/run \
    CHAT_API_BIN=/app/bin/chat-api CHAT_WEB_ROOT=/app/web LOG_FORMAT=json \
    COMMON_PASSWORDS_FILE=/app/share/common-passwords.txt
USER chat
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
CMD ["lighttpd", "-D", "-f", "/app/lighttpd.conf"]

FROM debian:12.11-slim AS gateway
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libwebsockets17 libuv1 libmongoc-1.0-0 libhiredis0.14 libjwt0 libjansson4 libcrypt1 \
      curl ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app chat
WORKDIR /app
COPY --from=build-c /src/build/ws-gateway/chat-gateway /app/bin/chat-gateway
ENV GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=9001 LOG_FORMAT=json
USER chat
EXPOSE 9001
# GET /health answers from the gateway's loop (also while Redis/MongoDB are down).
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${GATEWAY_PORT}/health" || exit 1
# SIGTERM drains: stop accepting, close sockets with 1001 within WS_DRAIN_MS, exit.
STOPSIGNAL SIGTERM
CMD ["/app/bin/chat-gateway"]

FROM debian:12.11-slim AS edge
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      haproxy curl ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app chat
WORKDIR /app
COPY deploy/haproxy/haproxy.cfg /app/haproxy.cfg
# the file is checked at build time (servers start empty: no DNS needed)
RUN haproxy -c -f /app/haproxy.cfg
USER chat
EXPOSE 8080 8404
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8404/health || exit 1
# SIGUSR1: stop accepting, let open connections finish (at most hard-stop-after 30 s).
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/app/haproxy.cfg"]
