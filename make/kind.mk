# The kind test bed (test/kind): real containers, offline. Included by the
# Makefile. kind.sh does the rest: prepare (CI builds the bed in the
# background), load IMAGE, registry. See docs/install.md.

KIND_STATE_DIR ?= $(CURDIR)/.kind
export KIND_STATE_DIR
KIND_CLUSTER_NAME ?= memcached-operator-e2e
export KIND_CLUSTER_NAME
KIND_IMAGES_ENV := $(KIND_STATE_DIR)/images.env

# After make kind-up: the test bed's docker socket, and the local base images
# that make docker-build passes to the Dockerfile (DOCKER_BUILD_ARGS), with
# the legacy builder (no BuildKit frontend to fetch: offline), so the one
# docker-build target builds on the bed too.
ifneq ($(wildcard $(KIND_IMAGES_ENV)),)
KIND_DOCKER_HOST := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$DOCKER_HOST")
KIND_BUILD_IMAGE := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$BUILD_IMAGE")
KIND_RUNTIME_IMAGE := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$RUNTIME_IMAGE")
KIND_MEMCACHED_IMG := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$MEMCACHED_IMG")
KIND_REGISTRY := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$REGISTRY")
KIND_OLM_IMG := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$OLM_IMG")
KIND_OPM_IMG := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$OPM_IMG")
KIND_SCORECARD_IMG := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$SCORECARD_IMG")
# The registry serves HTTPS from the bed's test CA: the Go tools the recipes
# run (opm, operator-sdk) trust it through SSL_CERT_FILE (system CAs + it).
KIND_REGISTRY_CA_BUNDLE := $(shell . '$(KIND_IMAGES_ENV)' && echo "$$REGISTRY_CA_BUNDLE")
ifneq ($(KIND_REGISTRY_CA_BUNDLE),)
SSL_CERT_FILE ?= $(KIND_REGISTRY_CA_BUNDLE)
export SSL_CERT_FILE
endif
ifneq ($(KIND_DOCKER_HOST),)
DOCKER_HOST ?= $(KIND_DOCKER_HOST)
export DOCKER_HOST
endif
DOCKER_BUILD_ARGS ?= --build-arg BUILD_IMAGE=$(KIND_BUILD_IMAGE) --build-arg RUNTIME_IMAGE=$(KIND_RUNTIME_IMAGE)
DOCKER_BUILDKIT ?= 0
export DOCKER_BUILDKIT
endif
DOCKER_BUILD_ARGS ?=

##@ kind test bed

.PHONY: kind-up
kind-up: ## Start the kind test bed (dockerd, cached offline images, 1+3 nodes); writes .kind/kubeconfig and .kind/images.env. Root.
	IMG='$(IMG)' test/kind/kind.sh up

.PHONY: kind-down
kind-down: ## Delete the kind cluster and stop the dockerd that kind-up started.
	test/kind/kind.sh down

.PHONY: kind-clean
kind-clean: ## kind-down (even if other kind clusters use its dockerd), then remove the test bed's caches (keeps the Go tools).
	test/kind/kind.sh clean
