# subpub — see README.md. `make demo` and `make test` are the two commands
# a newcomer needs; the others are for development and measurement.

GO        ?= go
BIN       := bin/subpub
BENCH_BIN := bin/subpub-bench
FUZZTIME  ?= 60s
# Packages holding fuzz targets, each run for FUZZTIME by `make fuzz`.
FUZZ_PKGS := ./wire ./origin ./origin/activitypub ./edge

.PHONY: all build demo test vet fuzz draft interop bench bench-full bench-peers chaos survey clean

all: build

## build: the servers' binary, and the benchmarks' beside it (`subpub bench` runs it).
## -buildvcs=auto records the commit, which --version prints, even where
## GOFLAGS turns it off (it is silently left out outside a git clone).
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/subpub
	$(GO) build -buildvcs=auto -o $(BENCH_BIN) ./cmd/subpub-bench

## demo: run an origin with demo users, publish, and show subscribers receiving.
demo: build
	./$(BIN) demo

## test: formatting, vet, the race-enabled test suite (interop and draft
## examples included; every fuzz target replays its seeds and the inputs
## committed under testdata/fuzz), and the draft's build. Every test runs
## (-count=1: no result is taken from Go's test cache, which a clean clone
## on the same machine would share). Deterministic: random fuzzing is
## `make fuzz`.
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) draft

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## fuzz: every fuzz target for FUZZTIME (default 60s), randomly. A failing
## input is written under the package's testdata/fuzz: fix the code, and
## commit the input so that `make test` replays it from then on.
fuzz:
	@set -e; log=$$(mktemp); for pkg in $(FUZZ_PKGS); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg > $$log 2>&1 || { cat $$log; exit 1; }; \
	  done; \
	done; rm -f $$log

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

## bench-full: the full sweep, with the edge's CPU profile of each point; its report is committed in benchmarks/results/latest.
bench-full: build
	./$(BIN) bench --full --profile --out benchmarks/results/latest

## bench-peers: install nginx with nchan and Varnish, then compare with them too.
bench-peers: build
	./benchmarks/install-peers.sh
	./$(BIN) bench --quick --peers --out benchmarks/results/peers

## survey: install the proxies Debian ships (HAProxy, nginx, Caddy, Varnish,
## Apache, h2o, Traffic Server), put each in front of an origin, and write
## what reaches subscribers through it to draft/survey.md (and .json).
survey: build
	./survey/install.sh
	SUBPUB_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/subpub-survey --require-all --out draft/survey.md --json draft/survey.json

## chaos: the fault suite (several minutes): kill -9 of every server under
## 1,000 subscribers, revocation, flooding; its report is committed in
## benchmarks/results/chaos.
chaos: build
	./$(BIN) bench chaos --out benchmarks/results/chaos

clean:
	rm -rf bin .data
