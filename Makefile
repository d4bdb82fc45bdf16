# Tasks for working on nctalk. Everything here is plain go/pulumi/bash: read
# a target to see the command it runs. `make help` lists them.

STACK   ?= dev
CONFIG  ?= Pulumi.$(STACK).yaml
SECRETS ?= .nctalk-secrets.yaml

.PHONY: help test unit daemons vm lint tidy render preview ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-9s %s\n", $$1, $$2}'

test: ## every test but the VM's, as CI runs them (root, with the prerequisites .ci/run installs)
	CI=true go test -count=1 -timeout 20m $$(go list ./... | grep -v '/tests/vm$$')

unit: ## the tests that need no daemon, VM or root: rendering, stack (mocks), CLI
	go test ./schema/... ./talk/... ./cloudconfig/... ./infra/... ./cmd/... .

daemons: ## the backend on the real daemons (root)
	go test -count=1 ./tests/...

vm: ## the first boot on a Debian 13 VM under QEMU (root; 20-50 min under TCG)
	CI=true go test -count=1 -timeout 75m -v ./tests/vm

lint: ## gofmt, go vet, staticcheck, actionlint, go mod tidy
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 -color=false
	go mod tidy -diff

tidy: ## go mod tidy
	go mod tidy

render: ## the cloud-config of $(CONFIG) for any cloud (secrets kept in $(SECRETS))
	go run ./cmd/nctalk render --config $(CONFIG) --secrets $(SECRETS)

preview: ## pulumi preview --diff of $(STACK)
	pulumi preview --diff --stack $(STACK)

ci: ## what CI runs on a fresh machine: installs everything, lints, tests (root)
	bash .ci/run
