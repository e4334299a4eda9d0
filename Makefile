# The two commands of the README:
#   make run    installs what is missing, builds tagline and runs the
#               station's main job on its embedded default (a batch of
#               simulated tags journaled to a bbolt file)
#   make test   installs what is missing and runs the whole test suite,
#               then the package's test (test-deb, about 2 to 4 minutes)
# .ci/run calls `make test`.
#   make deb       builds _build/deb/tagline_<version>_<arch>.deb from HEAD
#   make test-deb  builds it, installs it in a fresh Debian root (debootstrap)
#                  and checks it there (scripts/test-deb.sh; root, network)

GO ?= go
BIN := bin/tagline
VERSION ?= $(shell scripts/version.sh)
LDFLAGS := -X github.com/tagline-station/tagline/cmd.version=$(VERSION) -X github.com/tagline-station/tagline/cmd.commit=$(shell git rev-parse HEAD)

.PHONY: run test setup build vet bench clean deb test-deb

setup:
	@bash scripts/setup.sh

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tagline

run: setup build
	./$(BIN) demo

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	CGO_ENABLED=0 $(GO) build ./...

test: setup vet
	$(GO) test -count=1 -timeout 12m ./...
	@bash scripts/test-deb.sh

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

deb:
	@bash scripts/deb.sh

test-deb:
	@bash scripts/test-deb.sh

clean:
	rm -rf bin _build
