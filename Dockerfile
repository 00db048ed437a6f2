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

# Build stage: the full toolchain (npm ci with dev dependencies, tsc,
# esbuild). The controller runtime is the workspace package packages/runtime,
# built first; then dist/main.js and everything it imports become one file,
# dist/bundle/main.js (make bundle-js; hack/bundle-js.js says why).
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/runtime/package.json packages/runtime/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages/runtime/tsconfig.json packages/runtime/
COPY packages/runtime/src/ packages/runtime/src/
COPY src/ src/
COPY hack/bundle-js.js hack/
RUN npx tsc -b packages/runtime && npx tsc -p tsconfig.json && node hack/bundle-js.js

# What the runtime stage holds, laid out as it runs: the bundle as
# dist/main.js (with the bundled packages' licences), package.json (the
# version, and "type": "module" for the bundle) and the CRD (the validator
# reads its schema at run time): no node_modules. Group 0 gets the owner's
# permissions here, as the runtime image has no shell to run chmod.
FROM ${BUILD_IMAGE} AS app
WORKDIR /app
COPY --from=build /src/dist/bundle/ dist/
COPY package.json ./
COPY config/crd/bases/ config/crd/bases/
RUN chmod -R g=u /app

# Runtime: node and /app. No npm, no compiler, no shell tools of ours.
FROM ${RUNTIME_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=app --chown=1001:0 /app/ ./
# A numeric non-root user (runAsNonRoot can verify it). OpenShift runs the
# container with an arbitrary UID in group 0, which can read everything above.
USER 1001:0
EXPOSE 8080 8081
# V8 flags: src/nodeflags.ts says why (a unit test keeps the two in step).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "dist/main.js"]
