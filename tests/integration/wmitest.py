"""Shared helpers of the integration tests (python3 stdlib only).

tests/integration/run.py is the runner; the tests live in the modules
tests/integration/t_*.py.  A test module imports what it uses from this
module, and only from it: a helper that two test modules use lives here.

A test is a function registered with @test (or add_test); its name is
the function's name without "test_".  The runner runs tests two at a
time (-j 2, as `make integration` does) unless one is marked
@serial("why"): it runs alone, never beside another test, because it
measures time or needs a quiet machine, or watches state that other
tests change (the machine's process starts, say).  Everything else a
test touches must be its own: its daemon's directory (socket, state
dir, logs, object files) from Daemon or tempfile.mkdtemp under /tmp,
process names from unique(); no fixed path, no user added to the
machine (a bare uid such as 4242 owns nothing outside the test's own
directory), no change to the runner's environment.
"""

import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.environ.get("B", "build")
BUILD = os.path.join(ROOT, B) if not os.path.isabs(B) else B
SAN = bool(os.environ.get("SAN")) or os.path.basename(BUILD.rstrip("/")).endswith("-san")
DAEMON = os.path.join(BUILD, "bin", "wmieventd")
CTL = os.path.join(BUILD, "bin", "wmieventctl")
PLUGIN_DIR = os.path.join(BUILD, "plugins")
TEST_PLUGIN_DIR = os.path.join(BUILD, "tests", "plugins")
CONFIG_CASES = os.path.join(ROOT, "tests", "data", "config")

# Generous bounds: everything is a polling loop, so these only decide how
# long a failing test takes to fail.
START_TIMEOUT = 20.0
WAIT_TIMEOUT = 20.0
EXIT_TIMEOUT = 20.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

ENV = dict(os.environ)
ENV["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
ENV["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
ENV.pop("NOTIFY_SOCKET", None)
ENV.pop("WMIEVENTD_PROC_POLL", None)
ENV.pop("WMIEVENTD_SOCKET", None)


class Skip(Exception):
    pass


# ======================================================================
# The registry of tests
# ======================================================================

TESTS = []


def add_test(name, fn):
    """Register @fn as the test called @name."""
    TESTS.append((name, fn))
    return fn


def test(fn):
    """Register @fn as a test named after it, less its "test_" prefix."""
    return add_test(fn.__name__[len("test_"):] if fn.__name__.startswith("test_") else fn.__name__, fn)


def serial(why):
    """Mark a test to run alone, never beside another one; @why says what
    it shares or measures."""
    def mark(fn):
        fn.serial = why
        return fn
    return mark


def is_serial(fn):
    return bool(getattr(fn, "serial", None))


# ======================================================================
# Helpers
# ======================================================================

def wait_for(pred, what, timeout=WAIT_TIMEOUT, interval=0.02):
    """Poll pred() until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


def check_no_sanitizer(text, who):
    for m in SANITIZER_MARKERS:
        if m in text:
            i = text.index(m)
            raise AssertionError("%s: sanitizer report:\n%s" % (who, text[max(0, i - 200):i + 3000]))


def unique(prefix="wmitest-"):
    return prefix + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def run_ctl(args, stdin=None, timeout=30, sock=None):
    cmd = [CTL] + (["-s", sock] if sock else []) + args
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=ENV)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    check_no_sanitizer(err, "wmieventctl " + " ".join(args))
    return p.returncode, out, err


# Object builders -------------------------------------------------------

def q(name):
    return '"%s"' % name


TEST_EVENT_CLASS = {
    "__GENUS": 1, "__CLASS": "Test_Event", "__SUPERCLASS": "__ExtrinsicEvent",
    "__PROPERTIES": {"Message": "string", "Severity": {"CIMType": "uint32", "Default": 3},
                     "Seq": "uint32"}}


def logfile_provider():
    return [
        {"__CLASS": "__Win32Provider", "Name": "LogFileEventConsumer", "Library": "logfile.so"},
        {"__CLASS": "__EventConsumerProviderRegistration",
         "Provider": "__Win32Provider.Name=" + q("LogFileEventConsumer"),
         "ConsumerClassNames": ["LogFileEventConsumer"]},
    ]


def test_provider(name, library, consumer_class, props=None):
    """A consumer class of our own, a provider from tests/plugins (or any
    path) and its registration."""
    if props is None:
        props = {"Filename": "string", "DelayMs": "uint32"}
    allprops = {"Name": {"CIMType": "string", "Key": True}}
    allprops.update(props)
    lib = library if "/" in library else os.path.join(TEST_PLUGIN_DIR, library)
    return [
        {"__GENUS": 1, "__CLASS": consumer_class, "__SUPERCLASS": "__EventConsumer",
         "__PROPERTIES": allprops},
        {"__CLASS": "__Win32Provider", "Name": name, "Library": lib},
        {"__CLASS": "__EventConsumerProviderRegistration",
         "Provider": "__Win32Provider.Name=" + q(name), "ConsumerClassNames": [consumer_class]},
    ]


def event_filter(name, query):
    return {"__CLASS": "__EventFilter", "Name": name, "QueryLanguage": "WQL", "Query": query}


def logfile_consumer(name, filename, text, **extra):
    c = {"__CLASS": "LogFileEventConsumer", "Name": name, "Filename": filename, "Text": text,
         "MaximumFileSize": 0}
    c.update(extra)
    return c


def binding(filter_name, consumer_path, **extra):
    b = {"__CLASS": "__FilterToConsumerBinding",
         "Filter": "__EventFilter.Name=" + q(filter_name), "Consumer": consumer_path}
    b.update(extra)
    return b


def lf_path(name):
    return "LogFileEventConsumer.Name=" + q(name)


def ev(message, **props):
    e = {"__CLASS": "Test_Event", "Message": message}
    e.update(props)
    return e


# The daemon -------------------------------------------------------------

class Conn:
    """One connection to the control socket, JSON lines both ways."""

    def __init__(self, path, timeout=WAIT_TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj) + "\n")

    def read(self):
        """The next reply line, parsed."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("the daemon closed the connection (buffered: %r)" % self.buf[:200])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, **kw):
        """Send a request and return its reply; replies to earlier lines
        that come first are an error (the caller reads those itself)."""
        self.next_id += 1
        rid = "r%d" % self.next_id
        msg = {"Method": method, "Id": rid}
        msg.update(kw)
        self.send(msg)
        r = self.read()
        if r.get("Id") != rid:
            raise AssertionError("expected the reply to %s %s, got %r" % (method, rid, r))
        return r

    def stats(self):
        r = self.request("Stats")
        assert r["Status"] == 0, r
        return r

    def ping(self):
        r = self.request("Ping")
        assert r["Status"] == 0 and r["StatusName"] == "WBEM_S_NO_ERROR", r


class Daemon:
    """wmieventd on a temporary config.  Use as a context manager."""

    def __init__(self, objects, settings=None, env=None, name="t"):
        self.dir = tempfile.mkdtemp(prefix="wmit-", dir="/tmp")
        self.socket = os.path.join(self.dir, "s.sock")
        assert len(self.socket) < 100
        self.conf = os.path.join(self.dir, "wmieventd.json")
        self.log_path = os.path.join(self.dir, "daemon.log")
        os.mkdir(os.path.join(self.dir, "conf.d"))
        cfg = {"socket": "s.sock", "state_dir": "state", "plugin_dir": PLUGIN_DIR,
               "object_dir": "conf.d", "log_level": "info"}
        cfg.update(settings or {})
        with open(self.conf, "w") as f:
            json.dump(cfg, f, indent=2)
        with open(os.path.join(self.dir, "conf.d", "10-test.json"), "w") as f:
            json.dump(objects, f, indent=1)
        self.env = dict(ENV)
        self.env.update(env or {})
        self.proc = None
        self.conns = []
        self.exit_checked = False
        self.binary = DAEMON

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, wait=True):
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.binary, "-d", "-f", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf, env=self.env, cwd=self.dir)
        if wait:
            self.wait_socket()
        return self

    def wait_socket(self):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError("wmieventd exited with %s during start-up:\n%s"
                                     % (self.proc.returncode, self.log()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.socket)
                return True
            except OSError:
                return False
            finally:
                s.close()
        wait_for(up, "the daemon's socket", START_TIMEOUT)
        # The socket listens before the process event source starts; the
        # "ready" line comes after everything.
        wait_for(lambda: " ready: " in self.log(), "the daemon's 'ready' log line", START_TIMEOUT)

    def connect(self):
        c = Conn(self.socket)
        self.conns.append(c)
        return c

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, *needles):
        return [l for l in self.log().splitlines() if all(n in l for n in needles)]

    def stop(self, sig=signal.SIGTERM, timeout=EXIT_TIMEOUT):
        """Signal the daemon and check that it exits 0, cleanly."""
        for c in self.conns:
            c.close()
        self.conns = []
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("wmieventd did not exit within %.0f s of %s" % (timeout, sig.name))
        self.exit_checked = True
        check_no_sanitizer(self.log(), "wmieventd")
        assert rc == 0, "wmieventd exited with %d after %s" % (rc, sig.name)
        assert "stopped:" in self.log(), "no 'stopped:' line in the log"
        return rc

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        for c in self.conns:
            c.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.logf.close()
        if exc_type is None and self.proc is not None and not self.exit_checked:
            raise AssertionError("test did not stop the daemon")
        if exc_type is not None:
            CURRENT_LOGS.append(self.log())
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


CURRENT_LOGS = []


def tour_objects(d_dir, text="sev=%Severity% msg=%Message%"):
    return [TEST_EVENT_CLASS] + logfile_provider() + [
        event_filter("AllTest", "SELECT * FROM Test_Event"),
        logfile_consumer("TestLog", os.path.join(d_dir, "events.log"), text),
        binding("AllTest", lf_path("TestLog")),
    ]


def new_dir_daemon(build_objects, settings=None, env=None):
    """A Daemon whose objects may name files in its own dir."""
    d = Daemon([], settings, env)
    with open(os.path.join(d.dir, "conf.d", "10-test.json"), "w") as f:
        json.dump(build_objects(d.dir), f, indent=1)
    return d

# ======================================================================
# Helpers that several test modules use
# ======================================================================

# The tour with a failing consumer (t_core, t_namespace) ------------------

def failing_consumer_objects(dr):
    """The tour, plus a consumer whose every IndicateToConsumer fails,
    bound to AllTest (Test_Event)."""
    return tour_objects(dr) + test_provider("Failing", "failing_consumer.so", "Test_FailingConsumer", {}) + [
        {"__CLASS": "Test_FailingConsumer", "Name": "Fails"},
        binding("AllTest", "Test_FailingConsumer.Name=" + q("Fails")),
    ]


# record.so and slow.so consumers (t_delivery, t_evprov, t_namespace) -----

RECORD_PROPS = {"Filename": "string", "DelayMs": "uint32", "SlowCalls": "uint32"}


def rec_objects(dr, library="record.so", cls="Test_RecordConsumer", name="Rec"):
    return test_provider(name, library, cls, RECORD_PROPS)


def rec_path(cls, name):
    return "%s.Name=%s" % (cls, q(name))


def recorded(path):
    return [json.loads(l) for l in read_lines(path)]


# Event providers: tests/plugins/evprov.c (t_evprov, t_lifecycle) ---------

PROV_EVENT_CLASS = {
    "__GENUS": 1, "__CLASS": "Test_ProvEvent", "__SUPERCLASS": "__ExtrinsicEvent",
    "__PROPERTIES": {"Message": "string", "Seq": "uint32"}}


PROV_OTHER_CLASS = {
    "__GENUS": 1, "__CLASS": "Test_ProvOther", "__SUPERCLASS": "__ExtrinsicEvent",
    "__PROPERTIES": {"Message": "string", "Seq": "uint32"}}


def ev_provider(name, queries, library="evprov.so"):
    lib = library if "/" in library else os.path.join(TEST_PLUGIN_DIR, library)
    return [{"__CLASS": "__Win32Provider", "Name": name, "Library": lib},
            {"__CLASS": "__EventProviderRegistration", "Provider": "__Win32Provider.Name=" + q(name),
             "EventQueryList": queries}]


def evp_env(d_dir):
    path = os.path.join(d_dir, "evp")
    os.makedirs(path, exist_ok=True)
    return {"WMI_TEST_EVPROV_DIR": path}


class EvProv:
    """The evprov.so instance called @name in daemon @d."""

    def __init__(self, d, name):
        self.d = d
        self.name = name
        self.log_path = os.path.join(d.dir, "evp", name + ".log")
        self.cmd_path = os.path.join(d.dir, "evp", name + ".cmd")

    def lines(self):
        out = []
        for l in read_lines(self.log_path):
            try:
                out.append(json.loads(l))
            except ValueError:
                pass
        return out

    def calls(self, call):
        return [l for l in self.lines() if l.get("call") == call]

    def wait_loaded(self):
        wait_for(lambda: self.calls("provide_events"), "%s's provide_events" % self.name)

    def ask(self, command, timeout=WAIT_TIMEOUT):
        word = command.split(" ", 1)[0]
        before = len(self.lines())
        fd = os.open(self.cmd_path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (command + "\n").encode())
        finally:
            os.close(fd)

        def reply():
            for l in self.lines()[before:]:
                if l.get("reply") in (word, "error"):
                    return l
            return None
        r = wait_for(reply, "the reply to %r" % command[:60], timeout)
        assert r.get("reply") != "error", r
        return r


def prov_event(msg, cls="Test_ProvEvent", **kw):
    e = {"__CLASS": cls, "Message": msg}
    e.update(kw)
    return json.dumps(e)


def rewrite(d, objs):
    path = os.path.join(d.dir, "conf.d", "10-test.json")
    with open(path + ".tmp", "w") as f:
        json.dump(objs, f, indent=1)
    os.rename(path + ".tmp", path)


# Isolated hosting (t_hosting, t_lifecycle) -------------------------------

def hosted_provider(name, library, consumer_class, model, props=None):
    """test_provider() with a HostingModel on its __Win32Provider."""
    objs = test_provider(name, library, consumer_class, props)
    objs[1]["HostingModel"] = model
    return objs


def host_children(daemon_pid):
    """{pid: argv} of the wmieventd-host processes whose parent is the daemon."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields after the last ")".
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == daemon_pid and fields[0] != "Z" and argv and \
                os.path.basename(argv[0].decode()) == "wmieventd-host":
            out[int(d)] = [a.decode() for a in argv if a]
    return out


# The repository at run time (t_repo, t_namespace) ------------------------

def put(c, inst, **kw):
    return c.request("PutInstance", Instance=inst, **kw)


def other_user_request(sock, uid, msg):
    """Send one request as @uid; returns the reply."""
    code = ("import socket,json,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
            "s.sendall((sys.argv[2]+'\\n').encode()); b=b''\n"
            "while not b.endswith(b'\\n'):\n    b+=s.recv(65536)\n"
            "print(b.decode())")
    pr = subprocess.run(["/usr/bin/python3", "-c", code, sock, json.dumps(msg)], capture_output=True, text=True,
                        timeout=30, preexec_fn=lambda: (os.setgid(uid), os.setuid(uid)))
    assert pr.returncode == 0, pr
    return json.loads(pr.stdout)


# Temporary consumers (t_watch, t_namespace) ------------------------------

def wrequest(c, method, **kw):
    """Send a request on a connection that may also carry event lines;
    return (the reply, the lines that came before it)."""
    c.next_id += 1
    rid = "w%d" % c.next_id
    msg = {"Method": method, "Id": rid}
    msg.update(kw)
    c.send(msg)
    before = []
    while True:
        r = c.read()
        if r.get("Id") == rid:
            return r, before
        before.append(r)


def subscribe(c, query, **kw):
    r, before = wrequest(c, "ExecNotificationQuery", QueryLanguage="WQL", Query=query, **kw)
    assert r["Status"] == 0 and isinstance(r.get("QueryId"), int), r
    assert not before, before
    return r["QueryId"]


def read_events(c, n):
    """The next n lines of a watching connection."""
    return [c.read() for _ in range(n)]
