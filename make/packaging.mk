# Packaging and delivery: kustomize (through kubectl), container images, the
# OLM bundle and catalog, and the end-to-end suite. Included by the Makefile.
# Nothing here downloads anything at run time: kubectl, operator-sdk and olm
# are the pinned binaries built once into the tools cache (make tools, make
# olm-tools).

VERSION ?= 0.1.0
CHANNELS ?= alpha
DEFAULT_CHANNEL ?= alpha
# The bundle's createdAt: the release date of VERSION, so make bundle is deterministic.
BUNDLE_CREATED_AT ?= 2026-11-23T00:00:00Z
IMAGE_TAG_BASE ?= quay.io/example/memcached-operator
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:v$(VERSION)
CATALOG_IMG ?= $(IMAGE_TAG_BASE)-catalog:v$(VERSION)
CONTAINER_TOOL ?= docker
UNDEPLOY_TIMEOUT ?= 120s
# The memcached image the manager gives a Memcached that names none
# (RELATED_IMAGE_MEMCACHED). Empty: config/manager's default, the official one.
MEMCACHED_IMG ?=

# The tools cache's directories, named from the pinned versions as
# build-tools.sh and build-olm-tools.sh name them (a unit test keeps the two in
# step); nothing runs at parse time, so make help works with nothing installed.
include test/cluster/versions.env
TOOLS_CACHE ?= $(or $(MEMCACHED_OPERATOR_TOOLS_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/memcached-operator/tools)
TOOLS_BIN = $(TOOLS_CACHE)/k8s-$(KUBE_VERSION)-etcd-$(ETCD_VERSION)-kwok-$(KWOK_VERSION)/bin
OLM_TOOLS_BIN = $(TOOLS_CACHE)/operator-sdk-$(OPERATOR_SDK_VERSION)-olm-$(OLM_VERSION)/bin
# kubectl on PATH when there is one, else the pinned one (built on first use).
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(TOOLS_BIN)/kubectl)
OPERATOR_SDK ?= $(OLM_TOOLS_BIN)/operator-sdk
# make deploy/install target the cluster KUBECONFIG names (kubectl's default).
KUBECTL_APPLY = $(KUBECTL) apply --server-side --force-conflicts --field-manager=memcached-operator-make
RENDER = KUBECTL=$(KUBECTL) hack/render.sh

comma := ,

define require-container-tool
	@command -v $(CONTAINER_TOOL) >/dev/null 2>&1 || { \
	  echo "error: no container engine: '$(CONTAINER_TOOL)' is not installed. Install docker or podman (make $@ CONTAINER_TOOL=podman)." >&2; \
	  exit 1; }
	@$(CONTAINER_TOOL) info >/dev/null 2>&1 || { \
	  echo "error: no container engine: '$(CONTAINER_TOOL)' is installed but its engine is not running (or not reachable): start it, or use CONTAINER_TOOL=podman." >&2; \
	  exit 1; }
endef

$(KUBECTL):
	test/cluster/build-tools.sh >/dev/null

$(OPERATOR_SDK):
	test/cluster/build-olm-tools.sh >/dev/null

##@ Deployment

.PHONY: olm-tools
olm-tools: ## Build (once) the pinned operator-sdk and OLM binaries into the tools cache.
	test/cluster/build-olm-tools.sh

.PHONY: install
install: $(KUBECTL) ## Install the CRD into the cluster KUBECONFIG names.
	$(KUBECTL) kustomize config/crd | $(KUBECTL_APPLY) -f -

.PHONY: uninstall
uninstall: $(KUBECTL) ## Remove the CRD (and every Memcached) from the cluster.
	$(KUBECTL) kustomize config/crd | $(KUBECTL) delete --ignore-not-found --wait -f -

.PHONY: deploy
deploy: $(KUBECTL) ## Deploy the operator (IMG; MEMCACHED_IMG sets RELATED_IMAGE_MEMCACHED) server-side into memcached-operator-system.
	$(RENDER) config/default $(IMG) '$(MEMCACHED_IMG)' | $(KUBECTL_APPLY) -f -

.PHONY: undeploy
undeploy: $(KUBECTL) ## Remove every Memcached (while the operator runs), then everything make deploy created.
	@if $(KUBECTL) get crd memcacheds.cache.example.com >/dev/null 2>&1; then \
	  $(KUBECTL) delete memcacheds.cache.example.com --all --all-namespaces --wait --timeout=$(UNDEPLOY_TIMEOUT) || { \
	    echo "error: Memcacheds were not finalized within $(UNDEPLOY_TIMEOUT): is the operator running? (kubectl get memcacheds -A)" >&2; exit 1; }; \
	fi
	$(RENDER) config/default $(IMG) '$(MEMCACHED_IMG)' | $(KUBECTL) delete --ignore-not-found --wait -f -

.PHONY: build-installer
build-installer: $(KUBECTL) ## Write dist/install.yaml: everything make deploy applies, in one file.
	@mkdir -p dist
	$(RENDER) config/default $(IMG) '$(MEMCACHED_IMG)' > dist/install.yaml.tmp
	mv dist/install.yaml.tmp dist/install.yaml
	@echo "wrote dist/install.yaml (image $(IMG)$(if $(MEMCACHED_IMG),$(comma) memcached $(MEMCACHED_IMG)))"

##@ Images

.PHONY: docker-build
docker-build: ## Build the operator image IMG (needs docker or podman).
	$(require-container-tool)
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image IMG.
	$(require-container-tool)
	$(CONTAINER_TOOL) push $(IMG)

##@ Bundle

.PHONY: bundle
bundle: $(KUBECTL) $(OPERATOR_SDK) ## Generate bundle/ and bundle.Dockerfile from config/, then validate them.
	KUBECTL=$(KUBECTL) node hack/generate-bundle.js --version $(VERSION) --img $(IMG) \
	  --channels $(CHANNELS) --default-channel $(DEFAULT_CHANNEL) --created-at $(BUNDLE_CREATED_AT)
	$(MAKE) --no-print-directory bundle-validate

.PHONY: bundle-validate
bundle-validate: $(OPERATOR_SDK) ## Validate bundle/ with the operatorframework suite; fails on any error or warning.
	hack/validate-bundle.sh $(OPERATOR_SDK) bundle

.PHONY: bundle-build
bundle-build: ## Build the bundle image BUNDLE_IMG.
	$(require-container-tool)
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

.PHONY: bundle-push
bundle-push: ## Push the bundle image BUNDLE_IMG.
	$(require-container-tool)
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

.PHONY: catalog-build
catalog-build: ## Build a file-based catalog image CATALOG_IMG holding BUNDLE_IMG.
	$(require-container-tool)
	hack/generate-catalog.sh catalog memcached-operator $(VERSION) $(BUNDLE_IMG) $(DEFAULT_CHANNEL) $(CHANNELS)
	$(CONTAINER_TOOL) build -f catalog.Dockerfile -t $(CATALOG_IMG) .

.PHONY: catalog-push
catalog-push: ## Push the catalog image CATALOG_IMG.
	$(require-container-tool)
	$(CONTAINER_TOOL) push $(CATALOG_IMG)

##@ Test

.PHONY: test-packaging
test-packaging: build build-test ## Packaging proofs: runtime image install, bundle, kustomize layouts.
	$(MOCHA) --timeout 600000 '.build/test/integration/packaging/**/*.spec.js'

# With KIND_CLUSTER set and kind and docker present: build the image, load it
# into kind, make deploy, and run the specs against the in-cluster operator
# (KUBECONFIG names the kind cluster). Otherwise: the local cluster, with the
# operator run on the host under its ServiceAccount's token.
.PHONY: test-e2e
test-e2e: build build-test ## End-to-end: make deploy, install.yaml, OLM and undeploy proofs.
	@if [ -n "$${KIND_CLUSTER:-}" ] && command -v kind >/dev/null 2>&1 && command -v $(CONTAINER_TOOL) >/dev/null 2>&1; then \
	  set -x; \
	  $(MAKE) --no-print-directory docker-build IMG=$(IMG); \
	  kind load docker-image $(IMG) --name "$$KIND_CLUSTER"; \
	  E2E_MODE=in-cluster IMG=$(IMG) $(MOCHA) --timeout 900000 '.build/test/e2e/**/*.spec.js'; \
	else \
	  E2E_MODE=host IMG=$(IMG) $(MOCHA) --timeout 900000 '.build/test/e2e/**/*.spec.js'; \
	fi
