# Portcullis: the two commands are `make run` and `make test` (see README.md).
# Both install the Debian packages they need (as root, skipping what is installed), then build.

BUILD_DIR     ?= build
SAN_BUILD_DIR ?= build-sanitize
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS  ?= 30
BUILD_TYPE    ?= RelWithDebInfo
JOBS          ?= $(shell nproc)
CTEST_JOBS    ?= $(shell nproc)
CMAKE_FLAGS   ?=

# Debian 12 packages: toolchain and libraries, then what the tests and `make run` talk to (`make
# run` resolves for Pebble through Unbound; kdig shows the demo zone).
BUILD_PACKAGES = cmake ninja-build g++ ccache pkg-config make \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev libfmt-dev \
  libspdlog-dev libtoml11-dev libcli11-dev libsqlite3-dev catch2 libexpected-dev libldns-dev libpsl-dev
RUNTIME_PACKAGES = openssl ca-certificates curl pebble libjemalloc2 unbound knot-dnsutils
# What the test suite talks to besides Pebble and Unbound: the customer's authoritative DNS server
# (its RFC 2136 client, knsupdate, comes with kdig), BIND's dig (it sends a question's letter case
# as written, for the 0x20 test), promtool (package prometheus; its daemon is not started) to check
# the /metrics text and the example alert rules, and the dashboard's browser test: Chromium, driven
# by playwright-core under Node.js (Debian 12: node 18; tests/browser/package.json), installed by npm.
TEST_PACKAGES = knot bind9-dnsutils prometheus chromium nodejs npm
# Packages that count as installed when their command is on the PATH: NodeSource's nodejs package
# carries npm and conflicts with Debian's.
COMMAND_PACKAGES = npm
# What only the slow tests use.
SLOW_TEST_PACKAGES = testssl.sh
# The fuzz targets' compiler and runtime.
FUZZ_PACKAGES = clang-14 libfuzzer-14-dev libclang-rt-14-dev
# The benchmark's peers (nginx, HAProxy, Caddy, wrk, h2load) are installed by bench/run.sh itself,
# with service start-up blocked so no package starts a daemon on :80/:443.

.PHONY: all deps build build-binary run test test-slow sanitize fuzz bench bench-smoke clean help

all: build

help:
	@echo "make run        install packages, build, start Portcullis on its embedded defaults"
	@echo "make test       install packages, build, run the test suite (ctest, not [slow])"
	@echo "make test-slow  the slow tests: soak tests and a testssl.sh scan"
	@echo "make sanitize   ASan+UBSan build, unit tests under it"
	@echo "make fuzz       libFuzzer (clang-14): the DNS packet handler, then the HTTP request path,"
	@echo "                each for FUZZ_SECONDS (30)"
	@echo "make bench      benchmark against nginx, HAProxy and Caddy (bench/README.md)"

deps:
	@missing=""; for p in $(BUILD_PACKAGES) $(RUNTIME_PACKAGES) $(EXTRA_PACKAGES); do \
	  case " $(COMMAND_PACKAGES) " in *" $$p "*) command -v $$p >/dev/null 2>&1 && continue;; esac; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  policy=/usr/sbin/policy-rc.d; ours=0; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $$policy >/dev/null; $$SUDO chmod 755 $$policy; ours=1; fi; \
	  rc=0; $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing || rc=$$?; \
	  if [ $$ours = 1 ]; then $$SUDO rm -f $$policy; fi; \
	  exit $$rc; \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) -j $(JOBS)

# The binary alone, for `make run` and `make bench`: neither needs the test programs.
build-binary: deps $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) -j $(JOBS) portcullis

run: build-binary
	@bash examples/local/run.sh $(BUILD_DIR)

test: EXTRA_PACKAGES = $(TEST_PACKAGES)
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(CTEST_JOBS)

test-slow: EXTRA_PACKAGES = $(TEST_PACKAGES) $(SLOW_TEST_PACKAGES)
test-slow: build
	$(BUILD_DIR)/tests/integration_tests "[slow]"

# -g1: line tables and function names, what the sanitizers' reports print; full debug information
# (-g) makes the compile and link of this Asio-heavy code markedly slower and reports no better.
sanitize: deps
	cmake -S . -B $(SAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DPORTCULLIS_SANITIZE=ON
	ninja -C $(SAN_BUILD_DIR) -j $(JOBS) unit_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(SAN_BUILD_DIR)/tests/unit_tests "[unit]~[slow]"

# The fuzz targets, in their own build folder with clang-14, each for FUZZ_SECONDS; new inputs
# libFuzzer finds go to $(FUZZ_BUILD_DIR)/corpus, the seeds in tests/fuzz/corpus are only read.
fuzz: EXTRA_PACKAGES = $(FUZZ_PACKAGES)
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DPORTCULLIS_FUZZ=ON -DBUILD_TESTING=OFF -DPORTCULLIS_JEMALLOC=OFF
	ninja -C $(FUZZ_BUILD_DIR) -j $(JOBS) dns_responder_fuzz request_head_fuzz
	mkdir -p $(FUZZ_BUILD_DIR)/corpus/dns $(FUZZ_BUILD_DIR)/corpus/request_head
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(FUZZ_BUILD_DIR)/tests/fuzz/dns_responder_fuzz \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	  $(FUZZ_BUILD_DIR)/corpus/dns tests/fuzz/corpus/dns
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(FUZZ_BUILD_DIR)/tests/fuzz/request_head_fuzz \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 -dict=tests/fuzz/request_head.dict \
	  $(FUZZ_BUILD_DIR)/corpus/request_head tests/fuzz/corpus/request_head

bench: build-binary
	BUILD_DIR=$(abspath $(BUILD_DIR)) bash bench/run.sh

bench-smoke: build-binary
	BUILD_DIR=$(abspath $(BUILD_DIR)) bash bench/run.sh --smoke

clean:
	rm -rf $(BUILD_DIR) $(SAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
