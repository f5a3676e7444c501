# See https://tech.davis-hansson.com/p/make/
SHELL := bash
.DELETE_ON_ERROR:
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --warn-undefined-variables
MAKEFLAGS += --no-builtin-rules
MAKEFLAGS += --no-print-directory

# Pinned tool versions. Bump them here and nowhere else.
#
# protoc-gen-go matches google.golang.org/protobuf in go.mod (`make generate`
# checks this). protoc-gen-go-grpc's output needs grpc >= v1.64.0
# (SupportPackageIsVersion9). staticcheck must support the Go version in go.mod.
# PROTOC_VERSION is the protoc the committed files were generated with; it is
# written into their headers, so another protoc changes them by one line.
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION := v0.8.2
PROTOC_VERSION := 3.21.12
# The grpc-go whose interop server and client `make interop` runs against
# ours: the version in go.mod (`make interop` checks).
GRPC_GO_VERSION := v1.85.0
# The connectrpc conformance suite: its runner is installed at this
# version, and interop/conformance/gen is generated from its .proto files.
CONFORMANCE_VERSION := v1.0.7

# How long `make fuzz` runs each fuzz target, and in which packages.
FUZZTIME ?= 10s
FUZZPKGS ?= ./...

TMP := .tmp
BIN := $(abspath $(TMP)/bin)
EXAMPLE := testdata/example

.PHONY: help
help: ## Describe useful make targets
	@grep -E '^[a-zA-Z_-]+:.*?## .*$$' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "%-16s %s\n", $$1, $$2}'

.PHONY: test
test: lint ## Lint, run all tests with the race detector, then make soak, interop, conformance, h2spec and a short fuzz of each target
	go test -race -shuffle=on -count=1 -timeout=20m ./...
	$(MAKE) soak
	$(MAKE) interop
	$(MAKE) conformance
	$(MAKE) h2spec
	$(MAKE) fuzz FUZZTIME=$(CI_FUZZTIME)

.PHONY: soak
soak: ## Run the soak tests at full size, without the race detector (10,000 streams on a connection, 1,000 connections)
	go test -count=1 -run 'TestSoak' -timeout=10m ./server/

.PHONY: interop
interop: ## Run every interop case both ways against grpc-go's interop server and client, h2c and TLS
	@want="$$(go list -m -f '{{.Version}}' google.golang.org/grpc)"; \
	if [[ "$$want" != "$(GRPC_GO_VERSION)" ]]; then \
		echo "go.mod has google.golang.org/grpc $$want but GRPC_GO_VERSION is $(GRPC_GO_VERSION): bump it in the Makefile" >&2; \
		exit 1; \
	fi
	go run ./interop/run -grpc-go-version=$(GRPC_GO_VERSION) -dir=$(TMP)/interop

.PHONY: conformance
conformance: $(BIN)/connectconformance ## Run the connectrpc conformance suite on our server and our client (no known failures)
	go build -o $(TMP)/conformance/server ./interop/conformance/server
	go build -o $(TMP)/conformance/client ./interop/conformance/client
	$(BIN)/connectconformance --mode server --conf interop/conformance/config.yaml -- $(TMP)/conformance/server
	$(BIN)/connectconformance --mode client --conf interop/conformance/config.yaml -- $(TMP)/conformance/client

.PHONY: h2spec
h2spec: $(BIN)/h2spec ## Run h2spec --strict against our server over h2c and TLS (every case must pass)
	go run ./internal/tools/h2specrun -h2spec=$(BIN)/h2spec

.PHONY: lint
lint: ## Check gofmt -s, go vet and staticcheck
	@unformatted="$$(gofmt -s -l .)"; \
	if [[ -n "$$unformatted" ]]; then \
		echo "gofmt -s would change these files:" >&2; \
		echo "$$unformatted" >&2; \
		exit 1; \
	fi
	go vet ./...
	go build ./$(EXAMPLE)/...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# CI_FUZZTIME is a count, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report a spurious "context deadline exceeded" failure when
# the time runs out on a loaded machine (go.dev/issue/75804, fixed in 1.27).
CI_FUZZTIME ?= 4000x

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 10s) each
	@list="$$(go test -list '^Fuzz' $(FUZZPKGS))"; \
	targets="$$(awk '/^Fuzz[A-Za-z0-9_]*$$/ { names[n++] = $$1; next } \
		/^ok[ \t]/ { for (i = 0; i < n; i++) print $$2, names[i]; n = 0 }' <<<"$$list")"; \
	if [[ -z "$$targets" ]]; then echo "no fuzz targets found"; exit 0; fi; \
	while read -r pkg name; do \
		echo "go test -run='^$$' -fuzz='^$$name\$$' -fuzztime=$(FUZZTIME) $$pkg"; \
		go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
	done <<<"$$targets"

.PHONY: generate
generate: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc ## Regenerate testdata/example and interop/conformance/gen (needs protoc)
	@want="$$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"; \
	if [[ "$$want" != "$(PROTOC_GEN_GO_VERSION)" ]]; then \
		echo "go.mod has google.golang.org/protobuf $$want but PROTOC_GEN_GO_VERSION is $(PROTOC_GEN_GO_VERSION): bump it in the Makefile" >&2; \
		exit 1; \
	fi
	@if ! command -v protoc >/dev/null; then \
		if [[ "$$(id -u)" == 0 ]]; then \
			echo "protoc not found: installing Debian's protobuf-compiler"; \
			apt-get update -qq; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler; \
		else \
			echo "protoc not found: install it (Debian: sudo apt-get install -y protobuf-compiler) and rerun make generate" >&2; \
			exit 1; \
		fi; \
	fi
	@have="$$(protoc --version | awk '{print $$2}')"; \
	if [[ "$$have" != "$(PROTOC_VERSION)" ]]; then \
		echo "warning: protoc is $$have, the committed files were made with $(PROTOC_VERSION); their headers will change" >&2; \
	fi
	protoc -I $(EXAMPLE) \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go \
		--plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
		--go_out=$(EXAMPLE) --go_opt=paths=source_relative \
		--go-grpc_out=$(EXAMPLE) --go-grpc_opt=paths=source_relative \
		$(EXAMPLE)/example.proto
	go build ./$(EXAMPLE)/...
	interop/conformance/generate.sh \
		"$$(go mod download -json connectrpc.com/conformance@$(CONFORMANCE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')" $(BIN)
	go build ./interop/conformance/gen/...

.PHONY: clean
clean: ## Remove the local tool directory (.tmp)
	rm -rf $(TMP)

# The plugins depend on the Makefile so that bumping a version reinstalls them.
# h2spec has no go.mod of its own: its version, and its dependencies', are
# pinned in the tools module internal/tools/h2spec.
$(BIN)/h2spec: internal/tools/h2spec/go.mod internal/tools/h2spec/go.sum
	@mkdir -p $(@D)
	go build -C internal/tools/h2spec -o $@ github.com/summerwind/h2spec/cmd/h2spec

$(BIN)/connectconformance: Makefile
	@mkdir -p $(@D)
	GOBIN=$(@D) go install connectrpc.com/conformance/cmd/connectconformance@$(CONFORMANCE_VERSION)
	@touch $@

$(BIN)/protoc-gen-go: Makefile
	@mkdir -p $(@D)
	GOBIN=$(@D) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@touch $@

$(BIN)/protoc-gen-go-grpc: Makefile
	@mkdir -p $(@D)
	GOBIN=$(@D) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@touch $@

# benchstat for `make bench`. golang.org/x/perf has no release tags, so this
# is a pseudo-version: what `go list -m golang.org/x/perf@latest` answered
# when it was pinned. Bump it here.
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da

.PHONY: bench
bench: ## Measure h2grpc against grpc-go (separate processes, one process, memory, TCP floor): .tmp/bench/results.{md,json}
	@mkdir -p $(TMP)/bench
	go build -o $(TMP)/bench/h2bench ./benchmark/cmd/h2bench
	$(TMP)/bench/h2bench -out=$(TMP)/bench

.PHONY: bench-quick
bench-quick: ## Run every benchmark workload once, briefly (a smoke test of the harness, under a minute)
	@mkdir -p $(TMP)/bench
	go build -o $(TMP)/bench/h2bench ./benchmark/cmd/h2bench
	$(TMP)/bench/h2bench -quick -out=$(TMP)/bench/quick

.PHONY: bench-go
bench-go: ## Run the Go benchmarks of benchmark/ (one process, example service, for profiling) with benchstat
	@mkdir -p $(TMP)
	go test -run='^$$' -bench=. -benchmem -count=5 ./benchmark/ | tee $(TMP)/bench.txt
	go run golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION) $(TMP)/bench.txt
