# SPDX-License-Identifier: GPL-2.0
"""make test's matrix, as data: the host suites, then the boots, in order.

The order of BOOTS is the order in which boots start (when a lane and their
kernel are ready) and the fixed order in which they are judged. Longest
first, so that the two lanes end together: every feature on; the debug
kernel's boots (when the debug kernel is up to date at the start; when it
is still building, the base boots after them go first); every feature off;
each set alone (--full); the variants that name their own selftests; the
cowlab tests on base; make shell with a scripted session; the kvm probe and
its fall-back; the native runner inside the guest; Redis.

A boot: name, kernel (base or debug, build/obj-KERNEL/bzImage), plan
(guest/plans/PLAN.sh), sets (cowlab.KEY=VALUE on the kernel command line),
run-guest.sh arguments, initramfs (test or fuzz) and judge. Feature sets
come from the manifests (scripts/features.py), never from a list here.
"""
from dataclasses import dataclass, field

from . import judges

# quick upstream selftests for the debug kernel (KASAN + lockdep under TCG
# run them 3-50x slower; the full list runs with --full). Not here, though
# in the base passes with every feature on: soft-dirty (10000 clear_refs
# rounds: 58-216 s on debug, 4 s on base) and ksm_functional_tests (57-209 s
# on debug, waiting for ksmd's scans); on the debug kernel, precopy_test
# covers pre-copy with soft-dirty and KSM pages.
DEBUG_ONLY = ["mkdirty", "pagemap_ioctl", "madv_populate", "map_populate", "mremap_test",
              "mremap_dontunmap", "uffd-stress-anon", "gup_test_ct", "hugepage-mmap", "map_hugetlb"]
# The debug kernel's cowlab tests take ~15 min under KASAN: two boots, so
# that the two lanes share them. The first runs these (~440 s measured on
# 2026-12-03), the second every other test binary, new ones included.
DEBUG_SPLIT = ["kinds_test", "odf_sweep_test", "odf_test", "odf_knobs_test", "odf_elig_test",
               "cowstat_test", "thpcow_test"]
# 3 GB and no 1 GiB pages on debug: kmemleak's scans and the boot are
# shorter (the quick list uses 2 MiB hugetlb pages only; --full keeps 6 GB)
DEBUG_MEM = ["--mem", "3072", "--hugepages", "128 0"]
# The upstream selftests get one vCPU (COWLAB_SELFTEST_SMP). They are mostly
# single-threaded, and a 2-vCPU MTTCG guest beside another guest on two host
# CPUs keeps waiting for its other vCPU's host thread (IPIs, TLB shootdowns,
# exclusive sections): one pass took 445 s with two vCPUs, 176 s with one
# (uffd-unit-tests 186 s vs 11 s); the cases are judged the same. cowlab's
# tests keep two vCPUs for their races (Dirty COW, GUP-fast vs unshare).

# host unit tests: name, command (run in the tree's top; {ksft} is the
# kernel tree's tools/testing/selftests)
HOST = [
    ("host-bench", ["make", "-s", "-C", "userspace-bench", "test", "KSFT_DIR={ksft}"]),
    ("host-report", ["/usr/bin/python3", "tests/host/test_report.py"]),
    ("host-scripts", ["tests/host/test_scripts.sh"]),
    ("host-kvsnap", ["tests/host/kvsnap_test.sh"]),
    ("host-hugecow", ["tests/host/hugecow_test.sh"]),
]


@dataclass
class Boot:
    name: str
    kernel: str                 # base | debug
    plan: str
    judge: object               # a function of judges.py
    sets: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    initrd: str = "test"        # test | fuzz
    allow_missing: bool = False
    stdin: str = None           # a file typed at the console (--interactive)


@dataclass
class Options:
    full: bool = False          # every set alone; every selftest on debug
    debug: bool = True
    features: list = None       # base selftests boots' sets (None: off, ALL)
    selftests: list = None      # narrow the upstream programs
    smp: str = "1"              # COWLAB_SELFTEST_SMP
    fuzz_seconds: int = 45      # COWLAB_FUZZ_SECONDS (0: no fuzz boot)


def boots(opt, feats):
    """The boots of one make test run, in order. feats: scripts/features.py load()."""
    from features import all_set, listed, singles  # scripts/ is on sys.path
    all_ = all_set(feats) or "off"
    only = opt.selftests or []
    narrowed = bool(only)

    def selftests(name, kernel, fset, progs, args=()):
        sets = {"features": fset}
        if progs:
            sets["only"] = ",".join(progs)
        return Boot(name, kernel, "selftests", judges.selftests, sets,
                    ["--smp", opt.smp, *args], allow_missing=narrowed)

    def cowlab(name, kernel, sets=None, args=()):
        return Boot(name, kernel, "cowlab-tests", judges.cowlab, sets or {}, list(args))

    sets_ = opt.features or ["off", all_] + (singles(feats) if opt.full else [])
    out = []
    if all_ in sets_:
        out.append(selftests("selftests-all", "base", all_, only))
    if opt.debug:
        dmem = [] if opt.full else DEBUG_MEM
        out += [cowlab("cowlab-tests-debug", "debug", {"only": ",".join(DEBUG_SPLIT)}, dmem),
                cowlab("cowlab-tests-debug-2", "debug", {"except": ",".join(DEBUG_SPLIT)}, dmem),
                selftests("selftests-debug", "debug", all_,
                          only or ([] if opt.full else DEBUG_ONLY), dmem)]
        out[-1].allow_missing = True
        if opt.fuzz_seconds > 0:
            out.append(Boot("fuzz-debug", "debug", "fuzz", judges.fuzz,
                            {"duration": str(opt.fuzz_seconds)}, list(dmem), initrd="fuzz"))
    for s in sets_:
        if s != all_:
            out.append(selftests(f"selftests-{s}", "base", s, only))
    # variants that name their selftests: one boot each, only those (not
    # when the run is narrowed, nor when --full ran the whole list with them)
    if not narrowed and not opt.features:
        for s in listed(feats):
            if s not in sets_:
                b = selftests(f"selftests-{s}", "base", s, feats[s].meta["selftests"])
                b.allow_missing = True
                out.append(b)
    out.append(cowlab("cowlab-tests-base", "base"))
    # make shell, driven by a scripted session: greeting, a feature set,
    # cowbench and its cow_stat samples, exit powers off
    out.append(Boot("shell-base", "base", "shell", judges.shell, {}, ["--interactive"],
                    stdin="tests/host/fixtures/shell-session.txt"))
    # --accel kvm: the probe boot, and the fall-back to TCG where KVM cannot
    # boot the guest (this project's machines, the lent device's kvm-pvm)
    out.append(Boot("kvm-probe-base", "base", "smoke", judges.kvm_probe, {}, ["--accel", "kvm"]))
    # study.sh --native's runner, on the guest's own kernel (guest/plans/native.sh)
    out.append(Boot("native-base", "base", "native", judges.cowlab))
    # a real client: Redis BGSAVE with vanilla behaviour, on-demand fork and
    # every feature on, each RDB checked against the snapshot instant
    # (guest/plans/redis.sh; make run runs every policy at 1 GiB)
    out.append(Boot("redis-base", "base", "redis", judges.cowlab,
                    {"policies": "off@madvise,odf@madvise,ALL@always", "keys": "65536",
                     "before_ms": "500", "reps": "1"}))
    return out
