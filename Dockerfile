# syntax=docker/dockerfile:1
# Multi-stage image for the FHIR server: build with dev dependencies, run with production ones only.
# Node 22 (maintenance LTS until April 2027); the code also runs on Node 20.19+ (package.json `engines`).
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build ------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Dependencies first so this layer is reused while only sources change. --ignore-scripts skips `prepare` (the build,
# which needs the sources copied below); no dependency needs an install script of its own.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY . .
# Compiles src/ to dist/, generates generated/r4-validator.js (with its code and V8 code cache) and builds the admin web app into generated/admin-app/.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ----------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/generated ./generated
COPY --from=build /app/fhir-definitions ./fhir-definitions
COPY --from=build /app/seed ./seed

# The embedded store journals to DATA_DIR; the image's `node` user (uid 1000) owns it.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node

EXPOSE 3000
# Readiness, not mere liveness: /readyz answers 503 while the store does not (MongoDB gone, journal refusing
# writes). slim images have no curl: probe with Node's built-in fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "dist/main.js"]
