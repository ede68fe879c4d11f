"""The delivery engine: synchronous and asynchronous delivery, batching,
the sink deadline, suspension, failure and drop events."""

import json
import os
import shutil
import subprocess
import time

from wmitest import (
    binding, DAEMON, Daemon, ev, event_filter, lf_path, logfile_consumer, new_dir_daemon, q, read_lines,
    rec_objects, rec_path, recorded, serial, test, test_provider, tour_objects, wait_for)


def report_watch(dr, cls="__EventDroppedEvent", fname="reports.log"):
    """A LogFile consumer of the engine's reports: class, code, message of
    the event concerned, the consumer it was meant for, and the rest."""
    return [
        event_filter("Reports", "SELECT * FROM %s" % cls),
        logfile_consumer("ReportLog", os.path.join(dr, fname),
                         "%__CLASS%|%ErrorCode%|%Event.Message%|%IntendedConsumer%|%CurrentQueueSize%|"
                         "%ErrorDescription%"),
        binding("Reports", lf_path("ReportLog")),
    ]


def reports(d, fname="reports.log"):
    return [l.split("|") for l in read_lines(d.path(fname))]


@test
def test_synchronous_delivery_on_indicating_thread():
    """DeliverSynchronously (and DeliveryQoS = 0): IndicateToConsumer runs on
    the loop thread before the Indicate request is answered."""
    def objs(dr):
        return tour_objects(dr) + rec_objects(dr) + [
            {"__CLASS": "Test_RecordConsumer", "Name": "Sync", "Filename": os.path.join(dr, "sync.out")},
            {"__CLASS": "Test_RecordConsumer", "Name": "Qos", "Filename": os.path.join(dr, "qos.out")},
            {"__CLASS": "Test_RecordConsumer", "Name": "Async", "Filename": os.path.join(dr, "async.out")},
            binding("AllTest", rec_path("Test_RecordConsumer", "Sync"), DeliverSynchronously=True),
            binding("AllTest", rec_path("Test_RecordConsumer", "Qos"), DeliveryQoS=0),
            binding("AllTest", rec_path("Test_RecordConsumer", "Async"), DeliveryQoS=1),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(3):
            r = c.request("Indicate", Events=[{"__CLASS": "Test_Event", "Message": "s%d" % i}])
            assert r["Status"] == 0, r
            # Already written when the reply comes: no waiting.
            for f in ("sync.out", "qos.out"):
                got = recorded(d.path(f))
                assert [g["event"]["Message"] for g in got] == ["s%d" % j for j in range(i + 1)], (f, got)
                assert all(g["main"] and g["n"] == 1 for g in got), got
        wait_for(lambda: len(read_lines(d.path("async.out"))) == 3, "the asynchronous copies")
        assert not any(g["main"] for g in recorded(d.path("async.out")))
        s = c.stats()["Stats"]
        sync = s["consumers"][rec_path("Test_RecordConsumer", "Sync")]
        assert sync["synchronous_calls"] == 3 and sync["delivered"] == 3, sync
        assert s["consumers"][rec_path("Test_RecordConsumer", "Async")]["synchronous_calls"] == 0
        modes = sorted(b["mode"] for b in s["bindings"].values())
        assert modes == ["asynchronous", "asynchronous", "synchronous", "synchronous"], s["bindings"]
        d.stop()


@test
def test_synchronous_binding_demoted_after_deadline():
    def objs(dr):
        return tour_objects(dr) + rec_objects(dr) + report_watch(dr, "__ConsumerFailureEvent") + [
            {"__CLASS": "Test_RecordConsumer", "Name": "Late", "Filename": os.path.join(dr, "late.out"),
             "DelayMs": 180, "SlowCalls": 1},
            binding("AllTest", rec_path("Test_RecordConsumer", "Late"), DeliverSynchronously=True),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        t0 = time.monotonic()
        r = c.request("Indicate", Events=[{"__CLASS": "Test_Event", "Message": "first"}])
        assert r["Status"] == 0 and time.monotonic() - t0 >= 0.17, r
        assert recorded(d.path("late.out"))[0]["main"], "the first call was not synchronous"
        for i in range(3):
            c.request("Indicate", Events=[{"__CLASS": "Test_Event", "Message": "after%d" % i}])
        wait_for(lambda: len(read_lines(d.path("late.out"))) == 4, "the later events")
        assert not any(g["main"] for g in recorded(d.path("late.out"))[1:]), recorded(d.path("late.out"))
        s = c.stats()["Stats"]
        b = [b for b in s["bindings"].values() if b["consumer"] == rec_path("Test_RecordConsumer", "Late")][0]
        assert b["mode"] == "demoted", b
        late = s["consumers"][rec_path("Test_RecordConsumer", "Late")]
        assert late["deadline_misses"] == 1 and late["synchronous_calls"] == 1, late
        wait_for(lambda: reports(d), "the failure event")
        rep = reports(d)
        assert len(rep) == 1, rep
        assert rep[0][0] == "__ConsumerFailureEvent" and int(rep[0][1]) == 0x80041088, rep  # WBEM_E_PROVIDER_TIMED_OUT
        assert rep[0][2] == "first" and rep[0][3] == rec_path("Test_RecordConsumer", "Late"), rep
        assert len(d.log_lines("asynchronously from now on")) == 1, d.log()
        d.stop()


@test
def test_consumer_failure_events_counted_and_not_fed_back():
    """Each event a consumer fails raises one __ConsumerFailureEvent; the
    failure events themselves, routed to the failing consumer too, raise
    nothing more."""
    def objs(dr):
        return tour_objects(dr) + test_provider("Failing", "failing_consumer.so", "Test_FailingConsumer", {}) + \
            report_watch(dr, "__ConsumerFailureEvent") + [
                {"__CLASS": "Test_FailingConsumer", "Name": "Fails"},
                binding("AllTest", "Test_FailingConsumer.Name=" + q("Fails")),
                binding("Reports", "Test_FailingConsumer.Name=" + q("Fails")),
            ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(5):
            c.send(ev("f%d" % i))
        c.ping()
        fpath = "Test_FailingConsumer.Name=" + q("Fails")
        wait_for(lambda: c.stats()["Stats"]["consumers"][fpath]["failed"] == 10, "5 events and 5 reports failed")
        wait_for(lambda: len(reports(d)) == 5, "5 failure events")
        time.sleep(0.3)
        rep = reports(d)
        assert len(rep) == 5, rep
        assert sorted(r[2] for r in rep) == ["f%d" % i for i in range(5)], rep
        assert all(int(r[1]) == 0x80041003 and r[3] == fpath for r in rep), rep  # WBEM_E_ACCESS_DENIED
        s = c.stats()["Stats"]
        assert s["delivery"]["reports_suppressed"] == 5, s["delivery"]
        assert s["events"]["system_events"] == 5, s["events"]
        d.stop()


@test
def test_queue_overflow_events_exact():
    def objs(dr):
        return tour_objects(dr) + rec_objects(dr, "slow.so", "Test_SlowConsumer") + \
            report_watch(dr, "__EventQueueOverflowEvent") + [
                {"__CLASS": "Test_SlowConsumer", "Name": "Small", "Filename": os.path.join(dr, "small.out"),
                 "DelayMs": 20, "MaximumQueueSize": 3000},
                binding("AllTest", rec_path("Test_SlowConsumer", "Small")),
            ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(60):
            c.send(ev("o%02d" % i + "x" * 150))
        c.ping()
        small = rec_path("Test_SlowConsumer", "Small")

        def settled():
            s = c.stats()["Stats"]["consumers"][small]
            return s if s["queued_events"] == 0 else None
        s = wait_for(settled, "the slow consumer to drain", timeout=30)
        dropped = s["dropped"]["queue_full"]
        assert dropped > 0 and dropped + s["delivered"] == 60, s
        wait_for(lambda: len(reports(d)) == dropped, "one overflow event per drop")
        rep = reports(d)
        assert all(r[0] == "__EventQueueOverflowEvent" and r[3] == small and 0 < int(r[4]) <= 3000 for r in rep), rep
        got = [g["event"]["Message"][:3] for g in recorded(d.path("small.out"))]
        assert sorted(got + [r[2][:3] for r in rep]) == ["o%02d" % i for i in range(60)], "an event is unaccounted for"
        d.stop()


@test
def test_deadline_suspension_and_probe():
    """Three calls past the deadline within the window suspend the sink; a
    probe call on time after the backoff resumes it.  Every miss raises a
    failure event; the watchdog reports a call while it still runs."""
    def objs(dr):
        return tour_objects(dr) + rec_objects(dr, "slow.so", "Test_SlowConsumer") + report_watch(dr) + [
            {"__CLASS": "Test_SlowConsumer", "Name": "S", "Filename": os.path.join(dr, "s.out"),
             "DelayMs": 250, "SlowCalls": 3},
            binding("AllTest", rec_path("Test_SlowConsumer", "S")),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        for i in range(6):
            c.send(ev("p%d" % i))
        c.ping()
        spath = rec_path("Test_SlowConsumer", "S")
        s = wait_for(lambda: (lambda x: x if x["state"] == "suspended" else None)(
            c.stats()["Stats"]["consumers"][spath]), "the suspension")
        assert s["status"] == "WBEM_E_PROVIDER_SUSPENDED" and s["deadline_misses"] == 3 and s["delivered"] == 3, s
        assert c.stats()["Stats"]["delivery"]["suspended"] == 1
        wait_for(lambda: len(read_lines(d.path("s.out"))) == 6, "delivery after the probe", timeout=10)
        s = c.stats()["Stats"]["consumers"][spath]
        assert s["state"] == "active" and s["suspensions"] == 1 and s["deadline_misses"] == 3, s
        assert [g["event"]["Message"] for g in recorded(d.path("s.out"))] == ["p%d" % i for i in range(6)]
        wait_for(lambda: len(reports(d)) == 3, "3 failure events")
        rep = reports(d)
        assert all(r[0] == "__ConsumerFailureEvent" and int(r[1]) == 0x80041088 for r in rep), rep
        assert sorted(r[2] for r in rep) == ["p0", "p1", "p2"], rep
        assert any("still running after" in r[5] for r in rep), rep
        assert d.log_lines("suspended for 1000 ms") and d.log_lines("delivery resumed"), d.log()
        d.stop()


@test
def test_max_wait_on_events_expires_with_reports():
    def objs(dr):
        return tour_objects(dr) + rec_objects(dr, "slow.so", "Test_SlowConsumer") + \
            report_watch(dr, "__EventDroppedEvent") + [
                {"__CLASS": "Test_SlowConsumer", "Name": "X", "Filename": os.path.join(dr, "x.out"),
                 "DelayMs": 300, "SlowCalls": 1},
                binding("AllTest", rec_path("Test_SlowConsumer", "X")),
            ]
    with new_dir_daemon(objs, {"max_wait_on_events": 100, "consumer_deadline_ms": 1000}) as d:
        d.start()
        c = d.connect()
        c.send(ev("e0"))
        c.ping()
        time.sleep(0.05)
        for i in range(1, 5):
            c.send(ev("e%d" % i))
        c.ping()
        xpath = rec_path("Test_SlowConsumer", "X")
        wait_for(lambda: c.stats()["Stats"]["consumers"][xpath]["dropped"]["expired"] == 4, "4 expired")
        wait_for(lambda: len(reports(d)) == 4, "4 drop events")
        rep = reports(d)
        assert sorted(r[2] for r in rep) == ["e1", "e2", "e3", "e4"] and all(r[0] == "__EventDroppedEvent" for r in rep), rep
        assert [g["event"]["Message"] for g in recorded(d.path("x.out"))] == ["e0"]
        c.send(ev("e5"))
        wait_for(lambda: len(read_lines(d.path("x.out"))) == 2, "a fresh event delivered")
        d.stop()


@test
def test_low_threshold_slows_producers_without_loss():
    """Past low_threshold_on_events the daemon stops reading producers
    instead of dropping: every event arrives."""
    def objs(dr):
        return tour_objects(dr) + rec_objects(dr, "slow.so", "Test_SlowConsumer") + [
            {"__CLASS": "Test_SlowConsumer", "Name": "L", "Filename": os.path.join(dr, "l.out"), "DelayMs": 2},
            binding("AllTest", rec_path("Test_SlowConsumer", "L")),
        ]
    with new_dir_daemon(objs, {"low_threshold_on_events": 4096, "high_threshold_on_events": 65536,
                                "consumer_deadline_ms": 1000}) as d:
        d.start()
        c = d.connect()
        c.send_raw("".join(json.dumps(ev("l%03d" % i + "y" * 100)) + "\n" for i in range(300)))
        # Asked on another connection: the producer's is not read meanwhile.
        c = d.connect()
        saw_slow = False
        for _ in range(50):
            saw_slow |= c.stats()["Stats"]["delivery"]["slowing_producers"]
            if saw_slow:
                break
            time.sleep(0.01)
        assert saw_slow, "the producer was never slowed"
        wait_for(lambda: len(read_lines(d.path("l.out"))) == 300, "all 300 events", timeout=30)
        s = c.stats()["Stats"]
        assert s["events"]["dropped"] == 0 and s["connections"]["paused"] > 0, (s["events"], s["connections"])
        assert [g["event"]["Message"][:4] for g in recorded(d.path("l.out"))] == ["l%03d" % i for i in range(300)]
        d.stop()


@test
def test_delivery_settings_checked():
    for settings, needle in [
        ({"low_threshold_on_events": 10, "high_threshold_on_events": 5}, "low_threshold_on_events"),
        ({"queue_max_bytes": 10, "high_threshold_on_events": 5}, "old name"),
        ({"suspend_after_misses": 65}, "suspend_after_misses"),
        ({"consumer_deadline_ms": 0}, "consumer_deadline_ms"),
    ]:
        d = Daemon([], settings)
        try:
            p = subprocess.run([DAEMON, "-n", "-f", d.conf], capture_output=True, text=True, timeout=30)
            assert p.returncode == 1 and needle in p.stderr, (settings, p.returncode, p.stderr)
        finally:
            shutil.rmtree(d.dir, ignore_errors=True)


@serial("MUST_BATCH: checks that nothing came within a sleep shorter than MaxSendLatency")
@test
def test_automatic_batching_and_sink_batching_parameters():
    """An idle consumer gets n == 1 and one that fell behind gets batches;
    a producer's SetBatchingParameters forces either way."""
    def objs(dr):
        return tour_objects(dr) + rec_objects(dr) + [
            {"__CLASS": "Test_RecordConsumer", "Name": "B", "Filename": os.path.join(dr, "b.out")},
            binding("AllTest", rec_path("Test_RecordConsumer", "B")),
        ]
    with new_dir_daemon(objs) as d:
        d.start()
        out = d.path("b.out")

        def calls():
            """The n of each call, in order."""
            got = recorded(out)
            return [g["n"] for g in got if g["i"] == 0]

        # Idle: one event at a time, each in a call of its own.
        c = d.connect()
        for i in range(5):
            c.send(ev("idle%d" % i))
            c.ping()
            wait_for(lambda: len(read_lines(out)) == i + 1, "event %d" % i)
        assert calls() == [1] * 5, calls()
        # Backlog (automatic batching): 400 events in one write.
        c.send_raw("".join(json.dumps(ev("bulk%d" % i)) + "\n" for i in range(400)))
        wait_for(lambda: len(read_lines(out)) == 405, "the bulk")
        assert max(calls()[5:]) > 1 and max(calls()) <= 16, calls()

        # MUST_NOT_BATCH: never more than one per call, backlog or not.
        r = c.request("SetBatchingParameters", Flags="WBEM_FLAG_MUST_NOT_BATCH")
        assert r["Status"] == 0, r
        c.send_raw("".join(json.dumps(ev("solo%d" % i)) + "\n" for i in range(400)))
        wait_for(lambda: len(read_lines(out)) == 805, "the solo events")
        assert calls()[-400:] == [1] * 400, calls()[-400:]

        # MUST_BATCH: held until MaxSendLatency, then delivered together.
        r = c.request("SetBatchingParameters", Flags=1, MaxBufferSize=1 << 20, MaxSendLatency=400)
        assert r["Status"] == 0, r
        t0 = time.monotonic()
        for i in range(5):
            c.send(ev("held%d" % i))
        c.ping()
        time.sleep(0.15)
        assert len(read_lines(out)) == 805, "MUST_BATCH events were not held"
        wait_for(lambda: len(read_lines(out)) == 810, "the held events")
        assert time.monotonic() - t0 >= 0.35 and calls()[-1] == 5, calls()[-3:]
        # ... or until MaxBufferSize bytes.
        r = c.request("SetBatchingParameters", Flags=1, MaxBufferSize=3 * len(json.dumps(ev("full0"))) - 5,
                      MaxSendLatency=60000)
        assert r["Status"] == 0, r
        for i in range(3):
            c.send(ev("full%d" % i))
        c.ping()
        wait_for(lambda: len(read_lines(out)) == 813, "the buffer-full events")
        assert calls()[-1] == 3, calls()[-3:]
        # Held events are routed when the producer hangs up.
        c.send(ev("last"))
        c.ping()
        c.close()
        d.conns.remove(c)
        wait_for(lambda: len(read_lines(out)) == 814, "the last held event")
        # Bad parameters.
        c = d.connect()
        for kw, field in [({"Flags": 7}, "Flags"), ({"Flags": "WBEM_FLAG_SOMETIMES"}, "Flags"),
                          ({"Flags": 1, "MaxBufferSize": 0}, "MaxBufferSize"),
                          ({"Flags": 1, "MaxSendLatency": -1}, "MaxSendLatency")]:
            r = c.request("SetBatchingParameters", **kw)
            assert r["StatusName"] == "WBEM_E_INVALID_PARAMETER" and r["Field"] == field, (kw, r)
        d.stop()
