# Makefile - the README's two commands and their parts.
#   make run     install what is missing, build, start everything (data in var/)
#   make test    build and run every test suite (own Redis/FerretDB on free ports)
#   make test SANITIZE=1   the same with every C program built with ASan+UBSan
#   make chaos   the long chaos run (docs/RELIABILITY.md)
#   make fuzz    the libFuzzer harnesses, FUZZ_SECONDS each (docs/RELIABILITY.md)
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
# make fuzz: seconds per harness (4 harnesses; 360 s each gave > 10 million executions
# in total on a 2-core machine, docs/RELIABILITY.md); make test-fuzz: executions per
# harness over its checked-in corpus
FUZZ_SECONDS ?= 360
FUZZ_RUNS ?= 20000
SANITIZE ?= 0
PYTEST ?= python3 -m pytest
PYTEST_ARGS ?=
ifeq ($(SANITIZE),1)
TEST_BUILD := $(ASAN_DIR)
else
TEST_BUILD := $(BUILD_DIR)
endif
export PATH := $(CURDIR)/.tools/bin:$(PATH):/usr/local/go/bin

.PHONY: run test deps deps-test build build-asan web test-unit test-integration \
        test-web test-e2e test-compose test-fuzz build-fuzz fuzz chaos bench clean

run: deps build web
	python3 deploy/stack.py run --build-dir $(BUILD_DIR)

deps:
	@deploy/install-deps.sh

deps-test:
	@deploy/install-deps.sh --test

build:
	@echo "==> building C programs ($(BUILD_DIR))"
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_DIR)

build-asan:
	@echo "==> building C programs with ASan+UBSan ($(ASAN_DIR))"
	@cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCHAT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_DIR)

build-fuzz:
	@echo "==> building the libFuzzer harnesses with clang, ASan+UBSan ($(FUZZ_DIR))"
	@cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHAT_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_DIR)

web:
	@if [ -f web/package.json ]; then echo "==> building the web client"; \
	  (cd web && npm run build --silent); fi

test: deps-test build build-asan
	@set -o pipefail; failed=""; \
	$(MAKE) --no-print-directory test-unit || failed="$$failed unit"; \
	$(MAKE) --no-print-directory test-integration || failed="$$failed integration"; \
	$(MAKE) --no-print-directory test-web || failed="$$failed web"; \
	$(MAKE) --no-print-directory test-e2e || failed="$$failed e2e"; \
	$(MAKE) --no-print-directory test-compose || failed="$$failed compose"; \
	$(MAKE) --no-print-directory test-fuzz || failed="$$failed fuzz"; \
	if [ -n "$$failed" ]; then echo "==> FAILED suites:$$failed"; exit 1; fi; \
	echo "==> all suites passed"

test-unit:
	@echo "==> unit tests (ctest, $(BUILD_DIR) and $(ASAN_DIR))"
	@python3 tests/harness/with_services.py -- ctest --test-dir $(BUILD_DIR) --output-on-failure
	@ASAN_OPTIONS=detect_leaks=1 python3 tests/harness/with_services.py -- ctest --test-dir $(ASAN_DIR) --output-on-failure

test-integration:
	@echo "==> integration tests (pytest against real lighttpd, gateways, Redis, FerretDB)"
	@CHAT_BUILD_DIR=$(CURDIR)/$(TEST_BUILD) CHAT_ASAN_BUILD_DIR=$(CURDIR)/$(ASAN_DIR) \
	  $(PYTEST) tests/integration tests/chaos/test_verifier.py -q -p no:cacheprovider $(PYTEST_ARGS)

test-web:
	@if [ -f web/package.json ]; then echo "==> web unit tests (vitest)"; \
	  (cd web && npm test --silent); fi

test-e2e:
	@if [ -f web/package.json ]; then echo "==> end-to-end tests (chromium)"; \
	  (cd web && CHAT_BUILD_DIR=$(CURDIR)/$(TEST_BUILD) npm run e2e --silent); fi

test-compose:
	@echo "==> container files (offline checks)"
	@$(PYTEST) tests/static -q -p no:cacheprovider

test-fuzz: build-fuzz
	@echo "==> fuzz harnesses on their corpus ($(FUZZ_RUNS) executions each)"
	@python3 tests/fuzz/run.py --build-dir $(FUZZ_DIR) --runs $(FUZZ_RUNS)

fuzz: deps-test build-fuzz
	@echo "==> fuzzing, $(FUZZ_SECONDS) s per harness"
	@python3 tests/fuzz/run.py --build-dir $(FUZZ_DIR) --seconds $(FUZZ_SECONDS)

chaos: deps-test build
	CHAT_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) python3 tests/chaos/chaos.py --long

bench: deps-test build
	bench/run.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
