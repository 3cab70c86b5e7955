# netutil-fs: run `make help` for the targets.
GO            ?= go
CONTAINER_TOOL ?= podman
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE         ?= localhost/netutil-fs:$(VERSION)
APP_IMAGE     ?= localhost/netutil-app:$(VERSION)
LDFLAGS       := -s -w -X main.version=$(VERSION)
BINARIES      := bin/netutil-fs bin/netutil-client

.PHONY: all build deps test load lint cover fuzz bench image e2e demo demo-stop clean help

all: build ## Build bin/netutil-fs and bin/netutil-client (default)

build: $(BINARIES) ## Build the static binaries into bin/

bin/%: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/$*

.PHONY: FORCE
FORCE:

deps: ## Install the missing Debian packages the tests use, fetch Go modules
	bash hack/deps.sh

test: deps ## Run every test with the race detector (mounts for real as root)
	$(GO) test -race -count=1 ./...

load: deps ## The full load: 64 readers x 100,000 reads each (about half an hour on 2 cores)
	NETUTIL_LOAD_READS=$${NETUTIL_LOAD_READS:-100000} $(GO) test -count=1 -timeout 6h -run '^TestLoad$$' -v ./tests/

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1 ./...

cover: ## Test with coverage and write cover.html
	$(GO) test -count=1 -coverprofile=cover.out ./...
	$(GO) tool cover -html=cover.out -o cover.html

fuzz: ## Fuzz each parser for FUZZTIME (default 2m) each
	bash hack/fuzz.sh $${FUZZTIME:-2m}

bench: build ## Measure reads against tmpfs and lxcfs, print the table
	bash bench/run.sh

image: build ## Build the sidecar and example-app images with $(CONTAINER_TOOL)
	bash hack/image.sh "$(CONTAINER_TOOL)" "$(IMAGE)" "$(APP_IMAGE)"

e2e: ## End-to-end on a real single-node Kubernetes (builds it on first use)
	bash e2e/run.sh

demo: build ## Mount over the shipped sample podinfo at /tmp/netutil-demo (root)
	bash hack/demo.sh

demo-stop: ## Unmount the demo
	-kill $$(cat $${DEMO_MNT:-/tmp/netutil-demo}.pid) 2>/dev/null

clean: ## Remove built binaries and test output
	rm -rf bin cover.out cover.html

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'
