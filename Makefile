# conveyor's single entry point. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

GO ?= go
# Terraform installs the aws provider from this machine's filesystem mirror
# when it has one, else from its registry (scripts/terraformrc.sh).
export TF_CLI_CONFIG_FILE := $(CURDIR)/.cache/terraformrc
# What scripts/tools.sh installs when the machine lacks it; the system's own
# tools come first.
export PATH := $(PATH):$(CURDIR)/.cache/bin:$(CURDIR)/.cache/moto/bin
TEST_TIMEOUT ?= 75m

.PHONY: help demo demo-services test unit lint bench proto tools tf-config chaos

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

demo: tools ## the push-to-deploy pipeline end to end on the local world (see README)
	$(GO) run ./demo/pipeline

demo-services: ## the services alone against moto, with a few tasks
	$(GO) run ./demo

test: tools lint ## every test: unit, moto, terraform, registries, stand-ins
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

unit: ## fast tests only (no moto, terraform or registries)
	$(GO) test -short -count=1 ./...

lint: tools ## vet, gofmt, terraform fmt, a tidy go.mod and no committed build output
	$(GO) vet ./...
	$(GO) mod tidy -diff
	scripts/no-build-output.sh
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	terraform fmt -check -recursive infra

chaos: ## the services' fault-injection run, long (CHAOS_DURATION=3m); make test runs a short one
	CONVEYOR_CHAOS_DURATION=$${CHAOS_DURATION:-3m} $(GO) test -count=1 -v -timeout 30m -run TestChaosKeepsEveryPromise ./services/systemtest/

bench: tools ## benchmarks with ratios against the peer tools
	bash bench/run.sh

proto: ## regenerate the gRPC code (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
	$(GO) generate ./services/proto

tools: ## install what is missing (Terraform, moto) under .cache/ and write .cache/terraformrc
	scripts/tools.sh

tf-config: ## write .cache/terraformrc only (provider mirror, else registry)
	scripts/tools.sh terraformrc
