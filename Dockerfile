# The operator image: make docker-build IMG=...
#
# No "# syntax=" line: BuildKit would fetch that frontend from a registry, so
# the file builds offline with BuildKit or the legacy builder alike.
#
# The base images are build arguments. Their defaults are the public images
# (Node 26.10 on Debian for the build; distroless Node 26 for the runtime). The
# kind test bed builds local stand-ins under memcached-operator.local/... and
# make docker-build passes them when .kind/images.env names them:
#   docker build --build-arg BUILD_IMAGE=... --build-arg RUNTIME_IMAGE=... .
ARG BUILD_IMAGE=docker.io/library/node:26.10.0-trixie-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs26-debian13:nonroot

# Build stage: the full toolchain (npm ci with dev dependencies, tsc). The
# controller runtime is the workspace package packages/runtime, built first.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/runtime/package.json packages/runtime/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages/runtime/tsconfig.json packages/runtime/
COPY packages/runtime/src/ packages/runtime/src/
COPY src/ src/
RUN npx tsc -b packages/runtime && npx tsc -p tsconfig.json && chmod -R g=u dist packages/runtime/dist

# Production dependencies only, installed from the same lock file (the
# workspace package is a link to packages/runtime).
FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/runtime/package.json packages/runtime/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
 && chmod -R g=u node_modules packages
COPY config/crd/bases/ config/crd/bases/
RUN chmod -R g=u config package.json

# Runtime: node, production dependencies, dist/ (and the runtime package's)
# and the CRD (the validator reads its schema at run time). No npm, no
# compiler, no shell tools of ours.
FROM ${RUNTIME_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Group 0 gets the owner's permissions (chmod g=u in the earlier stages).
COPY --from=deps --chown=1001:0 /app/node_modules/ node_modules/
COPY --from=deps --chown=1001:0 /app/package.json ./
COPY --from=deps --chown=1001:0 /app/packages/runtime/package.json packages/runtime/
COPY --from=deps --chown=1001:0 /app/config/crd/bases/ config/crd/bases/
COPY --from=build --chown=1001:0 /src/packages/runtime/dist/ packages/runtime/dist/
COPY --from=build --chown=1001:0 /src/dist/ dist/
# A numeric non-root user (runAsNonRoot can verify it). OpenShift runs the
# container with an arbitrary UID in group 0, which can read everything above.
USER 1001:0
EXPOSE 8080 8081
# V8 flags: src/nodeflags.ts says why (a unit test keeps the two in step).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "dist/main.js"]
