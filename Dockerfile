# syntax=docker/dockerfile:1
# Vigil's container image (docs/operations.md § Containers). Two stages:
#   build    every dependency, then `npm run build`: the rules grammar (nearleyc) and dist/ (tsc);
#   runtime  the production dependencies only (`npm ci --omit=dev`), the shipped files and dist/ from
#            the build stage, run as the unprivileged `node` user.
# The runtime stage runs `node bin/vigil.js serve`, never `npm start`: npm start's prestart would try
# to rebuild with the build tools this stage does not have. test/deploy/container.test.ts checks this
# file against package.json, the configuration variables and the routes.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the `prepare` script (the build) needs the sources, copied next; .npmrc keeps
# onnxruntime-node's GPU download off either way.
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    VIGIL_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` would run the build, whose tools (typescript, nearley's compiler as
# used at build time) are dev dependencies; dist/ comes from the build stage instead.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY . .
COPY --from=build /app/dist ./dist
# VIGIL_DATA_DIR: the decision log's spool (and PGlite's database when VIGIL_DECISION_LOG is unset);
# one volume per container, so replicas never share a spool.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8080
# /readyz: a pack is loaded, the signal store answers and the instance is not draining. Node's own
# fetch: the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/vigil.js", "serve"]
