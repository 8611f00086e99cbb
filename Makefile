GO      ?= go
KB      := bin/kb
ADDR    ?= localhost:8080

.PHONY: build run test bench vet clean

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

## bench: the Go benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin public private
