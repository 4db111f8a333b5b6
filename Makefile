# libhomelab: the two commands a new machine needs.
#
#   make run    install what is missing, build, create the default database
#               with the demo inventory if there is none, run homelab-mcpd
#   make test   install what is missing, build, run every test (also under
#               AddressSanitizer + UndefinedBehaviorSanitizer), the daemon's
#               tests under ThreadSanitizer, then the fuzzers (fixed seed and runs)
#
# Everything else is plain CMake underneath (build/ and build-asan/).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
PREFIX     ?= /usr/local

HOMELAB = $(BUILD)/homelab

# Quiet by default: one line a build, the log kept beside it (V=1 shows all).
MAKEFLAGS += --no-print-directory
ifeq ($(V),1)
configure = cmake -S . -B $(1) $(2)
compile = cmake --build $(1) -j $(JOBS) $(2)
else
configure = mkdir -p $(1) && cmake -S . -B $(1) $(2) >$(1)/configure.log 2>&1 || \
	{ cat $(1)/configure.log; echo "configuring $(1) failed (log: $(1)/configure.log)"; exit 1; }
compile = cmake --build $(1) -j $(JOBS) $(2) >$(1)/build.log 2>&1 && echo "built $(1) (log: $(1)/build.log)" || \
	{ grep -E -B2 -A8 'error|Error' $(1)/build.log | tail -60; echo "build of $(1) failed (log: $(1)/build.log)"; exit 1; }
endif

.PHONY: all deps build run test test-fast test-asan test-tsan test-fuzz fuzz-build fuzz bench bench-mcp bench-ssh install clean

all: build

deps:
	@./scripts/install-deps.sh
	@if [ -x scripts/install-npm-deps.sh ]; then ./scripts/install-npm-deps.sh; fi

$(BUILD)/CMakeCache.txt:
	@$(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS))

build: deps $(BUILD)/CMakeCache.txt
	@$(call compile,$(BUILD))

# The default database is $HOMELAB_DB_PATH, else $XDG_DATA_HOME/homelab/homelab.db.
# homelab-mcpd listens on $MCP_HOST:$MCP_PORT (127.0.0.1:8080) and prints how
# to connect Open WebUI and Claude Desktop; Ctrl-C stops it.
run: build
	@db=$$($(HOMELAB) db path) || exit 1; \
	if [ ! -e "$$db" ]; then \
		echo "creating $$db with the demo inventory (loopback addresses only)"; \
		$(HOMELAB) db init --demo || exit 1; \
	fi; \
	$(HOMELAB) vms list; \
	exec $(BUILD)/homelab-mcpd --db "$$db"

test: build test-fast test-asan test-tsan test-fuzz

test-fast:
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	@$(call configure,$(ASAN_BUILD),-DCMAKE_BUILD_TYPE=Debug -DHOMELAB_SANITIZE=ON -DHOMELAB_BENCH=OFF $(CMAKE_ARGS))
	@$(call compile,$(ASAN_BUILD))
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# The multi-threaded daemon under ThreadSanitizer, through its test suite.
test-tsan: deps
	@$(call configure,$(TSAN_BUILD),-DCMAKE_BUILD_TYPE=Debug -DHOMELAB_TSAN=ON -DHOMELAB_BENCH=OFF $(CMAKE_ARGS))
	@$(call compile,$(TSAN_BUILD),--target homelab_cli homelab_mcpd hl_conformance_fixtures)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'pytest/mcp'

# libFuzzer targets (clang): the seed corpus, then a fixed number of runs with
# a fixed seed, so a slow machine does the same work as a fast one.
test-fuzz: fuzz-build
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz-build: deps
	@export CC=clang; $(call configure,$(FUZZ_BUILD),-DCMAKE_BUILD_TYPE=Debug -DHOMELAB_FUZZ=ON -DHOMELAB_TESTS=OFF -DHOMELAB_BENCH=OFF $(CMAKE_ARGS))
	@$(call compile,$(FUZZ_BUILD))

# Explore: each target for FUZZ_SECONDS with a random seed; what it finds is
# kept in $(FUZZ_BUILD)/explore/NAME, a crash as $(FUZZ_BUILD)/explore/crash-*.
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	@for t in args ip fernet jw rpc edge modelfile gpu ndjson escape complete peer uritmpl; do \
		mkdir -p $(FUZZ_BUILD)/explore/$$t && \
		echo "fuzz_$$t for $(FUZZ_SECONDS) s" && \
		$(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=$(FUZZ_BUILD)/explore/ -print_final_stats=1 \
			$(FUZZ_BUILD)/explore/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

bench: build
	$(BUILD)/bench/bench_inventory
	/usr/bin/python3 bench/mcpd_calls.py $(BUILD)
	@$(MAKE) bench-mcp
	@$(MAKE) bench-ssh

# homelab-mcpd against an official-SDK peer and a bare CivetWeb ceiling, on
# 127.0.0.1 (bench/README.md). BENCH_SECONDS per cell, the 64-connection run
# for BENCH_LONG_SECONDS, the soak at 16 connections for BENCH_SOAK_SECONDS.
BENCH_SECONDS      ?= 5
BENCH_LONG_SECONDS ?= 60
BENCH_SOAK_SECONDS ?= 600
bench-mcp: build
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_LONG_SECONDS=$(BENCH_LONG_SECONDS) BENCH_SOAK_SECONDS=$(BENCH_SOAK_SECONDS) \
		/usr/bin/python3 bench/mcp_bench.py $(BUILD)

# 100 sequential commands on a private sshd on 127.0.0.1: libhomelab's kept
# session, homelab-mcpd --stdio, OpenSSH's ssh per command and the npm
# ssh-mcp 2.11 peer (installed into the build tree from npm).
SSH_BENCH_N ?= 100
bench-ssh: build
	/usr/bin/python3 bench/ssh_bench.py $(BUILD) -n $(SSH_BENCH_N) --install-peer

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
