# husk: build, demo, lint, test and benchmark. GNU make.
#
#   make demo    install what is missing, build, run a busybox container
#   make test    deps + build + lint + unit and integration tests (as root)
#   make bench   husk against runc and crun (whichever work on this host)

export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 1

GO          ?= go
BIN         := bin/husk
GOTAGS      := osusergo netgo urfave_cli_no_docs
GOLDFLAGS   := -s -w -extldflags '-static'
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT ?= 9m

# Everything that can change the binary; *_test.go files cannot.
SOURCES := $(shell find . \( -path ./.git -o -path ./bin -o -path ./_demo -o -path ./_conformance -o -path ./_profile -o -path ./_vm \) -prune -o \
	-type f \( -name '*.go' -o -name '*.c' -o -name '*.h' \) ! -name '*_test.go' -print) \
	go.mod $(wildcard go.sum)

.PHONY: all build deps deps-base deps-engines demo test unit fuzz integration conformance test-engines test-vm lint bench bench-profile clean

all: build

build: $(BIN)

# The linker writes its output through a shared mapping, which leaves the
# file in the page cache as large folios; the kernel maps a large folio
# whole when a process touches any page of it, so every husk process of
# a freshly linked binary would look megabytes larger than one of an
# installed binary. Copying it, as installing does, leaves ordinary pages;
# the rename keeps running husk processes off the new file.
# bin/husk-profile (for make bench-profile) also has the profiler.
$(BIN) $(BIN)-profile: $(SOURCES)
	@mkdir -p $(@D)
	$(GO) build -trimpath -tags "$(GOTAGS)$(if $(filter %-profile,$@), huskprofile)" -ldflags "$(GOLDFLAGS)" -o $@.linked .
	cp $@.linked $@.new && mv -f $@.new $@ && rm -f $@.linked

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
	$(GO) vet -tags huskprofile .
	$(GO) run $(STATICCHECK) ./...

# Every stage has a hard time limit (STAGE: timeout -k), so a hang fails the
# stage instead of stalling CI.
STAGE := timeout -k 30
FUZZTIME ?= 5s

test: deps build lint unit fuzz integration conformance test-engines test-vm

unit:
	@pkgs=$$($(GO) list ./...) || exit 1; \
	pkgs=$$(echo "$$pkgs" | grep -v -e '/tests$$' -e '/tests/engines$$' || true); \
	if [ -z "$$pkgs" ]; then echo "unit: no packages"; exit 0; fi; \
	echo "$(GO) test -count=1 <packages but ./tests>"; \
	$(STAGE) 300 $(GO) test -count=1 -timeout 4m $$pkgs

# A short run of every fuzz target (FUZZTIME each); the checked-in corpus
# under testdata/fuzz runs in 'make unit' too. fuzz.sh bounds each target (FUZZTIME plus 3 minutes).
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# The suite needs root for most of it and skips what it cannot do without.
integration: export HUSK_BIN := $(CURDIR)/$(BIN)
integration: build
ifneq ($(wildcard tests/*.go),)
	$(STAGE) 600 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./tests/
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
	$(STAGE) 600 scripts/vm/run.sh

# The OCI runtime-tools validation suite against bin/husk (RUNTIME=... for
# another runtime); expected failures are listed in tests/conformance/EXPECTED.md.
conformance: export RUNTIME ?= $(CURDIR)/$(BIN)
conformance: build
	$(STAGE) 600 scripts/conformance.sh

# Docker, podman and containerd with bin/husk as their runtime.
deps-engines:
	@scripts/deps.sh --engines

test-engines: export HUSK_BIN := $(CURDIR)/$(BIN)
test-engines: deps-engines build
	$(STAGE) 600 $(GO) test -count=1 -timeout 8m -v ./tests/engines/

bench: deps build
	scripts/bench.sh

# CPU profile and syscall summary of one lifecycle, under _profile/.
# The profile is taken of bin/husk-profile: bin/husk leaves runtime/pprof
# (and with it the Go runtime's memory profiling) out.
bench-profile: deps $(BIN)-profile
	scripts/bench-profile.sh

clean:
	rm -rf bin _demo _profile _conformance
