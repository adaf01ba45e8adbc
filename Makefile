# husk: build, demo, lint, test and benchmark. GNU make.
#
#   make demo    install what is missing, build, run a busybox container
#   make test    deps + build + lint + unit and integration tests (as root)
#   make bench   husk against runc and crun (whichever work on this host)

export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 1

GO          ?= go
BIN         := bin/husk
GOTAGS      := osusergo netgo
GOLDFLAGS   := -s -w -extldflags '-static'
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT ?= 15m

# Everything that can change the binary; *_test.go files cannot.
SOURCES := $(shell find . \( -path ./.git -o -path ./bin -o -path ./_demo \) -prune -o \
	-type f \( -name '*.go' -o -name '*.c' -o -name '*.h' \) ! -name '*_test.go' -print) \
	go.mod $(wildcard go.sum)

.PHONY: all build deps deps-base demo test unit integration test-vm lint bench clean

all: build

build: $(BIN)

$(BIN): $(SOURCES)
	@mkdir -p $(@D)
	$(GO) build -trimpath -tags "$(GOTAGS)" -ldflags "$(GOLDFLAGS)" -o $@ .

# deps-base: what build and demo need; deps: also what tests and bench use.
deps-base:
	@scripts/deps.sh

deps:
	@scripts/deps.sh --test

demo: deps-base build
	@if [ "$$(id -u)" -ne 0 ]; then echo "make demo: containers need root: run 'sudo make demo'" >&2; exit 1; fi
	@set -eu; \
	dir='$(CURDIR)/_demo'; id="demo-$$$$"; \
	rm -rf --one-file-system "$$dir"; \
	trap '$(CURDIR)/$(BIN) --root "$$dir/state" delete -f "$$id" >/dev/null 2>&1 || true; rm -rf --one-file-system "$$dir"' EXIT; \
	scripts/mkbundle.sh "$$dir/bundle"; \
	echo "+ $(BIN) --root _demo/state run --bundle _demo/bundle $$id"; \
	$(BIN) --root "$$dir/state" run --bundle "$$dir/bundle" "$$id"

lint:
	@files=$$(gofmt -l .) || exit 1; \
	if [ -n "$$files" ]; then echo "gofmt: these files need 'gofmt -w':" >&2; echo "$$files" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

test: deps build lint unit integration test-vm

unit:
	@pkgs=$$($(GO) list ./...) || exit 1; \
	pkgs=$$(echo "$$pkgs" | grep -v '/tests$$' || true); \
	if [ -z "$$pkgs" ]; then echo "unit: no packages"; exit 0; fi; \
	echo "$(GO) test -count=1 <packages but ./tests>"; \
	$(GO) test -count=1 $$pkgs

# The suite needs root for most of it and skips what it cannot do without.
integration: export HUSK_BIN := $(CURDIR)/$(BIN)
integration: build
ifneq ($(wildcard tests/*.go),)
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./tests/
else
	@echo "integration: no tests in tests/ yet"
endif

# The cgroup v2 suite (tests/vm) in a QEMU VM under software emulation: the
# host has cgroup v1. husk only by default: runc, the reference
# (VM_RUNTIMES="husk runc"), now and then hangs there and would stall CI.
test-vm: export HUSK_BIN := $(CURDIR)/$(BIN)
test-vm: export VM_EXPECT_CGROUPS ?= 1
test-vm: export VM_RUNTIMES ?= husk
test-vm: build
	scripts/vm/run.sh

bench: deps build
	scripts/bench.sh

clean:
	rm -rf bin _demo
