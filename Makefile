# driftwatch — build, test and benchmark. `make check` is what CI runs (via .ci/run).

CC        ?= cc
PKG_CONFIG ?= pkg-config
BUILD     ?= build

CFLAGS    ?= -O2 -g
BASEFLAGS := -std=gnu17 -Wall -Wextra -Werror -D_GNU_SOURCE -Ilib
SANFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

LIB_PKGS  := openssl tss2-esys tss2-mu tss2-rc tss2-tctildr
CLI_PKGS  := $(LIB_PKGS) jansson libcurl
TEST_PKGS := check
VERIFIER_PKGS := $(CLI_PKGS) libmicrohttpd gnutls sqlite3
CURL_PKGS := libcurl
# The monitor speaks HTTPS with libssl itself (monitor/https-client.h says why not libcurl).
MONITOR_PKGS := $(LIB_PKGS) jansson libsystemd

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

LIB_SRCS  := $(sort $(wildcard lib/*.c))
LIB_HDRS  := $(wildcard lib/*.h)
CLI_SRCS  := $(sort $(wildcard cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_HELPERS := $(filter-out tests/unit/test-%.c,$(wildcard tests/unit/*.c))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
VERIFIER_SRCS := $(sort $(wildcard verifier/*.c))
VERIFIER_HDRS := $(wildcard verifier/*.h)
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
MONITOR_SRCS := $(sort $(wildcard monitor/*.c))
MONITOR_HDRS := $(wildcard monitor/*.h)
# Everything of a daemon but its main.c, as an archive: unit tests and test tools link what they use of it.
MONITOR_CORE  := $(filter-out monitor/main.c,$(MONITOR_SRCS))
VERIFIER_CORE := $(filter-out verifier/main.c,$(VERIFIER_SRCS))

# Two flavours of the pure core: the normal one, and one under ASan+UBSan for the unit tests.
LIB_OBJS      := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS_SAN  := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
LIBDW         := $(BUILD)/libdriftwatch.a
LIBDW_SAN     := $(BUILD)/san/libdriftwatch.a

CLI           := $(BUILD)/driftwatch
VERIFIER      := $(if $(VERIFIER_SRCS),$(BUILD)/driftwatch-verifier)
VERIFIER_SAN  := $(if $(VERIFIER_SRCS),$(BUILD)/san/driftwatch-verifier)
CLI_SAN       := $(BUILD)/san/driftwatch
MONITOR       := $(if $(MONITOR_SRCS),$(BUILD)/driftwatch-monitor)
MONITOR_SAN   := $(if $(MONITOR_SRCS),$(BUILD)/san/driftwatch-monitor)
LIBMON        := $(BUILD)/libmonitor.a
LIBMON_SAN    := $(BUILD)/san/libmonitor.a
LIBVER        := $(BUILD)/libverifier.a
LIBVER_SAN    := $(BUILD)/san/libverifier.a
UNIT_BINS     := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_BINS_SAN := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/san/tests/%)
BENCH_BINS    := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
TOOL_BINS     := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)

.PHONY: all deps check check-unit check-unit-san check-cli bench clean format demo

all: $(LIBDW) $(CLI) $(VERIFIER) $(MONITOR)

$(BUILD)/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(call pc_cflags,$(CLI_PKGS) $(CURL_PKGS)) -c $< -o $@

$(BUILD)/verifier/%.o: verifier/%.c $(LIB_HDRS) $(VERIFIER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iverifier $(CFLAGS) $(call pc_cflags,$(VERIFIER_PKGS)) -c $< -o $@

$(BUILD)/driftwatch-verifier: $(VERIFIER_SRCS:%.c=$(BUILD)/%.o) $(LIBDW)
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(VERIFIER_PKGS)) -lpthread

$(BUILD)/san/verifier/%.o: verifier/%.c $(LIB_HDRS) $(VERIFIER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iverifier $(SANFLAGS) $(call pc_cflags,$(VERIFIER_PKGS)) -c $< -o $@

$(BUILD)/san/driftwatch-verifier: $(VERIFIER_SRCS:%.c=$(BUILD)/san/%.o) $(LIBDW_SAN)
	$(CC) $(SANFLAGS) -o $@ $^ $(call pc_libs,$(VERIFIER_PKGS)) -lpthread

$(BUILD)/monitor/%.o: monitor/%.c $(LIB_HDRS) $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Imonitor $(CFLAGS) $(call pc_cflags,$(MONITOR_PKGS)) -c $< -o $@

$(BUILD)/san/monitor/%.o: monitor/%.c $(LIB_HDRS) $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Imonitor $(SANFLAGS) $(call pc_cflags,$(MONITOR_PKGS)) -c $< -o $@

$(BUILD)/driftwatch-monitor: $(BUILD)/monitor/main.o $(LIBMON) $(LIBDW)
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(MONITOR_PKGS)) -lpthread

$(BUILD)/san/driftwatch-monitor: $(BUILD)/san/monitor/main.o $(LIBMON_SAN) $(LIBDW_SAN)
	$(CC) $(SANFLAGS) -o $@ $^ $(call pc_libs,$(MONITOR_PKGS)) -lpthread

$(LIBMON): $(MONITOR_CORE:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBMON_SAN): $(MONITOR_CORE:%.c=$(BUILD)/san/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBVER): $(VERIFIER_CORE:%.c=$(BUILD)/%.o)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBVER_SAN): $(VERIFIER_CORE:%.c=$(BUILD)/san/%.o)
	rm -f $@ && $(AR) rcs $@ $^

# ---- eBPF drift detection (bpf/, monitor/drift*.c) ------------------------------------------------------------------
# bpf/*.bpf.c are compiled against a vmlinux.h generated here from the running kernel's BTF (never committed; CO-RE
# relocates the programs to whatever kernel runs them), and each object is embedded in a skeleton header that the
# monitor's drift module includes.
CLANG       ?= clang
BPFTOOL     ?= bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_SRCS    := $(sort $(wildcard bpf/*.bpf.c))
BPF_HDRS    := $(wildcard bpf/*.h)
BPF_OBJS    := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS   := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.skel.h)
DRIFT_OBJS  := $(patsubst monitor/%.c,$(BUILD)/monitor/%.o,$(wildcard monitor/drift*.c))
DRIFT_OBJS  += $(patsubst monitor/%.c,$(BUILD)/san/monitor/%.o,$(wildcard monitor/drift*.c))
MONITOR_PKGS += libbpf

$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c >$@.tmp && mv $@.tmp $@

# `bpftool gen object` keeps the BTF CO-RE needs and drops the DWARF, so the skeletons stay small.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/bpf/vmlinux.h
	$(CLANG) -target bpf -g -O2 -D__TARGET_ARCH_x86 -Wall -Werror -I$(BUILD)/bpf -Ibpf -c $< -o $(@:.bpf.o=.tmp.bpf.o)
	$(BPFTOOL) gen object $@ $(@:.bpf.o=.tmp.bpf.o)

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) >$@.tmp && mv $@.tmp $@

.SECONDARY: $(BPF_OBJS)
$(DRIFT_OBJS): $(BPF_SKELS) bpf/drift-event.h
$(DRIFT_OBJS): BASEFLAGS += -I$(BUILD)/bpf -Ibpf

# Unit tests may test the daemons' modules too (tests/unit/test-monitor-*.c, test-verifier-*.c).
UNIT_CFLAGS = -Imonitor -Iverifier -Ibpf $(call pc_cflags,$(VERIFIER_PKGS) $(MONITOR_PKGS) $(TEST_PKGS))
UNIT_LIBS   = $(call pc_libs,$(VERIFIER_PKGS) $(MONITOR_PKGS) $(TEST_PKGS)) -lpthread

$(BUILD)/tests/unit/%.o: tests/unit/%.c $(LIB_HDRS) $(MONITOR_HDRS) $(VERIFIER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(UNIT_CFLAGS) -c $< -o $@

$(BUILD)/san/tests/unit/%.o: tests/unit/%.c $(LIB_HDRS) $(MONITOR_HDRS) $(VERIFIER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(UNIT_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(call pc_cflags,$(CLI_PKGS)) -c $< -o $@

$(LIBDW): $(LIB_OBJS)
	$(AR) rcs $@ $^

$(LIBDW_SAN): $(LIB_OBJS_SAN)
	$(AR) rcs $@ $^

$(CLI): $(CLI_SRCS:%.c=$(BUILD)/%.o) $(LIBDW)
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(CLI_PKGS))

$(CLI_SAN): $(CLI_SRCS:%.c=$(BUILD)/san/%.o) $(LIBDW_SAN)
	$(CC) $(SANFLAGS) -o $@ $^ $(call pc_libs,$(CLI_PKGS))

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_HELPERS:%.c=$(BUILD)/%.o) $(LIBMON) $(LIBVER) $(LIBDW)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(UNIT_LIBS)

$(BUILD)/san/tests/%: $(BUILD)/san/tests/unit/%.o $(UNIT_HELPERS:%.c=$(BUILD)/san/%.o) $(LIBMON_SAN) $(LIBVER_SAN) $(LIBDW_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $^ $(UNIT_LIBS)

# Test tools may use the monitor's modules (the gateway test client speaks the protocol through them).
$(BUILD)/tests/tools/%.o: tests/tools/%.c $(LIB_HDRS) $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Imonitor $(CFLAGS) $(call pc_cflags,$(MONITOR_PKGS) $(CURL_PKGS)) -c $< -o $@

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIBMON) $(LIBDW)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(MONITOR_PKGS) $(CURL_PKGS)) -lpthread

# Benchmarks may use the monitor's modules (bench/event-pipeline.c).
$(BUILD)/bench/%.o: bench/%.c $(LIB_HDRS) $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Imonitor $(CFLAGS) $(call pc_cflags,$(MONITOR_PKGS) $(CURL_PKGS)) -c $< -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBMON) $(LIBDW)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(MONITOR_PKGS) $(CURL_PKGS)) -lpthread

# Every Debian package the build and the tests need. Idempotent: installs only what is missing, and runs
# apt-get update at most once per invocation.
DEB_PKGS := build-essential pkg-config libssl-dev libjansson-dev libtss2-dev check libsubunit-dev \
	libmicrohttpd-dev libgnutls28-dev libsqlite3-dev libcurl4-openssl-dev libsystemd-dev sqlite3 curl \
	systemd-container debootstrap \
	clang libbpf-dev bpftool \
	qemu-system-x86 busybox-static cpio e2fsprogs socat file procps \
	tpm2-tools ima-evm-utils jq swtpm swtpm-tools

deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: all installed"; fi

check: deps
	$(MAKE) all $(UNIT_BINS) $(UNIT_BINS_SAN) $(CLI_SAN) $(VERIFIER_SAN) $(MONITOR_SAN) $(TOOL_BINS)
	$(MAKE) check-unit check-unit-san check-cli

check-unit: $(UNIT_BINS)
	@set -e; for t in $^; do echo "== $$t"; DW_SRCDIR=$(CURDIR) $$t; done

check-unit-san: $(UNIT_BINS_SAN)
	@set -e; for t in $^; do echo "== $$t (ASan+UBSan)"; \
		DW_SRCDIR=$(CURDIR) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $$t; done

# Shell tests drive the CLI (the sanitizer build, so bad input is exercised under ASan too) and the peers.
check-cli: $(CLI) $(CLI_SAN) $(VERIFIER_SAN) $(MONITOR_SAN) $(TOOL_BINS)
	@DW_SRCDIR=$(CURDIR) DW_BUILD=$(CURDIR)/$(BUILD) $(if $(VERIFIER_SAN),DW_VERIFIER=$(CURDIR)/$(VERIFIER_SAN)) \
		$(if $(MONITOR_SAN),DW_MONITOR=$(CURDIR)/$(MONITOR_SAN)) \
		tests/run-shell-tests.sh

# The whole product end to end on one machine (tests/demo.sh says what it uses and checks every step).
demo: deps
	$(MAKE) all $(TOOL_BINS)
	@DW_BUILD=$(CURDIR)/$(BUILD) bash tests/demo.sh

bench: all $(BENCH_BINS) $(TOOL_BINS)
	@DW_BUILD=$(CURDIR)/$(BUILD) bench/run.sh

format:
	clang-format -i $(LIB_SRCS) $(LIB_HDRS) $(CLI_SRCS) $(UNIT_SRCS) $(BENCH_SRCS) $(TOOL_SRCS) $(VERIFIER_SRCS) \
		$(VERIFIER_HDRS) $(MONITOR_SRCS) $(MONITOR_HDRS) $(BPF_SRCS) $(BPF_HDRS)

clean:
	rm -rf $(BUILD)

# make install / uninstall (DESTDIR, PREFIX, unit directories from pkg-config): systemd/install.mk
-include systemd/install.mk

# ---- the real-kernel end-to-end test (tests/kernel/, docs/testing-real-kernel.md) -----------------------------------
# Debian's kernel under qemu with a swtpm TPM, the monitor inside, the verifier here. `make check` runs it too (it is
# tests/shell/test-real-kernel.sh); this target runs it alone. Caches under DW_CACHE (/var/cache/driftwatch-tests).
.PHONY: check-kernel
check-kernel: all $(TOOL_BINS) $(CLI_SAN) $(VERIFIER_SAN)
	@DW_SRCDIR=$(CURDIR) DW_BUILD=$(CURDIR)/$(BUILD) $(if $(VERIFIER_SAN),DW_VERIFIER=$(CURDIR)/$(VERIFIER_SAN)) \
		$(if $(MONITOR_SAN),DW_MONITOR=$(CURDIR)/$(MONITOR_SAN)) \
		tests/kernel/check.sh
