# SPDX-License-Identifier: GPL-2.0
# cowlab: study Copy-on-Write in Linux 6.12. See README.md.
#
#   make run     build everything, boot the guest, run the COW study, report
#                [QUICK=1: every part at small sizes, one boot and rep each]
#   make test    host unit tests + upstream mm selftests and cowlab tests in
#                the guest, every feature off and on; ends "N passed, N failed"
#   make shell   boot the patched kernel in QEMU with a shell on this terminal
#                [KERNEL=base|debug|vanilla] [FEATURES=odf+precopy]
#   make deb     Debian packages of the patched kernel for a real machine
#                (build/deb/), checked by make deb-check (docs/native.md)

SHELL := /bin/bash
TOP := $(abspath .)
B := $(TOP)/build
KSRC := $(B)/linux
KSRC_VANILLA := $(B)/linux-vanilla
JOBS ?= $(shell nproc)
# the kernel of make shell, stress and fuzz: base, debug or vanilla
KERNEL ?= base
export JOBS

.PHONY: help deps tree tree-vanilla kernel kernel-base kernel-debug kernel-vanilla \
	selftests bench guest-tests initramfs initramfs-fuzz run test test-host test-full bench-host guest-smoke \
	shell stress stress-torture fuzz export checkpatch clean distclean deb deb-check

help:
	@sed -n '1,/^$$/s/^#   //p' Makefile
	@echo "other targets: deps tree kernel kernel-vanilla selftests bench guest-tests initramfs initramfs-fuzz"
	@echo "               test-host test-full bench-host guest-smoke stress fuzz export checkpatch clean"
	@echo "               deb deb-check"

deps:
	@scripts/deps.sh

tree: deps
	@scripts/tree.sh

tree-vanilla: deps
	@scripts/tree.sh --vanilla

kernel: kernel-base kernel-debug

kernel-base: tree
	@scripts/build-kernel.sh --config base

kernel-debug: tree
	@scripts/build-kernel.sh --config debug

kernel-vanilla: tree-vanilla
	@scripts/build-kernel.sh --config base --tree $(KSRC_VANILLA) --out $(B)/obj-vanilla

selftests: tree
	@scripts/build-selftests.sh

bench: tree
	@$(MAKE) -s -C userspace-bench KSFT_DIR=$(KSRC)/tools/testing/selftests

guest-tests: tree
	@$(MAKE) -s -C tests/guest KSFT_DIR=$(KSRC)/tools/testing/selftests OUT=$(B)/guest-tests

# The one guest image of run, test, stress and guest-smoke: busybox, /init,
# plans, feature sets, the upstream selftests, the benchmarks, the cowlab
# guest tests, Debian's redis-server and redis-cli with their libraries. Every build below is a make target; scripts run them, never
# the build chain themselves.
initramfs: selftests bench guest-tests
	@scripts/build-initramfs.sh --bin $(TOP)/userspace-bench/build/cowbench --bin $(TOP)/userspace-bench/build/kvsnap \
		--bin $(TOP)/userspace-bench/build/hugecow --bin $(TOP)/userspace-bench/build/redissnap --bin $(B)/guest-tests \
		--dyn redis-server --dyn redis-cli

# the fuzz boot's own image: Debian's trinity and stress-ng with their
# libraries (13 MB; the other boots do without them)
initramfs-fuzz: $(B)/initramfs-fuzz.cpio.gz

guest-smoke: kernel-base initramfs
	@scripts/run-guest.sh --plan smoke

# make shell: the kernel (KERNEL=base, debug or vanilla) and the one guest
# image, a busybox login shell on the console with cowbench, kvsnap,
# hugecow, the tests and the selftests on PATH (guest/plans/shell.sh);
# exit or Ctrl-D powers off. make test drives it with a scripted session.
shell: kernel-$(KERNEL) initramfs
	@scripts/run-guest.sh --plan shell --interactive --kernel $(B)/obj-$(KERNEL)/bzImage \
		$(if $(filter debug,$(KERNEL)),--mem 3072 --hugepages "128 0") $(if $(FEATURES),--set features=$(FEATURES))

run: deps
	@scripts/study.sh $(if $(QUICK),--quick) $(if $(NOHOST),--no-host)

test: deps
	@scripts/test.py

test-host: deps
	@scripts/test.py --host-only

test-full: deps
	@scripts/test.py --full

# make stress [SEEDS=50] [STEPS=200] [KERNEL=base|debug] [DURATION=seconds]
#             [FUZZ=600]:
# the COW torture test (tests/guest/torture_test.c) for a long run in the
# guest, SEEDS seeds per variant, or as many as DURATION allows; prints the
# seed of any failure. Replay one: make stress SEED=<seed>. Then make fuzz.
# make fuzz [FUZZ=600] [KERNEL=base|debug] [FUZZ_SEED=n]: trinity and
# stress-ng (guest/plans/fuzz.sh) for FUZZ seconds each, every feature on;
# FUZZ=0 skips it. make test runs the same plan for 45 s each on debug.
SEEDS ?= 50
STEPS ?= 200
FUZZ ?= 600
stress: stress-torture fuzz

$(B)/initramfs-fuzz.cpio.gz: scripts/build-initramfs.sh scripts/features.py guest/init guest/lib.sh \
		$(wildcard guest/plans/*.sh guest/features/*.conf) | deps
	@scripts/build-initramfs.sh --selftests /nonexistent --dyn trinity --dyn stress-ng --out $@

fuzz: kernel-$(KERNEL) $(B)/initramfs-fuzz.cpio.gz
	@if [ "$(FUZZ)" != 0 ]; then scripts/run-guest.sh --plan fuzz --kernel $(B)/obj-$(KERNEL)/bzImage \
		--initrd $(B)/initramfs-fuzz.cpio.gz --timeout $$((2 * $(FUZZ) + 1200)) \
		$(if $(filter debug,$(KERNEL)),--mem 3072 --hugepages "128 0") \
		--set duration=$(FUZZ) $(if $(FUZZ_SEED),--set seed=$(FUZZ_SEED)); fi

stress-torture: kernel-$(KERNEL) initramfs
	@scripts/run-guest.sh --plan torture --kernel $(B)/obj-$(KERNEL)/bzImage --timeout 7500 \
		--set seeds=$(SEEDS) --set steps=$(STEPS) $(if $(SEED),--set seed=$(SEED)) \
		$(if $(DURATION),--set duration=$(DURATION))

bench-host:
	@$(MAKE) -s -C userspace-bench host

# make deb: linux-image/-headers/libc-dev packages of the patched kernel
# (configs/native.config: disks, NICs, EFI, systemd), then their check
# (files, config, a QEMU boot of the packaged kernel with the initramfs)
deb: tree initramfs
	@scripts/build-deb.sh --out $(B)/deb

deb-check:
	@scripts/check-deb $(B)/deb

export: tree
	@scripts/export.sh

checkpatch: tree
	@scripts/checkpatch.sh

clean:
	rm -rf $(B)/obj-* $(B)/selftests* $(B)/initramfs* $(B)/runs $(B)/deb
	-@$(MAKE) -s -C userspace-bench clean

distclean:
	rm -rf $(B) results
