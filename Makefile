# Liaison — developer commands. `make test` is what CI runs.
GO       ?= go
FERRETDB := $(CURDIR)/bin/ferretdb-test
# staticcheck, pinned: `go run pkg@version` fetches it into the module cache
# (no global install, nothing added to go.mod), so a clean clone runs it.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run demo build test deps vet test-go test-e2e ferretdb bench lint clean

run demo:
	$(GO) run . demo

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/liaison .

# Everything: formatting, vet and staticcheck, Go tests with the race
# detector (SQLite, FerretDB for the MongoDB backend, API, rules engine,
# push), then the browser tests in headless Chromium. `deps` first installs
# what the browser tests need (chromium, a font, Node.js) or stops at once
# naming it.
test: deps vet test-go test-e2e

deps:
	@scripts/deps.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

test-go: ferretdb
	LIAISON_REQUIRE_MONGO=1 LIAISON_FERRETDB_BIN=$(FERRETDB) $(GO) test -race -count=1 -timeout 20m ./...

test-e2e: deps
	cd e2e && npm ci --no-audit --no-fund --loglevel=error && npm test

ferretdb:
	scripts/ferretdb.sh build

bench:
	scripts/bench.sh

lint: vet

clean:
	rm -rf bin e2e/.bin test-artifacts
