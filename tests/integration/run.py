#!/usr/bin/env python3
"""Integration tests of wmieventd and wmieventctl (python3 stdlib only).

    B=build python3 tests/integration/run.py [-v] [-k SUBSTRING]...

B is the build dir (build, or build-san for the ASan+UBSan build; `make
integration` sets it).  Each test starts wmieventd on a temporary config
in a fresh directory under /tmp, talks to it over its socket, stops it with
SIGTERM and checks that it exited 0 within a bound and, for sanitizer
builds, that its stderr carries no sanitizer report.  One line per test;
the last line is exactly "N passed, M failed"; the exit status is 1 when
anything failed.  -k runs only the tests whose name contains SUBSTRING; -v
prints the daemon's log of failed tests in full.

This file is the runner only.  The tests are the functions registered
with @test in the modules tests/integration/t_*.py, imported in the order
of their file names (a module's tests run in the order it defines them);
their shared helpers are in tests/integration/wmitest.py.
"""

import importlib
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import wmitest
from wmitest import BUILD, CTL, DAEMON, SAN, Skip


def load_tests():
    """Import every t_*.py; each registers its tests in wmitest.TESTS."""
    for f in sorted(os.listdir(HERE)):
        if f.startswith("t_") and f.endswith(".py"):
            importlib.import_module(f[:-3])
    return list(wmitest.TESTS)


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    only = [args[i + 1] for i, a in enumerate(args) if a == "-k" and i + 1 < len(args)]
    for exe in (DAEMON, CTL):
        if not os.access(exe, os.X_OK):
            print("missing %s (build first)" % exe)
            print("0 passed, 1 failed")
            return 1
    tests = load_tests()
    print("integration tests: %s%s" % (BUILD, " (sanitizers)" if SAN else ""))
    passed = failed = skipped = 0
    t_all = time.monotonic()
    for name, fn in tests:
        if only and not any(o in name for o in only):
            continue
        del wmitest.CURRENT_LOGS[:]
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("skip %s: %s" % (name, e))
            continue
        except Exception as e:
            failed += 1
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
            continue
        passed += 1
        print("ok   %s (%.2fs)" % (name, time.monotonic() - t0))
    sys.stdout.flush()
    print("integration: %.1f s%s" % (time.monotonic() - t_all, ", %d skipped" % skipped if skipped else ""))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
