GO ?= go

.PHONY: build test test-race lint fuzz-smoke bench

build:
	$(GO) build -o flowctl ./cmd/flowctl

test:
	$(GO) test ./...

test-race:
	$(GO) test -race -shuffle=on ./...

lint:
	gofmt -l $$(git ls-files '*.go')
	$(GO) vet ./...
	staticcheck ./...

# A short run of every fuzz target; crashers land in testdata/fuzz/.
fuzz-smoke:
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read pkg dir; do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=10s $$pkg || exit 1; \
		done; \
	done

bench:
	$(GO) run ./cmd/flowctl bench
