GO      ?= go
KB      := bin/kb
ADDR    ?= localhost:8080

.PHONY: build run test bench clean

## build: compile the kb command into bin/kb
build:
	$(GO) build -o $(KB) ./cmd/kb

## run: build the site and serve it with the signup handler on http://$(ADDR)
run: build
	$(KB) serve --addr $(ADDR) --base-url http://$(ADDR)/

## test: vet, then every test (PostgreSQL tests need KB_TEST_POSTGRES; .ci/run sets it)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	@echo "test: browser screenshots in $${KB_SCREENSHOTS:-$(CURDIR)/test-artifacts/screenshots}"

## bench: every benchmark, several runs each, summarised in BENCHMARKS.md (takes about an hour;
##        BENCH_QUICK=1 skips the 10,000-guide and 1,000,000-subscriber sizes;
##        BENCH_PARTS="signup" BENCH_RAW=/tmp/kb-bench.XXXX redoes one part of an earlier run)
bench:
	bash scripts/bench.sh

clean:
	rm -rf bin public private
