"""Reload (SIGHUP, `wmieventctl reload`) and the repository as a source of
intrinsic events."""

import json
import os
import signal
import time

from wmitest import (
    binding, ev, event_filter, lf_path, logfile_consumer, new_dir_daemon, q, read_lines, run_ctl, test,
    test_provider, tour_objects, wait_for)


def watch_objects(dr):
    """The tour, plus two repository watchers: one with WMI's usual WITHIN
    form, one without (repository events need no polling)."""
    return tour_objects(dr) + [
        event_filter("WatchConsumers",
                     "SELECT * FROM __InstanceOperationEvent WHERE TargetInstance ISA '__EventConsumer'"),
        logfile_consumer("WatchLog", os.path.join(dr, "watch.log"),
                         "%__CLASS% %TargetInstance.__CLASS% %TargetInstance.Name% "
                         "prev=%PreviousInstance.Text%"),
        binding("WatchConsumers", lf_path("WatchLog")),
        event_filter("NewFilters",
                     "SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA '__EventFilter'"),
        logfile_consumer("FilterLog", os.path.join(dr, "filters.log"), "new filter %TargetInstance.Name%"),
        binding("NewFilters", lf_path("FilterLog")),
    ]


def write_objects(d, name, objs):
    path = os.path.join(d.dir, "conf.d", name)
    with open(path + ".tmp", "w") as f:
        json.dump(objs, f, indent=1)
    os.rename(path + ".tmp", path)


def extra_objects(d, text):
    return [
        event_filter("Extra", "SELECT * FROM Test_Event WHERE Severity > 1"),
        logfile_consumer("ExtraLog", d.path("extra.log"), text),
        binding("Extra", lf_path("ExtraLog")),
    ]


@test
def test_reload_raises_repository_events():
    with new_dir_daemon(watch_objects) as d:
        d.start()
        c = d.connect()
        c.send(ev("one"))
        wait_for(lambda: read_lines(d.path("events.log")) == ["sev=3 msg=one"], "event one")

        # Create: a consumer, a filter and a binding appear; SIGHUP.
        write_objects(d, "20-extra.json", extra_objects(d, "extra %Message%"))
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "__InstanceCreationEvent LogFileEventConsumer ExtraLog prev=" in read_lines(d.path("watch.log")),
                 "the creation event of ExtraLog")
        wait_for(lambda: read_lines(d.path("filters.log")) == ["new filter Extra"], "the creation event of Extra")
        # Only what changed raised events: the unchanged consumers did not.
        assert not any("TestLog" in l or "WatchLog" in l for l in read_lines(d.path("watch.log"))), \
            read_lines(d.path("watch.log"))
        c.send(ev("two"))
        wait_for(lambda: read_lines(d.path("extra.log")) == ["extra two"], "event two in the new consumer")
        wait_for(lambda: read_lines(d.path("events.log")) == ["sev=3 msg=one", "sev=3 msg=two"], "event two")
        # The unchanged consumer and filter kept their counters.
        s = c.stats()["Stats"]
        assert s["consumers"][lf_path("TestLog")]["delivered"] == 2, s["consumers"][lf_path("TestLog")]
        assert s["filters"]["AllTest"]["matched"] == 2, s["filters"]["AllTest"]
        assert s["events"]["received"] >= 2, s["events"]

        # Modify, through wmieventctl reload: the previous instance comes along.
        write_objects(d, "20-extra.json", extra_objects(d, "changed %Message%"))
        rc, out, err = run_ctl(["reload"], sock=d.socket)
        assert rc == 0 and out.startswith("reloaded: "), (rc, out, err)
        wait_for(lambda: "__InstanceModificationEvent LogFileEventConsumer ExtraLog prev=extra %Message%"
                 in read_lines(d.path("watch.log")), "the modification event of ExtraLog")
        c.send(ev("three"))
        wait_for(lambda: "changed three" in read_lines(d.path("extra.log")), "event three, new text")
        assert read_lines(d.path("extra.log")) == ["extra two", "changed three"], read_lines(d.path("extra.log"))

        # Delete.
        os.unlink(d.path("conf.d/20-extra.json"))
        rc, out, err = run_ctl(["reload"], sock=d.socket)
        assert rc == 0, (rc, out, err)
        wait_for(lambda: any(l.startswith("__InstanceDeletionEvent LogFileEventConsumer ExtraLog")
                             for l in read_lines(d.path("watch.log"))), "the deletion event of ExtraLog")
        c.send(ev("four"))
        wait_for(lambda: read_lines(d.path("events.log"))[-1:] == ["sev=3 msg=four"], "event four")
        s = c.stats()["Stats"]
        assert lf_path("ExtraLog") not in s["consumers"] and "Extra" not in s["filters"], s
        assert read_lines(d.path("extra.log")) == ["extra two", "changed three"], read_lines(d.path("extra.log"))
        assert len(read_lines(d.path("watch.log"))) == 3, read_lines(d.path("watch.log"))
        d.stop()


@test
def test_reload_refused_keeps_running_config():
    with new_dir_daemon(tour_objects) as d:
        d.start()
        c = d.connect()
        # Not JSON: refused with the file named; nothing changes.
        with open(d.path("conf.d/30-bad.json"), "w") as f:
            f.write('[{"__CLASS": "__EventFilter", "Name": "X",\n  "Query": }]\n')
        rc, out, err = run_ctl(["reload"], sock=d.socket)
        assert rc == 1 and "30-bad.json:2:" in err, (rc, out, err)
        # A dangling binding: refused with the object named.
        write_objects(d, "30-bad.json", [binding("NoSuchFilter", lf_path("TestLog"))])
        r = c.request("Reload")
        assert r["StatusName"] == "WBEM_E_NOT_FOUND" and "30-bad.json" in r["Source"], r
        assert "NoSuchFilter" in r["Message"], r
        # SIGHUP logs the refusal.
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: d.log_lines("reload refused", "30-bad.json"), "the refusal in the log")
        c.send(ev("still"))
        wait_for(lambda: read_lines(d.path("events.log")) == ["sev=3 msg=still"], "routing goes on")
        # Fixed: accepted.
        os.unlink(d.path("conf.d/30-bad.json"))
        r = c.request("Reload")
        assert r["Status"] == 0 and r["Objects"] == len(tour_objects(d.dir)) - 1, r
        # A filter that needs WITHIN and has none is refused at reload as at start.
        write_objects(d, "30-bad.json", [event_filter(
            "P", "SELECT * FROM __InstanceCreationEvent WHERE TargetInstance ISA 'Win32_Process'")])
        r = c.request("Reload")
        assert r["StatusName"] == "WBEMESS_E_REGISTRATION_TOO_PRECISE", r
        d.stop()


@test
def test_reload_drains_removed_consumer():
    """A consumer removed while events wait in its queue gets them all
    before it is released; its provider is shut down afterwards."""
    def objs(dr):
        return tour_objects(dr) + test_provider("Slow", "slow.so", "Test_SlowConsumer") + [
            {"__CLASS": "Test_SlowConsumer", "Name": "S", "Filename": os.path.join(dr, "slow.out"),
             "DelayMs": 30},
            binding("AllTest", "Test_SlowConsumer.Name=" + q("S")),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(20):
            c.send(ev("q%d" % i))
        c.ping()
        # Remove the slow consumer (and its binding) while most of its
        # events still wait, keeping the rest.
        write_objects(d, "10-test.json", tour_objects(d.dir) + test_provider("Slow", "slow.so", "Test_SlowConsumer"))
        r = c.request("Reload")
        assert r["Status"] == 0, r
        wait_for(lambda: len(read_lines(d.path("slow.out"))) == 20, "the removed consumer's queue to drain")
        got = [json.loads(l)["event"]["Message"] for l in read_lines(d.path("slow.out"))]
        assert got == ["q%d" % i for i in range(20)], got
        wait_for(lambda: "Test_SlowConsumer.Name=\"S\"" not in c.stats()["Stats"]["consumers"], "S gone from stats")
        c.send(ev("after"))
        wait_for(lambda: read_lines(d.path("events.log"))[-1:] == ["sev=3 msg=after"], "routing after reload")
        assert len(read_lines(d.path("slow.out"))) == 20
        d.stop()


@test
def test_repository_enum_and_no_within():
    """EnumInstances lists repository objects; a repository watcher needs no
    WITHIN, while a polled class still does."""
    with new_dir_daemon(watch_objects) as d:
        d.start()
        rc, out, err = run_ctl(["enum", "__EventConsumer"], sock=d.socket)
        names = sorted(json.loads(l)["Name"] for l in out.splitlines())
        assert rc == 0 and names == ["FilterLog", "TestLog", "WatchLog"], (rc, out, err)
        rc, out, err = run_ctl(["enum", "__FilterToConsumerBinding"], sock=d.socket)
        assert rc == 0 and len(out.splitlines()) == 3, (rc, out, err)
        assert not d.log_lines("WITHIN has no effect"), d.log()
        d.stop()


@test
def test_reload_keeps_group_windows():
    """An open GROUP WITHIN window of an unchanged filter survives a reload
    and reports every event counted before and after it."""
    def objs(dr):
        return tour_objects(dr) + [
            event_filter("Win", "SELECT * FROM Test_Event GROUP WITHIN 1.5"),
            logfile_consumer("WinLog", os.path.join(dr, "win.log"), "%__CLASS% n=%NumberOfEvents%"),
            binding("Win", lf_path("WinLog")),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(3):
            c.send(ev("w%d" % i))
        c.ping()
        write_objects(d, "20-extra.json", extra_objects(d, "extra %Message%"))
        r = c.request("Reload")
        assert r["Status"] == 0, r
        # A reload refused after the new router was built (a bad timer)
        # must leave the running GROUP window alone.
        write_objects(d, "30-bad.json", [{"__CLASS": "__IntervalTimerInstruction", "TimerId": "T",
                                          "IntervalBetweenEvents": 0}])
        r = c.request("Reload")
        os.unlink(d.path("conf.d/30-bad.json"))
        assert r["Status"] != 0, r
        c.send(ev("w3"))
        c.ping()
        wait_for(lambda: read_lines(d.path("win.log")), "the aggregate", timeout=10)
        assert read_lines(d.path("win.log")) == ["__AggregateEvent n=4"], read_lines(d.path("win.log"))
        d.stop()


@test
def test_event_namespace():
    """EventNamespace: a filter takes only the events raised in that
    namespace: a socket event in the namespace it names (root\\subscription
    by default), the repository's (and timers', and the engine's) in the
    namespace of their object, the built-in providers' in root\\cimv2.  An
    event's class must be one of its namespace."""
    def objs(dr):
        return tour_objects(dr) + [
            {"__GENUS": 1, "__CLASS": "Cimv2_Event", "__SUPERCLASS": "__ExtrinsicEvent",
             "__NAMESPACE": "root\\cimv2", "__PROPERTIES": {"Message": "string"}},
            event_filter("Cimv2Only", "SELECT * FROM __Event"),
            event_filter("SubOnly", "SELECT * FROM __Event"),
            logfile_consumer("Cimv2Log", os.path.join(dr, "cimv2.log"), "%__CLASS%"),
            logfile_consumer("SubLog", os.path.join(dr, "sub.log"), "%__CLASS%"),
            binding("Cimv2Only", lf_path("Cimv2Log")),
            binding("SubOnly", lf_path("SubLog")),
        ]

    def with_ns(dr):
        out = objs(dr)
        for o in out:
            if o.get("Name") == "Cimv2Only":
                o["EventNamespace"] = "\\\\.\\root\\CIMV2"
            if o.get("Name") == "SubOnly":
                o["EventNamespace"] = "//./root/subscription/"
        return out
    with new_dir_daemon(with_ns) as d:
        d.start()
        c = d.connect()
        f = c.stats()["Stats"]["filters"]
        assert f["Cimv2Only"]["event_namespace"] == "root\\cimv2", f["Cimv2Only"]
        assert f["SubOnly"]["event_namespace"] == "root\\subscription", f["SubOnly"]
        c.send(ev("x"))
        c.send({"__CLASS": "Cimv2_Event", "__NAMESPACE": "\\\\.\\ROOT\\cimv2", "Message": "bare"})
        r = c.request("Indicate", Events=[{"__CLASS": "Cimv2_Event", "Message": "req"}], Namespace="root\\cimv2")
        assert r["Status"] == 0, r
        # A class of another namespace, a namespace that does not exist.
        r = c.request("Indicate", Events=[{"__CLASS": "Cimv2_Event", "Message": "no"}])
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS" and r["Field"] == "Events[0].__CLASS", r
        r = c.request("Indicate", Events=[ev("y")], Namespace="root\\nowhere")
        assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE" and r["Field"] == "Namespace", r
        c.send({"__CLASS": "Test_Event", "__NAMESPACE": "root\\cimv2", "Message": "wrong ns"})
        c.send({"__CLASS": "Test_Event", "__NAMESPACE": "root\\nowhere", "Message": "no ns"})
        c.send({"__CLASS": "Test_Event", "__NAMESPACE": 7, "Message": "not a string"})
        c.ping()
        wait_for(lambda: read_lines(d.path("cimv2.log")).count("Cimv2_Event") == 2, "the events in root\\cimv2")
        wait_for(lambda: "Test_Event" in read_lines(d.path("sub.log")), "the socket event in root\\subscription")
        errs = c.stats()["Stats"]["connections"]["errors_by_status"]
        assert errs.get("WBEM_E_INVALID_CLASS", 0) >= 2, errs
        assert errs.get("WBEM_E_INVALID_NAMESPACE", 0) == 3, errs  # the request above, and two bare events
        write_objects(d, "20-extra.json", extra_objects(d, "extra %Message%"))
        assert c.request("Reload")["Status"] == 0
        wait_for(lambda: read_lines(d.path("sub.log")).count("__InstanceCreationEvent") == 3,
                 "the repository's events in root\\subscription")
        time.sleep(0.2)
        assert "Test_Event" not in read_lines(d.path("cimv2.log")), read_lines(d.path("cimv2.log"))
        assert "Cimv2_Event" not in read_lines(d.path("sub.log")), read_lines(d.path("sub.log"))
        assert "__InstanceCreationEvent" not in read_lines(d.path("cimv2.log")), read_lines(d.path("cimv2.log"))
        # A filter of root\\subscription cannot name a class of root\\cimv2
        # without EventNamespace: the reload is refused, naming the object.
        write_objects(d, "30-bad.json", [event_filter("NoNs", "SELECT * FROM Cimv2_Event")])
        r = c.request("Reload")
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS" and "30-bad.json: object 0" in r["Source"], r
        assert "EventNamespace" in r["Message"], r
        d.stop()
