#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""make test: the host unit tests, then the boots of scripts/cowtest/matrix.py.

On the base kernel, the upstream mm selftests with every feature off (judged
against the hand-reviewed baseline tests/baseline/selftests.txt), then with
every feature on at once (ALL: scripts/features.py all), then each variant
set that names its own selftests with only those, and cowlab's guest tests;
on the debug kernel (KASAN, lockdep, DEBUG_VM) cowlab's guest tests in two
boots, the quick selftests with ALL on, and trinity and stress-ng with ALL on
(guest/plans/fuzz.sh). Every boot's log is scanned for splats. Boots run in
lanes, one per host CPU (memory allowing), start in the matrix's order when
their kernel is built, and are judged in that order once all have ended.
Every build is a make target (make kernel-base initramfs ...); the debug
kernel builds in the background beside the first boots. Every suite speaks
TAP; the whole stream is kept in build/test.ktap and the run ends with one
line "N passed, N failed".

Environment: COWLAB_DEBUG=0 is --no-debug; COWLAB_LANES=N guests at once
(default: host CPUs, at most one per 7 GB of available memory);
COWLAB_TEST_CPU=MODEL the guests' QEMU -cpu (default max,-erms,-fsrm: TCG
runs "rep movsb/stosb" a byte a step, so without them the kernel and glibc
pick faster string routines; what the tests check does not change);
COWLAB_SELFTEST_SMP=N vCPUs of the upstream selftest boots (default 1);
COWLAB_GUEST_TIMEOUT=SECS each boot's watchdog (default 4000);
COWLAB_FUZZ_SECONDS=N each fuzzer's budget on debug (default 45; 0: no fuzz
boot).
"""
import argparse
import fnmatch
import os
import shutil
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "scripts"))
import features  # noqa: E402
from cowtest import matrix  # noqa: E402

B = os.path.join(TOP, "build")
T = os.path.join(B, "test")
KTAP = os.path.join(B, "test.ktap")
INITRD = {"test": os.path.join(B, "initramfs.cpio.gz"),
          "fuzz": os.path.join(B, "initramfs-fuzz.cpio.gz")}
MAKE_INITRD = {"test": "initramfs", "fuzz": "initramfs-fuzz"}
DEBUG_WAIT = 90  # s a warm debug build may take before base boots go first


def rel(path):
    return os.path.relpath(path, TOP) if str(path).startswith(TOP + "/") else str(path)


class Run:
    """One make test run: its counts, its KTAP stream, its guests."""

    def __init__(self):
        self.t0 = time.time()
        self.passed = self.failed = self.nsuite = 0
        self.failures = []
        self.guests = []        # [(boot, Popen)] in start order
        os.makedirs(T, exist_ok=True)
        self.ktap = open(KTAP, "w", encoding="utf-8")
        self.ktap.write("KTAP version 1\n")

    def elapsed(self):
        return int(time.time() - self.t0)

    def step(self, msg):
        print(f"== {msg} ({self.elapsed()}s)", flush=True)

    @staticmethod
    def dir(boot):
        return os.path.join(T, boot.name)

    def suite(self, name, cmd=None, text=None):
        """Run a TAP-speaking command (or text() -> (tap, rc)), nest its output
        in the KTAP stream and count its top-level points."""
        self.step(f"suite {name}")
        err = ""
        if cmd:
            cmd = [c.format(ksft=os.path.join(B, "linux/tools/testing/selftests")) for c in cmd]
            p = subprocess.run(cmd, cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, errors="replace")
            out, err, rc = p.stdout, p.stderr, p.returncode
        else:
            out, rc = text()
        lines = out.splitlines()
        p = sum(1 for line in lines if line.startswith("ok "))
        f = sum(1 for line in lines if line.startswith("not ok "))
        if rc != 0 and f == 0:
            f = 1
            lines.append(f"not ok 0 {name} exited {rc}")
        # a plan that gave up ("Bail out!") has no "not ok" line of its own
        bail = next((line for line in lines if line.startswith("Bail out!")), None)
        if bail and f == 0:
            f = 1
            lines.append(f"not ok 0 {name}: {bail}")
        with open(os.path.join(T, f"{name}.tap"), "w", encoding="utf-8") as o:
            o.write("\n".join(lines) + "\n")
        with open(os.path.join(T, f"{name}.err"), "w", encoding="utf-8") as o:
            o.write(err)
        self.passed += p
        self.failed += f
        self.nsuite += 1
        for line in lines:
            self.ktap.write(f"    {line}\n")
        self.ktap.write(f"{'ok' if f == 0 else 'not ok'} {self.nsuite} {name}\n")
        self.ktap.flush()
        if f:
            bad = ";".join(line[:80] for line in lines if line.startswith("not ok"))
            self.failures.append(f"suite {name}: {f} failed ({bad[:400]})")
        # what failed, with the failing program's last lines (ktap-compare
        # prints them as "# | ..."): CI logs may keep only this stdout
        shown = [line for line in lines if line.startswith(("not ok", "# |", "# retried", "Bail"))
                 or (line.startswith("# ") and ("REGRESSION" in line or " lines" in line and ": last " in line))]
        for line in shown[:150]:
            print(line)
        if f and err.strip():
            print("\n".join(err.splitlines()[-20:]))
        print(f"   {name}: {p} passed, {f} failed", flush=True)

    def must(self, cmd):
        """A build step; a failure judges what ran and ends the run."""
        if subprocess.run(cmd, cwd=TOP, stdin=subprocess.DEVNULL).returncode == 0:
            return
        print(f"!! build step failed: {' '.join(cmd)}", file=sys.stderr)
        self.failures.append(f"build step failed after {self.elapsed()}s: {' '.join(cmd)}")
        self.failed += 1
        # what a CI log needs to tell a full disk or memory from a bug
        for c in (["df", "-h", TOP, "/tmp"], ["free", "-m"]):
            r = subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            sys.stderr.write("".join(f"!! {line}\n" for line in r.stdout.splitlines()))
        self.judge_all([])
        sys.exit(self.finish())

    def start(self, boot, qcpu, timeout):
        """Boot a guest in the background (run-guest.sh), output in T/NAME."""
        self.step(f"guest {boot.name}: start ({boot.plan} {' '.join(guest_args(boot))})")
        shutil.rmtree(self.dir(boot), ignore_errors=True)
        log = open(os.path.join(T, f"{boot.name}.log"), "w", encoding="utf-8")
        cmd = ["scripts/run-guest.sh", "--plan", boot.plan, "--kernel", kernel_path(boot.kernel),
               "--initrd", INITRD[boot.initrd], "--out", self.dir(boot),
               "--timeout", str(timeout), "--cpu", qcpu, "--quiet", *guest_args(boot)]
        # a scripted console session (make shell) types its file
        stdin = open(os.path.join(TOP, boot.stdin), "rb") if boot.stdin else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, cwd=TOP, stdout=log, stderr=subprocess.STDOUT, stdin=stdin)
        self.guests.append((boot, proc))

    def running(self):
        return sum(1 for _, p in self.guests if p.poll() is None)

    def reap(self, reported):
        for boot, proc in self.guests:
            if proc.poll() is not None and boot.name not in reported:
                reported.add(boot.name)
                ktap = os.path.join(self.dir(boot), "result.ktap")
                ok = bad = 0
                if os.path.exists(ktap):
                    with open(ktap, encoding="utf-8", errors="replace") as f:
                        for line in f:
                            ok += line.startswith("ok ")
                            bad += line.startswith("not ok ")
                print(f"== guest {boot.name}: done ({ok} ok, {bad} not ok; {self.elapsed()}s)", flush=True)

    def judge_all(self, order):
        """Wait for every guest, then judge each in the matrix's order. A guest
        that ends without a verdict (hang, panic, watchdog) is one failure of
        its own; what it did report is still judged."""
        for _, proc in self.guests:
            proc.wait()
        started = {b.name: (b, p) for b, p in self.guests}
        names = [b.name for b in order if b.name in started]
        names += [n for n in started if n not in names]
        for name in names:
            boot, proc = started[name]
            rc = proc.returncode
            if rc >= 2 or rc < 0:
                self.nsuite += 1
                self.failed += 1
                self.ktap.write(f"not ok {self.nsuite} {name}: guest ended without a verdict "
                                f"(run-guest.sh exit {rc})\n")
                self.failures.append(f"guest {name} ended without a verdict (run-guest.sh exit {rc}; "
                                     f"{rel(self.dir(boot))}/console.log)")
                with open(os.path.join(T, f"{name}.log"), encoding="utf-8", errors="replace") as f:
                    log = f.read().splitlines()
                first = next((i for i, line in enumerate(log) if line.startswith("!!")), len(log))
                print("\n".join(log[first:first + 30]))
            boot.judge(self, boot)

    def finish(self):
        self.ktap.write(f"1..{self.nsuite}\n")
        self.ktap.close()
        print(f"== done in {self.elapsed()}s; full KTAP: {rel(KTAP)}")
        if self.failures:
            print("== failures:")
            for f in self.failures:
                print(f"   {f}")
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def kernel_path(kernel):
    return os.path.join(B, f"obj-{kernel}", "bzImage")


def guest_args(boot):
    out = []
    for k, v in boot.sets.items():
        out += ["--set", f"{k}={v}"]
    return out + boot.args


def meminfo_available_mb():
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="scripts/test.py", description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--host-only", action="store_true", help="only the host unit tests (no kernel, no guest)")
    ap.add_argument("--full", action="store_true",
                    help="every feature set on its own too, and every selftest on the debug kernel "
                         "(make test-full; hours under TCG)")
    ap.add_argument("--no-debug", action="store_true", help="skip the debug kernel's boots")
    ap.add_argument("--features", metavar="LIST",
                    help="feature sets for the base kernel's selftests boots (default off,ALL), one boot each")
    ap.add_argument("--selftests", metavar="TESTS",
                    help="comma list of upstream selftests (guest/selftests.list) to run, in every selftests boot")
    ap.add_argument("--only", metavar="NAMES",
                    help="comma list of host suites and boots to run, shell patterns allowed "
                         "(e.g. 'host-*,selftests-off'); see --list")
    ap.add_argument("--shard", metavar="I/N",
                    help="run the I-th of N parts of the matrix (1-based; boots dealt in turn, "
                         "the host suites in part 1), so N machines share one run")
    ap.add_argument("--list", action="store_true", help="print the host suites and boots that would run, one a line")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the builds and the boots, in start order, with their run-guest.sh arguments "
                         "(\"boot NAME: ...\"); build and run nothing")
    a = ap.parse_args(argv)
    if a.shard:
        try:
            i, n = (int(x) for x in a.shard.split("/"))
            if not 1 <= i <= n:
                raise ValueError
        except ValueError:
            ap.error(f"--shard takes I/N with 1 <= I <= N, not '{a.shard}'")
        a.shard = (i, n)
    return a


def select(a, feats):
    """The host suites and boots this run has, in order."""
    opt = matrix.Options(full=a.full, debug=not a.no_debug and os.environ.get("COWLAB_DEBUG", "1") != "0",
                         smp=os.environ.get("COWLAB_SELFTEST_SMP", "1"),
                         fuzz_seconds=int(os.environ.get("COWLAB_FUZZ_SECONDS", "45")))
    if a.features:
        opt.features = [features.all_set(feats) if s == "ALL" else s for s in a.features.split(",")]
        unknown = [s for s in opt.features for p in s.split("+") if p not in feats and p != "off"]
        if unknown:
            sys.exit(f"test.py: no feature set {', '.join(unknown)} (guest/features/*.conf)")
    if a.selftests:
        opt.selftests = a.selftests.split(",")
    host = list(matrix.HOST)
    boots = [] if a.host_only else matrix.boots(opt, feats)
    names = [b.name for b in boots]
    if len(set(names)) != len(names):
        sys.exit("test.py: two boots of one name (one output directory): fix the matrix")
    if a.only:
        pats = a.only.split(",")
        for p in pats:
            if not any(fnmatch.fnmatchcase(n, p) for n in [h[0] for h in host] + names):
                sys.exit(f"test.py: --only {p}: no such host suite or boot (see --list)")
        host = [h for h in host if any(fnmatch.fnmatchcase(h[0], p) for p in pats)]
        boots = [b for b in boots if any(fnmatch.fnmatchcase(b.name, p) for p in pats)]
    if a.shard:
        i, n = a.shard
        host = host if i == 1 else []
        boots = [b for k, b in enumerate(boots) if k % n == i - 1]
    return host, boots


def stop_on_signal(signum, frame):
    raise KeyboardInterrupt


def main(argv):
    # SIGTERM (a CI job cancelled) stops the run as Ctrl-C does
    signal.signal(signal.SIGTERM, stop_on_signal)
    # --list | head: end quietly on a closed pipe
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    a = parse_args(argv)
    feats = features.load()
    host, boots = select(a, feats)
    if a.list:
        for name, _ in host:
            print(f"host {name}")
        for b in boots:
            print(f"boot {b.name}")
        return 0
    qcpu = os.environ.get("COWLAB_TEST_CPU", "max,-erms,-fsrm")
    timeout = int(os.environ.get("COWLAB_GUEST_TIMEOUT", "4000"))
    kernels = sorted({b.kernel for b in boots} - {"debug"})
    debug = any(b.kernel == "debug" for b in boots)
    builds = ["bench"] + [f"kernel-{k}" for k in kernels] + sorted({MAKE_INITRD[b.initrd] for b in boots})
    if a.dry_run:
        print(f"build: make -s {' '.join(builds)}")
        if debug:
            print("build (in the background): make -s kernel-debug")
        for name, cmd in host:
            print(f"host {name}: {' '.join(cmd)}")
        for b in boots:
            print(f"boot {b.name}: --plan {b.plan} --kernel {rel(kernel_path(b.kernel))} --cpu {qcpu} "
                  f"--initrd {rel(INITRD[b.initrd])} {' '.join(guest_args(b))}".rstrip()
                  + (f" <{b.stdin}" if b.stdin else ""))
        return 0

    run = Run()
    # the machine, first: a CI log that ends early then still says what it had
    st = os.statvfs(TOP)
    free_mb = st.f_bavail * st.f_frsize // 2**20
    print(f"== {os.cpu_count()} CPUs, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 2**20} MB "
          f"memory, {meminfo_available_mb()} MB available, {free_mb} MB free under {TOP}", flush=True)
    if free_mb < 6000:
        print(f"!! less than 6 GB free under {TOP}: the kernel tree and two builds need about 4 GB",
              file=sys.stderr)
    run.step("host unit tests" if host else "build")
    run.must(["make", "-s", "bench"])
    for name, cmd in host:
        run.suite(name, cmd)
    if not boots:
        return run.finish()
    run.step(f"build: make -s {' '.join(builds[1:])}")
    run.must(["make", "-s", *builds[1:]])

    dbuild = None
    if debug:
        run.step(f"kernel debug: building in the background (log: {rel(T)}/build-debug.log)")
        dlog = open(os.path.join(T, "build-debug.log"), "w", encoding="utf-8")
        dbuild = subprocess.Popen(["make", "-s", "kernel-debug"], cwd=TOP, stdout=dlog,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        dstart = time.time()

    lanes = int(os.environ.get("COWLAB_LANES", os.cpu_count() or 1))
    lanes = max(1, min(lanes, meminfo_available_mb() // 7000))
    run.step(f"guests: {lanes} at once (COWLAB_LANES), -cpu {qcpu} (COWLAB_TEST_CPU), "
             f"selftests on {os.environ.get('COWLAB_SELFTEST_SMP', '1')} vCPU (COWLAB_SELFTEST_SMP)")
    pending = list(boots)
    reported = set()
    debug_state = "building" if dbuild else "none"
    try:
        while pending or run.running():
            run.reap(reported)
            if debug_state == "building" and dbuild.poll() is not None:
                with open(os.path.join(T, "build-debug.log"), encoding="utf-8", errors="replace") as f:
                    tail = [line.rstrip() for line in f if "objects built, " not in line][-3:]
                print("\n".join(tail))
                if dbuild.returncode == 0:
                    debug_state = "ready"
                else:
                    debug_state = "failed"
                    print("!! build step failed: make kernel-debug", file=sys.stderr)
                    print("".join(tail), file=sys.stderr)
                    run.failures.append(f"build step failed after {run.elapsed()}s: make kernel-debug "
                                        f"({rel(T)}/build-debug.log); no debug boots")
                    run.failed += 1
                    pending = [b for b in pending if b.kernel != "debug"]
            while pending and run.running() < lanes:
                ready = [b for b in pending if b.kernel != "debug" or debug_state == "ready"]
                # a warm debug build ends in seconds: its boots keep their place
                if not ready or (pending[0] not in ready and time.time() - dstart < DEBUG_WAIT):
                    break
                pending.remove(ready[0])
                run.start(ready[0], qcpu, timeout)
            time.sleep(1)
        run.reap(reported)
    except (KeyboardInterrupt, Exception) as e:
        # stopped, or a boot could not start: no guest outlives the run
        # (run-guest.sh passes SIGTERM on to QEMU)
        procs = [p for _, p in run.guests] + ([dbuild] if dbuild else [])
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        if not isinstance(e, KeyboardInterrupt):
            raise
        print("!! interrupted", file=sys.stderr)
        return 130
    run.judge_all(boots)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
