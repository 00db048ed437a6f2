# Packaging and delivery: kustomize (through kubectl), container images, the
# OLM bundle and catalog. Included by the Makefile. Nothing here downloads
# anything at run time: kubectl, operator-sdk and olm are the pinned binaries
# built once into the tools cache, on first use (test/cluster/build-tools.sh,
# build-olm-tools.sh).

VERSION ?= 0.1.0
CHANNELS ?= alpha
DEFAULT_CHANNEL ?= alpha
# The bundle's createdAt: the release date of VERSION, so make bundle is deterministic.
BUNDLE_CREATED_AT ?= 2026-11-23T00:00:00Z
IMAGE_TAG_BASE ?= quay.io/example/memcached-operator
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:v$(VERSION)
CATALOG_IMG ?= $(IMAGE_TAG_BASE)-catalog:v$(VERSION)
# Where make bundle writes (another directory leaves the committed bundle/
# alone, e.g. for a second version of an upgrade test), and what
# bundle-build builds.
BUNDLE_DIR ?= bundle
BUNDLE_DOCKERFILE ?= $(if $(filter bundle,$(BUNDLE_DIR)),bundle.Dockerfile,$(BUNDLE_DIR).Dockerfile)
# The catalog: its directory (DIR.Dockerfile beside it), the bundle images it
# publishes as one upgrade chain (each replaces the one before; all pushed
# already: opm renders them from the registry), and the opm base image (after
# make kind-up, the local build of the pinned opm).
CATALOG_DIR ?= catalog
CATALOG_BUNDLES ?= $(BUNDLE_IMG)
OPM_IMG ?= $(or $(KIND_OPM_IMG),quay.io/operator-framework/opm:$(OPM_VERSION))
# make olm-install pushes the local builds of OLM and opm (test/kind/images.sh
# names them so) to REGISTRY (after make kind-up: the registry next to the
# nodes) and runs them from there.
REGISTRY ?= $(KIND_REGISTRY)
LOCAL_OLM_IMG = memcached-operator.local/olm:$(OLM_VERSION)
LOCAL_OPM_IMG = memcached-operator.local/opm:$(OPM_VERSION)
# Also pushed by olm-install: the scorecard runner, and the Debian base (it
# has tar, cat and gzip: the untar and decompression image of operator-sdk's
# scorecard and run bundle).
LOCAL_OLM_EXTRA_IMGS = memcached-operator.local/scorecard-test:$(OPERATOR_SDK_VERSION) memcached-operator.local/debian:bookworm
CONTAINER_TOOL ?= docker
UNDEPLOY_TIMEOUT ?= 120s
# The memcached image the manager gives a Memcached that names none
# (RELATED_IMAGE_MEMCACHED). Empty: config/manager's default, the official one.
MEMCACHED_IMG ?=

# The tools cache's directories, named from the pinned versions as
# scripts/lib.sh (TOOLS_CACHE), build-tools.sh and build-olm-tools.sh name them
# (a unit test keeps them in step); nothing runs at parse time, so make help
# works with nothing installed.
include test/cluster/versions.env test/cluster/olm-versions.env
TOOLS_CACHE ?= $(or $(MEMCACHED_OPERATOR_TOOLS_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/memcached-operator/tools)
TOOLS_BIN = $(TOOLS_CACHE)/k8s-$(KUBE_VERSION)-etcd-$(ETCD_VERSION)-kwok-$(KWOK_VERSION)/bin
OLM_TOOLS_BIN = $(TOOLS_CACHE)/operator-sdk-$(OPERATOR_SDK_VERSION)-olm-$(OLM_VERSION)/bin
# kubectl on PATH when there is one, else the pinned one (built on first use).
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(TOOLS_BIN)/kubectl)
OPERATOR_SDK ?= $(OLM_TOOLS_BIN)/operator-sdk
OPM ?= $(OLM_TOOLS_BIN)/opm
OLM_MANIFESTS = $(OLM_TOOLS_BIN)/../manifests/olm-release
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

$(OPERATOR_SDK) $(OPM):
	test/cluster/build-olm-tools.sh >/dev/null

##@ Deployment

.PHONY: install
install: $(KUBECTL) ## Install the CRD into the cluster KUBECONFIG names.
	$(KUBECTL) kustomize config/crd | $(KUBECTL_APPLY) -f -

.PHONY: uninstall
uninstall: $(KUBECTL) ## Remove the CRD (and every Memcached) from the cluster.
	$(KUBECTL) kustomize config/crd | $(KUBECTL) delete --ignore-not-found --wait -f -

.PHONY: deploy
deploy: $(KUBECTL) ## Deploy the operator (IMG; MEMCACHED_IMG sets RELATED_IMAGE_MEMCACHED) server-side into memcached-operator-system.
	$(RENDER) config/default $(IMG) '$(MEMCACHED_IMG)' | $(KUBECTL_APPLY) -f -
	@if $(KUBECTL) get --raw /apis/monitoring.coreos.com/v1 2>/dev/null | grep '"name":"prometheusrules"' >/dev/null; then $(KUBECTL) kustomize config/default/alerts | $(KUBECTL_APPLY) -f -; else echo "make deploy: the cluster serves no PrometheusRule (monitoring.coreos.com), so the operator's alerts (config/default/alerts) are not installed; docs/monitoring.md says how to add them later"; fi

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

.PHONY: olm-install
olm-install: $(KUBECTL) ## Install OLM v0 (pinned release manifests, local images pushed to REGISTRY) onto the cluster KUBECONFIG names; waits until ready.
	@test -n '$(REGISTRY)' || { echo "error: no REGISTRY: make kind-up first (it writes REGISTRY to $(KIND_IMAGES_ENV)), or set REGISTRY=host:port" >&2; exit 1; }
	$(require-container-tool)
	test/kind/images.sh olm-images
	@for img in $(LOCAL_OLM_IMG) $(LOCAL_OPM_IMG) $(LOCAL_OLM_EXTRA_IMGS); do \
	  $(CONTAINER_TOOL) tag $$img $(REGISTRY)/$${img##*/}; \
	  $(CONTAINER_TOOL) push -q $(REGISTRY)/$${img##*/} >/dev/null; \
	  echo "pushed $(REGISTRY)/$${img##*/}"; done
	hack/olm-install.sh $(KUBECTL) $(OLM_MANIFESTS) $(REGISTRY)/$(notdir $(LOCAL_OLM_IMG)) $(REGISTRY)/$(notdir $(LOCAL_OPM_IMG))

.PHONY: olm-uninstall
olm-uninstall: $(KUBECTL) ## Remove OLM v0 and everything it installed (its CRs, then OLM, then its CRDs) from the cluster KUBECONFIG names; waits until its API is gone.
	@test -d '$(OLM_MANIFESTS)' || test/cluster/build-olm-tools.sh >/dev/null
	hack/olm-uninstall.sh $(KUBECTL) $(OLM_MANIFESTS)

##@ Images

.PHONY: docker-build
docker-build: ## Build the operator image IMG (docker or podman; after make kind-up, on the bed's dockerd from its local bases).
	$(require-container-tool)
	$(CONTAINER_TOOL) build $(DOCKER_BUILD_ARGS) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image IMG.
	$(require-container-tool)
	$(CONTAINER_TOOL) push $(IMG)

##@ Bundle

.PHONY: bundle
bundle: $(KUBECTL) $(OPERATOR_SDK) ## Generate bundle/ and bundle.Dockerfile from config/ (BUNDLE_DIR moves them; MEMCACHED_IMG sets relatedImages' memcached), then validate them.
	KUBECTL=$(KUBECTL) node hack/generate-bundle.js --version $(VERSION) --img $(IMG) \
	  --channels $(CHANNELS) --default-channel $(DEFAULT_CHANNEL) --created-at $(BUNDLE_CREATED_AT) \
	  --output $(BUNDLE_DIR) --dockerfile $(BUNDLE_DOCKERFILE) $(if $(MEMCACHED_IMG),--memcached-img $(MEMCACHED_IMG))
	$(MAKE) --no-print-directory bundle-validate

.PHONY: bundle-validate
bundle-validate: $(OPERATOR_SDK) ## Validate BUNDLE_DIR with the operatorframework suite (fails on any error or warning) and against OLM v1's limits.
	hack/validate-bundle.sh $(OPERATOR_SDK) $(BUNDLE_DIR)

# The bundle and catalog contexts are exactly their Dockerfile and directory
# (a tar on stdin): no .dockerignore to agree with, whichever builder runs.
.PHONY: bundle-build
bundle-build: ## Build the bundle image BUNDLE_IMG from BUNDLE_DIR.
	$(require-container-tool)
	tar -c $(BUNDLE_DOCKERFILE) $(BUNDLE_DIR) | $(CONTAINER_TOOL) build -q -f $(BUNDLE_DOCKERFILE) -t $(BUNDLE_IMG) -

.PHONY: bundle-push
bundle-push: ## Push the bundle image BUNDLE_IMG.
	$(require-container-tool)
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

# The scorecard in the cluster KUBECONFIG names, with operator-sdk's
# scorecard-test built from the same source as operator-sdk (local image,
# pushed to REGISTRY) and the Debian base as the untar image (it runs tar).
SCORECARD_NAMESPACE ?= default
.PHONY: scorecard
scorecard: $(OPERATOR_SDK) ## Run operator-sdk scorecard on BUNDLE_DIR in the cluster (kind bed: local scorecard-test image via REGISTRY).
	@test -n '$(REGISTRY)' || { echo "error: no REGISTRY: make kind-up first, or set REGISTRY=host:port" >&2; exit 1; }
	$(require-container-tool)
	test/kind/images.sh olm-images
	@for img in memcached-operator.local/scorecard-test:$(OPERATOR_SDK_VERSION) memcached-operator.local/debian:bookworm; do \
	  $(CONTAINER_TOOL) tag $$img $(REGISTRY)/$${img##*/} && $(CONTAINER_TOOL) push -q $(REGISTRY)/$${img##*/} >/dev/null; done
	@mkdir -p .build/scorecard
	sed 's#image: quay.io/operator-framework/scorecard-test:.*#image: $(REGISTRY)/scorecard-test:$(OPERATOR_SDK_VERSION)#' \
	  $(BUNDLE_DIR)/tests/scorecard/config.yaml > .build/scorecard/config.yaml
	$(OPERATOR_SDK) scorecard $(BUNDLE_DIR) --config .build/scorecard/config.yaml -n $(SCORECARD_NAMESPACE) \
	  --untar-image $(REGISTRY)/debian:bookworm --wait-time 300s --output $(or $(SCORECARD_OUTPUT),text)

.PHONY: catalog-build
catalog-build: $(OPM) ## Build a file-based catalog image CATALOG_IMG (opm) publishing CATALOG_BUNDLES (default BUNDLE_IMG, pushed first).
	$(require-container-tool)
	hack/generate-catalog.sh $(CATALOG_DIR) memcached-operator $(DEFAULT_CHANNEL) $(CHANNELS) $(OPM) $(OPM_IMG) $(CATALOG_BUNDLES)
	tar -C $(dir $(CATALOG_DIR)) -c $(notdir $(CATALOG_DIR)).Dockerfile $(notdir $(CATALOG_DIR)) \
	  | $(CONTAINER_TOOL) build -q -f $(notdir $(CATALOG_DIR)).Dockerfile -t $(CATALOG_IMG) -

.PHONY: catalog-push
catalog-push: ## Push the catalog image CATALOG_IMG.
	$(require-container-tool)
	$(CONTAINER_TOOL) push $(CATALOG_IMG)
