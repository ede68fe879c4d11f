"""Isolated hosting (__Win32Provider.HostingModel): consumer providers in
wmieventd-host processes."""

import json
import os
import time

from wmitest import (
    binding, ev, event_filter, host_children, hosted_provider, lf_path, logfile_consumer, logfile_provider,
    new_dir_daemon, q, read_lines, test, TEST_EVENT_CLASS, TEST_PLUGIN_DIR, tour_objects, wait_for)


def record_consumer(cls, name, filename, **extra):
    c = {"__CLASS": cls, "Name": name, "Filename": filename}
    c.update(extra)
    return c


def host_stats(c, provider):
    return c.stats()["Stats"]["providers"][provider].get("host")


def consumer_stats(c, path):
    return c.stats()["Stats"]["consumers"][path]


def maps_of(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return f.read()
    except OSError:
        return ""


@test
def test_hosting_isolated_delivery():
    """Events reach a consumer whose provider runs in wmieventd-host; the
    plugin is loaded there and not in the daemon."""
    def objs(dr):
        return [TEST_EVENT_CLASS] + hosted_provider("Isolated", "record.so", "Test_RecordConsumer",
                                                     "NetworkServiceHost") + [
            event_filter("AllTest", "SELECT * FROM Test_Event"),
            record_consumer("Test_RecordConsumer", "Rec", os.path.join(dr, "rec.log")),
            binding("AllTest", "Test_RecordConsumer.Name=" + q("Rec")),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(50):
            c.send(ev("isolated-%d" % i, Seq=i))
        c.ping()
        wait_for(lambda: len(read_lines(d.path("rec.log"))) >= 50, "50 recorded events")
        got = [json.loads(l)["event"] for l in read_lines(d.path("rec.log"))]
        assert [e["Seq"] for e in got] == list(range(50)), "order or content changed: %r" % got[:5]
        assert got[0]["__CLASS"] == "Test_Event" and got[0]["Message"] == "isolated-0", got[0]
        st = c.stats()["Stats"]
        p = st["providers"]["Isolated"]
        assert p["state"] == "loaded" and "in host" in p["message"], p
        h = p.get("host")
        assert h is not None, "no host entry in Stats: %r" % p
        assert h["state"] == "running" and h["restarts"] == 0 and h["crashes"] == 0, h
        assert h["hard_limit_ms"] == 1000 and h["hosting_model"] == "NetworkServiceHost", h
        kids = host_children(d.proc.pid)
        assert list(kids) == [h["pid"]], (kids, h)
        assert "record.so" in maps_of(h["pid"]), "record.so is not mapped in the host"
        assert "record.so" not in maps_of(d.proc.pid), "record.so is mapped in the daemon"
        cs = st["consumers"]["Test_RecordConsumer.Name=" + q("Rec")]
        assert cs["delivered"] == 50 and cs["failed"] == 0, cs
        hpid = h["pid"]
        d.stop()
        # The host left with the daemon, asked to exit.
        assert not os.path.exists("/proc/%d" % hpid) or open("/proc/%d/stat" % hpid).read().split()[2] == "Z", \
            "the host outlived the daemon"


@test
def test_hosting_crash_survived():
    """A plugin that aborts takes its host down, not the daemon: the batch
    is redelivered once to a restarted host, then counted as failed; later
    events are delivered; every event is delivered or failed."""
    path = "Test_CrashConsumer.Name=" + q("Crashy")

    def objs(dr):
        return [TEST_EVENT_CLASS] + hosted_provider("Crashy", "crash.so", "Test_CrashConsumer", "SelfHost") + [
            event_filter("AllTest", "SELECT * FROM Test_Event"),
            record_consumer("Test_CrashConsumer", "Crashy", os.path.join(dr, "crash.log")),
            binding("AllTest", path),
        ] + logfile_provider() + [
            event_filter("Failures", "SELECT * FROM __ConsumerFailureEvent"),
            logfile_consumer("FailLog", os.path.join(dr, "failures.log"), "%ErrorCode% %Event.Message%"),
            binding("Failures", lf_path("FailLog")),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        sent = 0

        def send_and_settle(message):
            nonlocal sent
            c.send(ev(message, Seq=sent))
            sent += 1
            c.ping()
            return wait_for(lambda: (lambda s: s if s["delivered"] + s["failed"] == sent else None)(
                consumer_stats(c, path)), "event %d (%s) delivered or failed" % (sent, message))
        send_and_settle("before")
        pid0 = host_stats(c, "Crashy")["pid"]
        s = send_and_settle("crash")
        assert s["failed"] == 1 and s["last_error"] == "WBEM_E_PROVIDER_FAILURE", s
        c.ping()  # the daemon is alive
        s = send_and_settle("after")
        assert s["delivered"] == 2 and s["failed"] == 1, s
        # A plugin that crashes once: the redelivery succeeds.
        s = send_and_settle("crash once")
        assert s["delivered"] == 3 and s["failed"] == 1, s
        h = host_stats(c, "Crashy")
        assert h["crashes"] == 3 and h["restarts"] == 3, h
        assert h["redelivered_batches"] == 2 and h["failed_batches"] == 1, h
        assert h["pid"] != pid0 and h["state"] == "running", (pid0, h)
        assert h.get("last_exit", "").startswith("killed by signal 6"), h
        assert list(host_children(d.proc.pid)) == [h["pid"]], host_children(d.proc.pid)
        msgs = [json.loads(l)["event"]["Message"] for l in read_lines(d.path("crash.log"))]
        assert msgs == ["before", "after", "crash once"], msgs
        assert len(d.log_lines("host Crashy", "died: killed by signal 6")) == 3, d.log()
        # The one event lost is accounted for by a failure event (late calls
        # during restarts may add WBEM_E_PROVIDER_TIMED_OUT reports).
        failed = "%d crash" % 0x80041004  # WBEM_E_PROVIDER_FAILURE
        wait_for(lambda: failed in read_lines(d.path("failures.log")), "the failure event")
        assert [l for l in read_lines(d.path("failures.log")) if not l.startswith("%d " % 0x80041088)] == [failed], \
            read_lines(d.path("failures.log"))
        d.stop()


@test
def test_hosting_hang_killed():
    """A call that runs past the hard limit (10 x the 100 ms deadline) gets
    its host killed and restarted; the batch is redelivered once, hangs
    again, and fails with WBEM_E_PROVIDER_TIMED_OUT."""
    path = "Test_CrashConsumer.Name=" + q("Hangs")

    def objs(dr):
        return [TEST_EVENT_CLASS] + hosted_provider("Hangs", "crash.so", "Test_CrashConsumer",
                                                     "LocalServiceHost") + [
            event_filter("AllTest", "SELECT * FROM Test_Event"),
            record_consumer("Test_CrashConsumer", "Hangs", os.path.join(dr, "hang.log")),
            binding("AllTest", path),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        t0 = time.monotonic()
        c.send(ev("hang"))
        c.ping()
        s = wait_for(lambda: (lambda s: s if s["failed"] == 1 else None)(consumer_stats(c, path)),
                     "the hanging batch counted as failed")
        took = time.monotonic() - t0
        assert s["last_error"] == "WBEM_E_PROVIDER_TIMED_OUT", s
        assert took >= 2.0, "failed after %.2f s, before two hard limits of 1 s" % took
        c.ping()
        c.send(ev("later"))
        c.ping()
        wait_for(lambda: consumer_stats(c, path)["delivered"] == 1, "the next event delivered")
        h = host_stats(c, "Hangs")
        assert h["hangs_killed"] == 2 and h["crashes"] == 0 and h["restarts"] == 2, h
        assert h["redelivered_batches"] == 1 and h["failed_batches"] == 1, h
        assert len(d.log_lines("host Hangs", "hard limit of 1000 ms")) == 2, d.log()
        assert [json.loads(l)["event"]["Message"] for l in read_lines(d.path("hang.log"))] == ["later"]
        d.stop()


@test
def test_hosting_load_failures_reported():
    """A plugin that cannot be loaded in its host, and an unknown
    HostingModel, are reported like in-process failures; the rest runs."""
    kinds = [("HostMissing", os.path.join(TEST_PLUGIN_DIR, "no-such-plugin.so"), "Test_HMissingConsumer",
              "NetworkServiceHost", "WBEM_E_PROVIDER_LOAD_FAILURE", "no-such-plugin.so"),
             ("HostInitFails", "init_fails.so", "Test_HInitFailsConsumer", "NetworkServiceHost:Broken",
              "WBEM_E_INITIALIZATION_FAILURE", "WBEM_E_FAILED"),
             ("HostBadAbi", "bad_abi.so", "Test_HBadAbiConsumer", "Decoupled:Com",
              "WBEM_E_PROVIDER_LOAD_FAILURE", "ABI 99"),
             ("BadModel", "record.so", "Test_BadModelConsumer", "SomewhereElse",
              "WBEM_E_INVALID_PROVIDER_REGISTRATION", "HostingModel \"SomewhereElse\""),
             ("EmptyGroup", "record.so", "Test_EmptyGroupConsumer", "NetworkServiceHost:",
              "WBEM_E_INVALID_PROVIDER_REGISTRATION", "HostingModel")]

    def objs(dr):
        o = tour_objects(dr)
        for name, lib, cls, model, _, _ in kinds:
            o += hosted_provider(name, lib, cls, model, {"Filename": "string"})
            o.append({"__CLASS": cls, "Name": name + "Consumer", "Filename": os.path.join(dr, name + ".log")})
            o.append(binding("AllTest", "%s.Name=%s" % (cls, q(name + "Consumer"))))
        # In-process, explicitly: loads in the daemon.
        o += hosted_provider("Explicit", "record.so", "Test_RecordConsumer", "InProcess")
        o.append(record_consumer("Test_RecordConsumer", "Rec", os.path.join(dr, "rec.log")))
        o.append(binding("AllTest", "Test_RecordConsumer.Name=" + q("Rec")))
        return o
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(3):
            c.send(ev("still-delivered-%d" % i))
        c.ping()
        wait_for(lambda: len(read_lines(d.path("events.log"))) >= 3, "3 lines from the good consumer")
        wait_for(lambda: len(read_lines(d.path("rec.log"))) >= 3, "3 lines from the in-process consumer")
        st = c.stats()["Stats"]
        for name, lib, cls, model, status, why in kinds:
            lines = d.log_lines("provider %s:" % name, "its consumers get nothing")
            assert len(lines) == 1, "expected one log line for provider %s, got %r" % (name, lines)
            assert status in lines[0] and why in lines[0], lines[0]
            p = st["providers"][name]
            assert p["state"] != "loaded" and p["status"] == status and why in p["message"], (name, p)
            assert "host" not in p, p
            cs = st["consumers"]["%s.Name=%s" % (cls, q(name + "Consumer"))]
            assert cs["attached"] is False and cs["delivered"] == 0, (name, cs)
        assert st["providers"]["Explicit"]["state"] == "loaded", st["providers"]["Explicit"]
        assert "host" not in st["providers"]["Explicit"], st["providers"]["Explicit"]
        assert "record.so" in maps_of(d.proc.pid), "InProcess: record.so is not loaded in the daemon"
        # Hosts whose only provider failed are gone.
        wait_for(lambda: host_children(d.proc.pid) == {}, "no host left running")
        d.stop()


@test
def test_hosting_groups():
    """Providers with the same HostingModel ":GroupName" share one host;
    without a group each provider has its own."""
    names = [("GroupA", "NetworkServiceHost:Mine"), ("GroupB", "NetworkServiceHost:Mine"),
             ("SoloC", "NetworkServiceHost"), ("SoloD", "NetworkServiceHost")]

    def objs(dr):
        o = [TEST_EVENT_CLASS, event_filter("AllTest", "SELECT * FROM Test_Event")]
        for name, model in names:
            cls = "Test_%sConsumer" % name
            o += hosted_provider(name, "record.so", cls, model)
            o.append(record_consumer(cls, name, os.path.join(dr, name + ".log")))
            o.append(binding("AllTest", "%s.Name=%s" % (cls, q(name))))
        return o
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        c.send(ev("to-all"))
        c.ping()
        for name, _ in names:
            wait_for(lambda: len(read_lines(d.path(name + ".log"))) == 1, "the event at " + name)
        pids = {name: host_stats(c, name)["pid"] for name, _ in names}
        assert pids["GroupA"] == pids["GroupB"], pids
        assert len({pids["GroupA"], pids["SoloC"], pids["SoloD"]}) == 3, pids
        kids = host_children(d.proc.pid)
        assert sorted(kids) == sorted(set(pids.values())), (kids, pids)
        assert kids[pids["GroupA"]][1:3] == ["-g", "NetworkServiceHost:Mine"], kids
        assert kids[pids["SoloC"]][1:3] == ["-g", "SoloC"], kids
        d.stop()


@test
def test_hosting_forgets_a_removed_consumer_of_a_shared_sink():
    """Two logical consumers share one physical consumer in the host; a
    reload removes one: the host forgets it (no record left behind), the
    other keeps delivering."""
    props = {"Filename": "string", "DelayMs": "uint32", "SharedSink": "boolean"}

    def objs(dr, both=True):
        o = [TEST_EVENT_CLASS] + hosted_provider("Shared", "record.so", "Test_RecordConsumer", "SelfHost", props) + [
            event_filter("AllTest", "SELECT * FROM Test_Event"),
            record_consumer("Test_RecordConsumer", "One", os.path.join(dr, "shared.log"), SharedSink=True),
            binding("AllTest", "Test_RecordConsumer.Name=" + q("One")),
        ]
        if both:
            o += [record_consumer("Test_RecordConsumer", "Two", os.path.join(dr, "shared.log"), SharedSink=True),
                  binding("AllTest", "Test_RecordConsumer.Name=" + q("Two"))]
        return o
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        c.send(ev("first"))
        c.ping()
        wait_for(lambda: len(read_lines(d.path("shared.log"))) == 2, "both consumers' copies")
        assert host_stats(c, "Shared")["consumers"] == 2, host_stats(c, "Shared")
        with open(os.path.join(d.dir, "conf.d", "10-test.json"), "w") as f:
            json.dump(objs(d.dir, both=False), f)
        assert c.request("Reload")["Status"] == 0
        wait_for(lambda: host_stats(c, "Shared")["consumers"] == 1, "the removed consumer forgotten")
        c.send(ev("second"))
        c.ping()
        wait_for(lambda: len(read_lines(d.path("shared.log"))) == 3, "the remaining consumer")
        d.stop()
