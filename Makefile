# subpub — see README.md. `make demo` and `make test` are the two commands
# a newcomer needs; the others are for development and measurement.

GO        ?= go
BIN       := bin/subpub
FUZZTIME  ?= 5s
# Packages holding fuzz targets, each run for FUZZTIME by `make fuzz`.
FUZZ_PKGS := ./wire ./origin/activitypub

.PHONY: all build demo test vet fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/subpub

## demo: run an origin with demo users, publish, and show subscribers receiving.
demo: build
	./$(BIN) demo

## test: formatting, vet, the race-enabled test suite, and short fuzz runs.
test: vet
	$(GO) test -race -timeout 20m ./...
	$(MAKE) fuzz

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

clean:
	rm -rf bin .data
