"""A consumer acts as its creator (issue 12, docs/security.md): the consumers
of an ordinary user, made by a user the test creates with useradd, run in
a wmieventd-host process with that user's uid, gid and groups, so a
LogFile consumer aimed at /etc or /root writes nothing there, a rotation of
a file the user cannot touch leaves it alone, each refusal raises
__ConsumerFailureEvent with WBEM_E_ACCESS_DENIED, and the administrator's
own consumers go on."""

import contextlib
import os
import pwd
import shutil
import subprocess

from wmitest import (Skip, binding, ev, event_filter, lf_path, logfile_consumer, new_dir_daemon, other_user_request,
                     read_lines, serial, test, tour_objects, unique, wait_for)

WBEM_E_ACCESS_DENIED = 0x80041003


@contextlib.contextmanager
def new_user():
    """A user made with useradd for this test alone, removed afterwards."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or not os.access("/usr/bin/python3", os.X_OK):
        raise Skip("needs root, useradd and /usr/bin/python3 to act as an ordinary user")
    name = unique("wmiu")
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True,
                   capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def failure_watch(dr):
    """The administrator's LogFile consumer of __ConsumerFailureEvent."""
    return [
        event_filter("Failures", "SELECT * FROM __ConsumerFailureEvent"),
        logfile_consumer("FailureLog", os.path.join(dr, "failures.log"),
                         "%ErrorCode%|%ErrorDescription%|%IntendedConsumer%"),
        binding("Failures", lf_path("FailureLog")),
    ]


def user_subscription(sock, uid, name, filename, **extra):
    """The user's own filter, LogFile consumer and binding, put as the user."""
    objs = [
        event_filter(name, "SELECT * FROM Test_Event WHERE Message = '%s'" % name),
        logfile_consumer(name + "Log", filename, "%Message%", **extra),
        binding(name, lf_path(name + "Log")),
    ]
    for o in objs:
        r = other_user_request(sock, uid, {"Method": "PutInstance", "Id": 1, "Instance": o})
        assert r["Status"] == 0, (o, r)


def failures_for(d, name):
    return [l.split("|") for l in read_lines(d.path("failures.log")) if l.endswith(name + "Log" + '"')]


@serial("creates and removes a user with useradd")
@test
def test_consumer_acts_as_its_creator():
    with new_user() as pw:
        uid = pw.pw_uid

        def objs(dr):
            return tour_objects(dr) + failure_watch(dr)

        settings = {"user_consumer_providers": ["LogFileEventConsumer"]}
        with new_dir_daemon(objs, settings) as d:
            # A root-only directory holding a root-owned 0600 file, which a
            # rotation (MaximumFileSize: 1) would rename aside.
            vault = d.path("vault")
            os.mkdir(vault, 0o755)
            victim = os.path.join(vault, "secret")
            with open(victim, "w") as f:
                f.write("root's\n")
            os.chmod(victim, 0o600)
            # A directory of the user's own.
            home = d.path("home")
            os.mkdir(home, 0o755)
            os.chown(home, uid, pw.pw_gid)
            d.start()
            os.chmod(d.socket, 0o666)
            os.chmod(d.dir, 0o755)
            c = d.connect()
            etc_name, root_name = "/etc/" + unique("wmit-"), "/root/" + unique("wmit-")
            cases = [("Etc", etc_name, {}), ("RootHome", root_name, {}),
                     ("Rotate", victim, {"MaximumFileSize": 1}), ("Own", os.path.join(home, "own.log"), {})]
            for name, filename, extra in cases:
                user_subscription(d.socket, uid, name, filename, **extra)
            for name, _, _ in cases:
                c.send(ev(name))
                c.send(ev(name))
            c.ping()
            # The user's own file is written, as the user.
            own = os.path.join(home, "own.log")
            wait_for(lambda: read_lines(own) == ["Own", "Own"], "the user's own consumer")
            assert os.stat(own).st_uid == uid and os.stat(own).st_gid == pw.pw_gid, os.stat(own)
            # Each refused write is a __ConsumerFailureEvent with
            # WBEM_E_ACCESS_DENIED, and nothing was written or renamed.
            for name, filename, _ in cases[:3]:
                wait_for(lambda: len(failures_for(d, name)) == 2, "two failure events for %s" % name)
                assert all(int(f[0]) == WBEM_E_ACCESS_DENIED for f in failures_for(d, name)), failures_for(d, name)
                # ErrorDescription names the file (wmi_host.set_error,
                # carried from the host process).
                assert all(filename in f[1] for f in failures_for(d, name)), failures_for(d, name)
            assert not os.path.exists(etc_name) and not os.path.exists(root_name)
            assert sorted(os.listdir(vault)) == ["secret"], os.listdir(vault)
            with open(victim) as f:
                assert f.read() == "root's\n"
            assert os.stat(victim).st_uid == 0 and (os.stat(victim).st_mode & 0o777) == 0o600
            # The user's consumers run in a host process of the user's
            # identity, shown in Stats beside the daemon's own record.
            provs = c.stats()["Stats"]["providers"]
            assert "LogFileEventConsumer@%d:%d" % (uid, pw.pw_gid) in provs, sorted(provs)
            # The administrator's consumers go on, in the daemon.
            c.send(ev("admin", Severity=5))
            c.ping()
            wait_for(lambda: "sev=5 msg=admin" in read_lines(d.path("events.log")), "the administrator's consumer")
            d.stop()
