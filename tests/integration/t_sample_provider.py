"""contrib/sample-provider, built out of tree against an installed tree
with pkg-config alone, loaded by the installed daemon."""

import errno
import json
import os
import shutil
import subprocess
import tempfile
import time

from wmitest import B, Daemon, ENV, logfile_provider, read_lines, ROOT, SAN, Skip, test, wait_for


def sample_provider_build(tmp):
    """`make install DESTDIR=` into @tmp, then build contrib/sample-provider
    there with PKG_CONFIG_PATH alone.  Returns (installed prefix, .so)."""
    prefix = "/opt/wmievent-test"
    dest = os.path.join(tmp, "dest")
    p = subprocess.run(["make", "-s", "-C", ROOT, "install", "B=" + B, "PREFIX=" + prefix, "DESTDIR=" + dest],
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    inst = dest + prefix
    # pkg-config must see the tree where it is, not where it will be (as
    # in the sample consumer's test).
    with open(os.path.join(inst, "lib/pkgconfig/wmievent.pc")) as f:
        pc = f.read()
    pcdir = os.path.join(tmp, "pc")
    os.makedirs(pcdir)
    with open(os.path.join(pcdir, "wmievent.pc"), "w") as f:
        f.write(pc.replace(prefix, inst))
    src = os.path.join(tmp, "sample-provider")
    shutil.copytree(os.path.join(ROOT, "contrib", "sample-provider"), src, ignore=shutil.ignore_patterns("*.so"))
    env = dict(ENV)
    env["PKG_CONFIG_PATH"] = pcdir
    # CFLAGS adds -Werror; the Makefile's own strict warning list stays on.
    p = subprocess.run(["make", "-C", src, "CFLAGS=-O2 -g -Werror"], capture_output=True, env=env, timeout=120)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()[-2000:]
    so = os.path.join(src, "sample_fifo.so")
    assert os.path.exists(so), "make did not produce sample_fifo.so"
    return inst, so


def fifo_has_reader(path):
    """Whether some process has @path open for reading: a non-blocking
    open for writing fails with ENXIO otherwise (ENOENT: no FIFO yet)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno in (errno.ENXIO, errno.ENOENT):
            return False
        raise
    os.close(fd)
    return True


def sample_subscription(log):
    """sample-subscription.json with its log files moved to @log."""
    with open(os.path.join(ROOT, "contrib", "sample-provider", "sample-subscription.json")) as f:
        objs = json.load(f)
    for o in objs:
        if o["__CLASS"] == "LogFileEventConsumer":
            o["Filename"] = log
            o["MaximumFileSize"] = 0
    return objs


@test
def test_sample_provider_out_of_tree():
    """The sample event provider builds out of tree, loads in the installed
    daemon, stays idle (FIFO closed) while nothing subscribes, reads its
    FIFO once a subscription comes with a reload, routes a line event and a
    stats event (from its restricted sink), and goes idle again when the
    subscription goes."""
    if SAN:
        raise Skip("the installed tree is checked with the plain build")
    tmp = tempfile.mkdtemp(prefix="wmit-", dir="/tmp")
    try:
        inst, so = sample_provider_build(tmp)
        fifo = os.path.join(tmp, "in.fifo")
        log = os.path.join(tmp, "sample-fifo.log")
        with open(os.path.join(ROOT, "contrib", "sample-provider", "sample-provider.json")) as f:
            registration = json.load(f)
        for o in registration:
            if o["__CLASS"] == "__Win32Provider":
                o["Library"] = so
        env = {"LD_LIBRARY_PATH": os.path.join(inst, "lib"), "SAMPLE_FIFO_PATH": fifo,
               "SAMPLE_FIFO_STATS_MS": "200"}
        with Daemon(registration + logfile_provider(), {"plugin_dir": os.path.join(inst, "lib/wmievent/plugins")},
                    env) as d:
            d.binary = os.path.join(inst, "sbin/wmieventd")
            d.start()
            c = d.connect()
            # Nobody listens: whether or not the host loaded the provider
            # yet, nothing may read the FIFO.
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                assert not fifo_has_reader(fifo), "the FIFO is read while nothing subscribes"
                time.sleep(0.1)

            # A subscription to both classes: the provider wakes up.
            with open(d.path("conf.d/20-subscription.json"), "w") as f:
                json.dump(sample_subscription(log), f, indent=1)
            r = c.request("Reload")
            assert r["Status"] == 0, r
            wait_for(lambda: fifo_has_reader(fifo), "the provider to open its FIFO")
            assert d.log_lines("someone listens"), "no log line says the provider woke up"
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(fd, b"hello from the fifo\n")
            finally:
                os.close(fd)
            want_line = "line 19 hello from the fifo"
            wait_for(lambda: want_line in read_lines(log), "'%s' in %s" % (want_line, log))
            # Stats come through the restricted sink every 200 ms; the
            # filter keeps the intervals that saw lines.
            want_stats = "stats 1 lines 19 bytes"
            wait_for(lambda: want_stats in read_lines(log), "'%s' in %s" % (want_stats, log))
            got = read_lines(log)
            assert got.count(want_line) == 1 and got.count(want_stats) == 1, got

            # The subscription goes: the provider closes its FIFO again
            # (it polls is_active every second besides the notifications).
            os.unlink(d.path("conf.d/20-subscription.json"))
            r = c.request("Reload")
            assert r["Status"] == 0, r
            wait_for(lambda: not fifo_has_reader(fifo), "the provider to close its FIFO", 5)
            assert d.log_lines("nobody listens"), "no log line says the provider went idle"
            d.stop()
        assert os.path.exists(fifo), "the provider removed its FIFO"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
