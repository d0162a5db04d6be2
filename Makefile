# subpub — see README.md. `make demo` and `make test` are the two commands
# a newcomer needs; the others are for development and measurement.

GO        ?= go
BIN       := bin/subpub
FUZZTIME  ?= 5s
# Packages holding fuzz targets, each run for FUZZTIME by `make fuzz`.
FUZZ_PKGS := ./wire ./origin ./origin/activitypub ./edge

.PHONY: all build demo test vet fuzz draft interop bench bench-full bench-peers clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/subpub

## demo: run an origin with demo users, publish, and show subscribers receiving.
demo: build
	./$(BIN) demo

## test: formatting, vet, the race-enabled test suite (interop and draft
## examples included), short fuzz runs, and the draft's build.
test: vet
	$(GO) test -race -timeout 30m ./...
	$(MAKE) fuzz
	$(MAKE) draft

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## fuzz: every fuzz target for FUZZTIME (default 5s).
fuzz:
	@set -e; for pkg in $(FUZZ_PKGS); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg > /tmp/subpub-fuzz.log 2>&1 || { cat /tmp/subpub-fuzz.log; exit 1; }; \
	  done; \
	done

## draft: the Internet-Draft as RFCXML, checked (see draft/README.md).
draft:
	$(MAKE) -C draft

## interop: independent clients (Node, Chromium, curl, nghttp) against the
## origin and the edge; writes the matrix to draft/interop-matrix.md.
interop: build
	SUBPUB_BIN=$(CURDIR)/$(BIN) SUBPUB_INTEROP_MATRIX=$(CURDIR)/draft/interop-matrix.md \
	  $(GO) test -count=1 -v -run '^TestInterop' ./interop/

## bench: a quick side-by-side comparison (a few minutes).
bench: build
	./$(BIN) bench --quick --out benchmarks/results/quick

## bench-full: the full sweep; its report is committed in benchmarks/results/latest.
bench-full: build
	./$(BIN) bench --full --out benchmarks/results/latest

## bench-peers: install nginx with nchan and Varnish, then compare with them too.
bench-peers: build
	./benchmarks/install-peers.sh
	./$(BIN) bench --quick --peers --out benchmarks/results/peers

clean:
	rm -rf bin .data
