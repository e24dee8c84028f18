# conveyor's single entry point. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

GO ?= go
# Terraform installs the aws provider from this machine's filesystem mirror.
export TF_CLI_CONFIG_FILE := $(CURDIR)/.cache/terraformrc
TEST_TIMEOUT ?= 75m

.PHONY: help demo demo-services test unit lint bench proto tf-config chaos

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

demo: tf-config ## the push-to-deploy pipeline end to end on the local world (see README)
	$(GO) run ./demo/pipeline

demo-services: ## the services alone against moto, with a few tasks
	$(GO) run ./demo

test: tf-config lint ## every test: unit, moto, terraform, registries, stand-ins
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

unit: ## fast tests only (no moto, terraform or registries)
	$(GO) test -short -count=1 ./...

lint: tf-config ## vet, gofmt, terraform fmt, a tidy go.mod and no committed build output
	$(GO) vet ./...
	$(GO) mod tidy -diff
	scripts/no-build-output.sh
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	terraform fmt -check -recursive infra

chaos: ## the services' fault-injection run, long (CHAOS_DURATION=3m); make test runs a short one
	CONVEYOR_CHAOS_DURATION=$${CHAOS_DURATION:-3m} $(GO) test -count=1 -v -timeout 30m -run TestChaosKeepsEveryPromise ./services/systemtest/

bench: tf-config ## benchmarks with ratios against the peer tools
	bash bench/run.sh

proto: ## regenerate the gRPC code (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
	$(GO) generate ./services/proto

tf-config: .cache/terraformrc
.cache/terraformrc: scripts/terraformrc.sh
	@mkdir -p .cache
	scripts/terraformrc.sh > $@
