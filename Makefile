# Thin wrapper around CMake. Every target first makes sure the Debian packages it needs are
# installed: as root it installs them with apt-get, otherwise it prints the exact command.
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
# How long `make fuzz` (and so `make test`) runs each fuzz target; `make fuzz FUZZ_SECONDS=120`
# for a longer run.
FUZZ_SECONDS ?= 5
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
DEPS := g++ cmake ninja-build pkg-config libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev \
        libspdlog-dev libssl-dev libgtest-dev libgmock-dev python3-yaml python3-jsonschema \
        clang-format openssl lua5.4 clang libclang-rt-14-dev curl

.PHONY: all deps build build-asan fuzz fuzz-build test test-fast bench demo image format clean

all: build

deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@test -x /usr/bin/kubectl || test -n "$$(command -v kubectl)" || \
	  echo "note: kubectl not found; the kubectl end-to-end tests will fail"

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWAOP_SANITIZE=ON $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)

# libFuzzer targets (fuzz/), built by clang with ASan and UBSan in a build of their own.
$(FUZZ_DIR)/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWAOP_FUZZ=ON -DWAOP_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_FLAGS)

fuzz-build: deps $(FUZZ_DIR)/build.ninja
	cmake -S . -B $(FUZZ_DIR) -DWAOP_FUZZ_SECONDS=$(FUZZ_SECONDS) > /dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS)

# Runs every fuzz target for FUZZ_SECONDS from its seed corpus (fuzz/corpus/<target>/).
fuzz: fuzz-build
	ctest --test-dir $(FUZZ_DIR) --output-on-failure -j $(JOBS)

# Every test, then the whole suite again under AddressSanitizer + UBSan, then each fuzz target
# briefly.
test: build build-asan fuzz-build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS) --timeout 900
	ctest --test-dir $(FUZZ_DIR) --output-on-failure -j $(JOBS)

# The optimised build only, for quick iteration.
test-fast: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

bench: build
	@for b in $(BUILD_DIR)/tests/bench/*_bench; do \
	  [ -x "$$b" ] || continue; echo "== $$(basename $$b)"; "$$b" || exit 1; done
	@# Again with the server on a core of its own, as an API server runs on machines of its own.
	@if [ "$$(nproc)" -ge 2 ]; then echo "== operator_bench --pin"; \
	  $(BUILD_DIR)/tests/bench/operator_bench --pin; fi

# The whole product on this machine: installs and builds what it needs, starts kube-devserver,
# graph-devserver and the operator, applies crds/ and examples/, shows what happens, and stops
# it all (DEMO_KEEP=1 leaves it running). See scripts/demo.sh.
demo:
	BUILD_DIR=$(BUILD_DIR) scripts/demo.sh

# The container image from the Dockerfile (multi-stage: Debian 12 build, scratch runtime).
IMAGE ?= whatsapp-operator:dev
image:
	@if ! command -v docker >/dev/null 2>&1; then \
	  echo "make image: docker is not installed here; the image was NOT built."; \
	  echo "Build it where Docker runs: docker build -t $(IMAGE) ."; exit 1; \
	elif ! docker info >/dev/null 2>&1; then \
	  echo "make image: docker is installed but no Docker daemon answers here; the image was NOT built."; \
	  echo "Build it where Docker runs: docker build -t $(IMAGE) ."; exit 1; \
	fi
	docker build -t $(IMAGE) .

format: deps
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
