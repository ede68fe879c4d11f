#!/usr/bin/env python3
"""Integration tests of wmieventd and wmieventctl (python3 stdlib only).

    B=build python3 tests/integration/run.py [-v] [-j N] [-k SUBSTRING]...

B is the build dir (build, or build-san for the ASan+UBSan build; `make
integration` sets it).  Each test starts wmieventd on a temporary config
in a fresh directory under /tmp, talks to it over its socket, stops it with
SIGTERM and checks that it exited 0 within a bound and, for sanitizer
builds, that its stderr carries no sanitizer report.  One line per test;
the last line is exactly "N passed, M failed"; the exit status is 1 when
anything failed.  -k runs only the tests whose name contains SUBSTRING; -v
prints the daemon's log of failed tests in full.

-j N runs N tests at a time (default 1; `make integration` runs 2): the
tests not marked @serial first, N at a time, then the @serial ones one
after the other, alone.  Each test runs in a process of its own (a fork
of the runner) whose output is printed whole when it ends, so the lines
of two tests never mix; with -j above 1 their order is the order in which
the tests end.

This file is the runner only.  The tests are the functions registered
with @test in the modules tests/integration/t_*.py, imported in the order
of their file names (a module's tests run in the order it defines them,
at -j 1); their shared helpers are in tests/integration/wmitest.py.
"""

import importlib
import os
import signal
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import wmitest
from wmitest import BUILD, CTL, DAEMON, SAN, Skip, is_serial

# A test process's exit status.
PASSED, FAILED, SKIPPED = 0, 1, 2


def load_tests():
    """Import every t_*.py; each registers its tests in wmitest.TESTS."""
    for f in sorted(os.listdir(HERE)):
        if f.startswith("t_") and f.endswith(".py"):
            importlib.import_module(f[:-3])
    return list(wmitest.TESTS)


def run_test(name, fn, verbose):
    """Run one test here and print its line (and what goes with it);
    return PASSED, FAILED or SKIPPED."""
    del wmitest.CURRENT_LOGS[:]
    t0 = time.monotonic()
    try:
        fn()
    except Skip as e:
        print("skip %s: %s" % (name, e))
        return SKIPPED
    except Exception as e:
        kind = "" if isinstance(e, AssertionError) else type(e).__name__ + ": "
        print("FAIL %s (%.2fs): %s%s" % (name, time.monotonic() - t0, kind, e))
        if not isinstance(e, AssertionError) or verbose:
            traceback.print_exc(file=sys.stdout)
        for log in wmitest.CURRENT_LOGS:
            lines = log.splitlines()
            shown = lines if verbose else lines[-25:]
            print("    --- daemon log (%d of %d lines) ---" % (len(shown), len(lines)))
            for l in shown:
                print("    " + l)
        return FAILED
    print("ok   %s (%.2fs)" % (name, time.monotonic() - t0))
    return PASSED


class Running:
    """A test running in a child process, its output going to a file."""

    def __init__(self, name, fn, verbose):
        self.name = name
        self.t0 = time.monotonic()
        self.out = tempfile.TemporaryFile()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            status = FAILED
            try:
                os.dup2(self.out.fileno(), 1)
                os.dup2(self.out.fileno(), 2)
                sys.stdout.reconfigure(line_buffering=True)
                status = run_test(name, fn, verbose)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)

    def finish(self, wstatus):
        """Print the test's output whole; return its status."""
        self.out.seek(0)
        text = self.out.read().decode("utf-8", "replace")
        self.out.close()
        code = os.waitstatus_to_exitcode(wstatus)
        status = code if code in (PASSED, FAILED, SKIPPED) else FAILED
        if code not in (PASSED, FAILED, SKIPPED):
            why = "killed by signal %d" % -code if code < 0 else "exit status %d" % code
            text += "FAIL %s (%.2fs): the test's process ended: %s\n" % (
                self.name, time.monotonic() - self.t0, why)
        sys.stdout.write(text)
        sys.stdout.flush()
        return status


def run_all(tests, jobs, verbose):
    """Run @tests, @jobs at a time; return the count of each status."""
    counts = {PASSED: 0, FAILED: 0, SKIPPED: 0}
    if jobs > 1:
        # The @serial tests last, one at a time.
        phases = [([t for t in tests if not is_serial(t[1])], jobs), ([t for t in tests if is_serial(t[1])], 1)]
    else:
        phases = [(tests, 1)]
    running = {}
    try:
        for queue, width in phases:
            queue = list(queue)
            while queue or running:
                while queue and len(running) < width:
                    name, fn = queue.pop(0)
                    r = Running(name, fn, verbose)
                    running[r.pid] = r
                pid, wstatus = os.wait()
                if pid in running:
                    counts[running.pop(pid).finish(wstatus)] += 1
    except KeyboardInterrupt:
        for pid in running:
            os.kill(pid, signal.SIGINT)
        for pid in running:
            os.waitpid(pid, 0)
        raise
    return counts


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    only = [args[i + 1] for i, a in enumerate(args) if a == "-k" and i + 1 < len(args)]
    jobs = 1
    for i, a in enumerate(args):
        if a == "-j" and i + 1 < len(args):
            jobs = int(args[i + 1])
        elif a.startswith("-j") and a[2:].isdigit():
            jobs = int(a[2:])
    for exe in (DAEMON, CTL):
        if not os.access(exe, os.X_OK):
            print("missing %s (build first)" % exe)
            print("0 passed, 1 failed")
            return 1
    tests = [(name, fn) for name, fn in load_tests() if not only or any(o in name for o in only)]
    print("integration tests: %s%s%s" % (BUILD, " (sanitizers)" if SAN else "",
                                          ", %d at a time" % jobs if jobs > 1 else ""))
    sys.stdout.flush()
    t_all = time.monotonic()
    counts = run_all(tests, max(1, jobs), verbose)
    skipped = counts[SKIPPED]
    print("integration: %.1f s%s" % (time.monotonic() - t_all, ", %d skipped" % skipped if skipped else ""))
    print("%d passed, %d failed" % (counts[PASSED], counts[FAILED]))
    return 1 if counts[FAILED] else 0


if __name__ == "__main__":
    sys.exit(main())
