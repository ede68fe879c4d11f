"""The provider lifecycle: consumer providers load at the first event for
one of their consumers, physical consumers and providers are released
after their cache control's ClearAfter and loaded again by the next
event, event providers load when a filter wants them and shut down when
idle, and failed loads are retried with a backoff."""

import json
import os
import subprocess
import time

from wmitest import (
    binding, check_no_sanitizer, DAEMON, ENV, ev, ev_provider, event_filter, evp_env, EvProv, host_children,
    hosted_provider, lf_path, logfile_consumer, logfile_provider, new_dir_daemon, prov_event,
    PROV_EVENT_CLASS, q, read_lines, rewrite, serial, test, TEST_EVENT_CLASS, test_provider, tour_objects,
    wait_for)


def interval(seconds):
    """A CIM interval datetime: ddddddddHHMMSS.mmmmmm:000."""
    us = int(round(seconds * 1000000))
    s, us = divmod(us, 1000000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return "%08d%02d%02d%02d.%06d:000" % (d, h, m, s, us)


def cache_controls(provider=None, sink=None, event_provider=None):
    out = []
    for cls, v in (("__EventConsumerProviderCacheControl", provider), ("__EventSinkCacheControl", sink),
                   ("__EventProviderCacheControl", event_provider)):
        if v is not None:
            out.append({"__CLASS": cls, "ClearAfter": v if isinstance(v, str) else interval(v)})
    return out


REC_PATH = "Test_RecordConsumer.Name=" + q("Rec")


def lc_rec_objects(dr, provider_s, sink_s, extra=()):
    """record.so serving consumer Rec (file rec.out), every Test_Event bound
    to it, and the two consumer cache controls."""
    return [TEST_EVENT_CLASS] + test_provider("Rec", "record.so", "Test_RecordConsumer") + [
        event_filter("AllTest", "SELECT * FROM Test_Event"),
        {"__CLASS": "Test_RecordConsumer", "Name": "Rec", "Filename": os.path.join(dr, "rec.out")},
        binding("AllTest", REC_PATH),
    ] + cache_controls(provider=provider_s, sink=sink_s) + list(extra)


def calls_of(path):
    """The lifecycle log of record.so (WMI_TEST_RECORD_CALLS), parsed."""
    return [json.loads(l) for l in read_lines(path) if l.strip()]


def call_names(path, consumer=None):
    return [c["call"] for c in calls_of(path) if consumer is None or c.get("consumer") in (None, consumer)]


def lc_recorded(path):
    return [json.loads(l)["event"] for l in read_lines(path)]


def rec_daemon(build_objects, settings=None):
    d = new_dir_daemon(build_objects, settings)
    d.env["WMI_TEST_RECORD_CALLS"] = d.path("calls.log")
    return d


@serial("times the idle unload against ClearAfter")
@test
def test_lifecycle_consumer_lazy_load_and_idle_release():
    """No initialize before the first event; the first event loads the
    provider and finds the consumer; after ClearAfter (1 s) without events
    the physical consumer is released, then the provider shut down; the
    next event loads both again."""
    with rec_daemon(lambda dr: lc_rec_objects(dr, 1, 1)) as d:
        d.start()
        c = d.connect()
        time.sleep(0.5)
        assert calls_of(d.path("calls.log")) == [], "the provider was called before any event"
        st = c.stats()["Stats"]
        p = st["providers"]["Rec"]
        assert p["state"] == "not loaded" and p["loads"] == 0 and p["last_used"] is None, p
        assert "first be delivered" in p["message"], p
        cs = st["consumers"][REC_PATH]
        assert cs["attached"] is False and cs["finds"] == 0, cs

        c.send(ev("first", Seq=1))
        c.ping()
        t_first = time.monotonic()
        assert call_names(d.path("calls.log")) == ["initialize", "find_consumer"], calls_of(d.path("calls.log"))
        st = c.stats()["Stats"]
        p = st["providers"]["Rec"]
        assert p["state"] == "loaded" and p["loads"] == 1 and p["unloads"] == 0 and p["sinks"] == 1, p
        assert p["last_used"] is not None and len(p["last_used"]) == 25, p
        cs = st["consumers"][REC_PATH]
        assert cs["attached"] is True and cs["finds"] == 1 and cs["dropped"]["no_sink"] == 0, cs
        wait_for(lambda: [e["Seq"] for e in lc_recorded(d.path("rec.out"))] == [1], "the first event recorded")

        # Idle: the sink goes after ClearAfter, the provider ClearAfter later.
        wait_for(lambda: "shutdown" in call_names(d.path("calls.log")), "the idle shutdown", 10)
        t_down = time.monotonic()
        calls = calls_of(d.path("calls.log"))
        assert [x["call"] for x in calls] == ["initialize", "find_consumer", "release", "shutdown"], calls
        # ClearAfter is respected (the sink idled at least 1 s, the provider
        # at least 1 s after it), and unloading took at most about twice it.
        assert calls[2]["t"] - calls[1]["t"] >= 950, calls
        assert calls[3]["t"] - calls[2]["t"] >= 950, calls
        assert t_down - t_first < 6.0, "the unload took %.1f s" % (t_down - t_first)
        st = c.stats()["Stats"]
        p = st["providers"]["Rec"]
        assert p["state"] == "unloaded when idle" and p["loads"] == 1 and p["unloads"] == 1 and p["sinks"] == 0, p
        assert p["last_used"] is not None, p
        cs = st["consumers"][REC_PATH]
        assert cs["attached"] is False and cs["releases"] == 1 and cs["state"] == "detached", cs
        assert st["delivery"]["sinks"] == 0, st["delivery"]
        assert d.log_lines("provider Rec:", "no physical consumer for", "shut down"), d.log()

        # The next event loads it all again, and is delivered.
        c.send(ev("second", Seq=2))
        c.ping()
        assert call_names(d.path("calls.log"))[4:] == ["initialize", "find_consumer"], calls_of(d.path("calls.log"))
        wait_for(lambda: [e["Seq"] for e in lc_recorded(d.path("rec.out"))] == [1, 2], "the second event recorded")
        st = c.stats()["Stats"]
        p = st["providers"]["Rec"]
        assert p["state"] == "loaded" and p["loads"] == 2 and p["unloads"] == 1, p
        cs = st["consumers"][REC_PATH]
        assert cs["attached"] is True and cs["finds"] == 2 and cs["delivered"] == 2, cs
        assert sum(cs["dropped"].values()) == 0, cs
        d.stop()
        assert call_names(d.path("calls.log"))[-2:] == ["release", "shutdown"], calls_of(d.path("calls.log"))


@test
def test_lifecycle_no_event_lost_across_unloads():
    """Events sent across the unload boundary, to an asynchronous and a
    synchronous binding, all arrive, in order, none dropped, while the
    physical consumers and the provider are released and loaded again
    many times."""
    def objs(dr):
        return lc_rec_objects(dr, 0.3, 0.3, extra=[
            {"__CLASS": "Test_RecordConsumer", "Name": "Sync", "Filename": os.path.join(dr, "sync.out")},
            binding("AllTest", "Test_RecordConsumer.Name=" + q("Sync"), DeliverSynchronously=True),
        ])
    with rec_daemon(objs, {"consumer_deadline_ms": 2000}) as d:
        d.start()
        c = d.connect()
        seq = 0
        # Send, wait past ClearAfter (sink and provider: 0.3 s each), send:
        # every event finds everything released.
        for _ in range(4):
            seq += 1
            c.send(ev("cycle", Seq=seq))
            c.ping()
            time.sleep(0.9)
        # Then a stream whose gaps straddle the boundary.
        gaps = [0.05, 0.25, 0.29, 0.31, 0.35, 0.1, 0.65, 0.3, 0.02, 0.7]
        deadline = time.monotonic() + 4.0
        i = 0
        while time.monotonic() < deadline:
            seq += 1
            c.send(ev("stream", Seq=seq))
            c.ping()
            time.sleep(gaps[i % len(gaps)])
            i += 1
        want = list(range(1, seq + 1))
        for f in ("rec.out", "sync.out"):
            wait_for(lambda: len(read_lines(d.path(f))) >= seq, "%d events in %s" % (seq, f))
            got = [e["Seq"] for e in lc_recorded(d.path(f))]
            assert got == want, "%s: lost or reordered: %r" % (f, got)
        st = c.stats()["Stats"]
        for path in (REC_PATH, "Test_RecordConsumer.Name=" + q("Sync")):
            cs = st["consumers"][path]
            assert cs["delivered"] == seq and cs["failed"] == 0 and sum(cs["dropped"].values()) == 0, cs
            # The boundary was crossed: released and found again, often.
            assert cs["releases"] >= 4 and cs["finds"] >= 5, cs
        assert st["consumers"]["Test_RecordConsumer.Name=" + q("Sync")]["synchronous_calls"] == seq
        p = st["providers"]["Rec"]
        assert p["loads"] >= 4 and p["unloads"] >= 3, p
        assert st["events"]["dropped"] == 0, st["events"]
        calls = calls_of(d.path("calls.log"))
        # Never a find_consumer without a loaded provider, never a call
        # after shutdown before the next initialize.
        loaded = False
        for x in calls:
            if x["call"] == "initialize":
                assert not loaded, calls
                loaded = True
            elif x["call"] == "shutdown":
                assert loaded, calls
                loaded = False
            else:
                assert loaded, calls
        d.stop()


@test
def test_lifecycle_reload_applies_cache_controls():
    """With the defaults (15 s and 30 s) nothing is released soon; a reload
    that sets ClearAfter 0.5 s releases the idle consumer at once."""
    with rec_daemon(lambda dr: lc_rec_objects(dr, None, None)) as d:
        d.start()
        c = d.connect()
        c.send(ev("one", Seq=1))
        c.ping()
        time.sleep(1.5)
        assert call_names(d.path("calls.log")) == ["initialize", "find_consumer"], calls_of(d.path("calls.log"))
        rewrite(d, lc_rec_objects(d.dir, 0.5, 0.5))
        r = c.request("Reload")
        assert r["Status"] == 0, r
        wait_for(lambda: "shutdown" in call_names(d.path("calls.log")), "the release under the new ClearAfter", 5)
        assert call_names(d.path("calls.log")) == ["initialize", "find_consumer", "release", "shutdown"]
        c.send(ev("two", Seq=2))
        c.ping()
        wait_for(lambda: [e["Seq"] for e in lc_recorded(d.path("rec.out"))] == [1, 2], "both events recorded")
        d.stop()


@test
def test_lifecycle_cache_control_errors():
    """An invalid ClearAfter, a too short one and a duplicated singleton are
    config errors naming the object and the property."""
    cases = [
        ("20240101000000.000000+000", "__EventSinkCacheControl", "ClearAfter", "not an interval",
         "WBEM_E_INVALID_PARAMETER"),
        ("00000000000000.050000:000", "__EventConsumerProviderCacheControl", "ClearAfter", "shortest",
         "WBEM_E_VALUE_OUT_OF_RANGE"),
        ("nonsense", "__EventProviderCacheControl", "ClearAfter", "", "WBEM_E_TYPE_MISMATCH"),
    ]
    for value, cls, prop, why, status in cases:
        with new_dir_daemon(lambda dr: lc_rec_objects(dr, None, None) + [{"__CLASS": cls, "ClearAfter": value}]) as d:
            p = subprocess.run([DAEMON, "-n", "-f", d.conf], capture_output=True, timeout=30, env=ENV)
            err = p.stderr.decode("utf-8", "replace")
            check_no_sanitizer(err, "wmieventd -n")
            assert p.returncode == 1, (value, p.returncode, err)
            assert cls in err and prop in err and why in err and status in err, (value, err)
            d.exit_checked = True
    dup = cache_controls(sink=1) + cache_controls(sink=2)
    with new_dir_daemon(lambda dr: lc_rec_objects(dr, None, None) + dup) as d:
        p = subprocess.run([DAEMON, "-n", "-f", d.conf], capture_output=True, timeout=30, env=ENV)
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 1 and "__EventSinkCacheControl" in err and "singleton" in err and \
            "WBEM_E_ALREADY_EXISTS" in err, err
        d.exit_checked = True
    # A valid one checks fine.
    with new_dir_daemon(lambda dr: lc_rec_objects(dr, 90, "00000001000000.000000:000")) as d:
        p = subprocess.run([DAEMON, "-n", "-f", d.conf], capture_output=True, timeout=30, env=ENV)
        assert p.returncode == 0, p.stderr
        d.exit_checked = True


@serial("sends events timed against the 2 s retry backoff")
@test
def test_lifecycle_failed_load_retried_with_backoff():
    """A provider whose initialize fails is tried at the first event, then
    not again before its backoff (2 s) however many events come, then once
    more; a reload retries at the next event.  A FindConsumer that fails is
    retried the same way.  Every event not delivered is counted and
    reported."""
    def objs(dr):
        return tour_objects(dr) + test_provider("InitFails", "init_fails.so", "Test_InitFailsConsumer", {}) + [
            {"__CLASS": "Test_InitFailsConsumer", "Name": "IF"},
            binding("AllTest", "Test_InitFailsConsumer.Name=" + q("IF")),
        ] + test_provider("Rec", "record.so", "Test_RecordConsumer") + [
            {"__CLASS": "Test_RecordConsumer", "Name": "NoFile"},   # FindConsumer refuses it
            binding("AllTest", "Test_RecordConsumer.Name=" + q("NoFile")),
            event_filter("Drops", "SELECT * FROM __EventDroppedEvent"),
            logfile_consumer("DropLog", os.path.join(dr, "drops.log"), "%IntendedConsumer%"),
            binding("Drops", lf_path("DropLog")),
        ]
    if_path = "Test_InitFailsConsumer.Name=" + q("IF")
    nf_path = "Test_RecordConsumer.Name=" + q("NoFile")
    with rec_daemon(objs) as d:
        d.start()
        c = d.connect()

        def inits():
            return len(d.log_lines("init_fails: refusing to initialize"))

        def finds():
            return call_names(d.path("calls.log")).count("find_consumer")
        sent = [0]

        def send(msg):
            c.send(ev(msg))
            sent[0] += 1
        assert inits() == 0 and finds() == 0
        t0 = time.monotonic()
        for i in range(5):
            send("burst-%d" % i)
        c.ping()
        assert inits() == 1 and finds() == 1, (inits(), finds())
        st = c.stats()["Stats"]
        p = st["providers"]["InitFails"]
        assert p["status"] == "WBEM_E_INITIALIZATION_FAILURE" and p["state"] == "not loaded", p
        assert 0 < p["retry_in_ms"] <= 2000, p
        assert st["consumers"][if_path]["dropped"]["no_sink"] == 5, st["consumers"][if_path]
        assert st["consumers"][nf_path]["dropped"]["no_sink"] == 5, st["consumers"][nf_path]
        # More events within the backoff: no attempt.
        while time.monotonic() < t0 + 1.5:
            send("within")
            c.ping()
            time.sleep(0.1)
        assert inits() == 1 and finds() == 1, (inits(), finds())
        # Past it: one more attempt each, then the next backoff (4 s).
        time.sleep(max(0.0, t0 + 2.3 - time.monotonic()))
        for i in range(3):
            send("after-%d" % i)
        c.ping()
        assert inits() == 2 and finds() == 2, (inits(), finds())
        st = c.stats()["Stats"]
        assert 2000 < st["providers"]["InitFails"]["retry_in_ms"] <= 4000, st["providers"]["InitFails"]
        # A reload retries at the next event.
        r = c.request("Reload")
        assert r["Status"] == 0, r
        assert inits() == 2 and finds() == 2, "a reload loads nothing by itself"
        send("after-reload")
        c.ping()
        assert inits() == 3 and finds() == 3, (inits(), finds())
        # Every event was counted and reported; the good consumer got all.
        n_sent = sent[0]
        wait_for(lambda: len(read_lines(d.path("events.log"))) == n_sent, "the good consumer's %d events" % n_sent)
        for path in (if_path, nf_path):
            cs = c.stats()["Stats"]["consumers"][path]
            assert cs["dropped"]["no_sink"] == n_sent and cs["attached"] is False, cs
        wait_for(lambda: len(read_lines(d.path("drops.log"))) == 2 * n_sent, "one drop report per event and consumer")
        assert sorted(set(read_lines(d.path("drops.log")))) == sorted([if_path, nf_path]), read_lines(d.path("drops.log"))
        # Logged once per attempt, not per event.
        assert len(d.log_lines("provider InitFails:", "its consumers get nothing")) == 3, d.log()
        assert len(d.log_lines("NoFile", "FindConsumer", "WBEM_E_INVALID_PARAMETER")) == 3, d.log()
        d.stop()


@serial("times the idle shutdown against ClearAfter")
@test
def test_lifecycle_event_provider_loaded_when_wanted():
    """An event provider is not loaded while no filter wants its events,
    is loaded by the reload that adds one, and is shut down ClearAfter
    (1 s) after the reload that removes it; another reload that wants it
    loads it again."""
    def base(dr):
        return [TEST_EVENT_CLASS, PROV_EVENT_CLASS] + logfile_provider() + \
            ev_provider("TestProv", ["SELECT * FROM Test_ProvEvent"]) + [
                logfile_consumer("ProvLog", os.path.join(dr, "prov.log"), "%Message%"),
            ] + cache_controls(event_provider=1)

    def wanted(dr):
        return base(dr) + [event_filter("ProvAll", "SELECT * FROM Test_ProvEvent"),
                           binding("ProvAll", lf_path("ProvLog"))]
    d = new_dir_daemon(base)
    d.env.update(evp_env(d.dir))
    p = EvProv(d, "TestProv")
    with d:
        d.start()
        c = d.connect()
        time.sleep(1.0)
        assert p.lines() == [], "the provider was loaded while no filter wants it: %r" % p.lines()
        ep = c.stats()["Stats"]["providers"]["TestProv"]["event_provider"]
        assert ep["state"] == "not loaded" and ep["loads"] == 0, ep
        # A filter without a binding takes nothing: still not wanted.
        rewrite(d, base(d.dir) + [event_filter("Unbound", "SELECT * FROM Test_ProvEvent")])
        assert c.request("Reload")["Status"] == 0
        time.sleep(0.3)
        assert p.lines() == [], p.lines()

        rewrite(d, wanted(d.dir))
        assert c.request("Reload")["Status"] == 0
        p.wait_loaded()
        assert len(p.calls("initialize")) == 1
        ep = c.stats()["Stats"]["providers"]["TestProv"]["event_provider"]
        assert ep["state"] == "loaded" and ep["loads"] == 1 and ep["active_sinks"] == 1, ep
        assert p.ask("indicate " + prov_event("one"))["status"] == 0
        wait_for(lambda: read_lines(d.path("prov.log")) == ["one"], "the event in the log")
        # While wanted it stays, however long.
        time.sleep(1.5)
        assert not p.calls("shutdown"), "shut down while a filter wants it"

        rewrite(d, base(d.dir))
        assert c.request("Reload")["Status"] == 0
        t_removed = time.monotonic()
        wait_for(lambda: p.calls("shutdown"), "the idle shutdown", 10)
        t_down = time.monotonic()
        assert 0.9 <= t_down - t_removed < 4.0, "shut down %.2f s after the filter went" % (t_down - t_removed)
        ep = c.stats()["Stats"]["providers"]["TestProv"]["event_provider"]
        assert ep["state"] == "unloaded when idle" and ep["loads"] == 1 and ep["unloads"] == 1, ep
        assert ep["last_used"] is not None, ep
        assert d.log_lines("provider TestProv:", "event provider inactive"), d.log()

        rewrite(d, wanted(d.dir))
        assert c.request("Reload")["Status"] == 0
        wait_for(lambda: len(p.calls("provide_events")) == 2, "the second load")
        assert len(p.calls("initialize")) == 2
        assert p.ask("indicate " + prov_event("two"))["status"] == 0
        wait_for(lambda: read_lines(d.path("prov.log")) == ["one", "two"], "the second event in the log")
        ep = c.stats()["Stats"]["providers"]["TestProv"]["event_provider"]
        assert ep["state"] == "loaded" and ep["loads"] == 2 and ep["unloads"] == 1, ep
        # The built-in process provider is exempt: loaded, never unloaded.
        assert c.stats()["Stats"]["builtin_event_providers"]["ProcessTrace"]["state"] == "loaded"
        d.stop()
        assert len(p.calls("shutdown")) == 2


@test
def test_lifecycle_isolated_provider_host_comes_and_goes():
    """An isolated provider's host process starts at the first event, exits
    when the provider idles out, and starts again at the next event; no
    event is lost."""
    def objs(dr):
        return [TEST_EVENT_CLASS] + hosted_provider("Isolated", "record.so", "Test_RecordConsumer",
                                                     "NetworkServiceHost") + [
            event_filter("AllTest", "SELECT * FROM Test_Event"),
            {"__CLASS": "Test_RecordConsumer", "Name": "Rec", "Filename": os.path.join(dr, "rec.out")},
            binding("AllTest", REC_PATH),
        ] + cache_controls(provider=0.5, sink=0.5)
    with rec_daemon(objs) as d:
        d.start()
        c = d.connect()
        time.sleep(0.3)
        assert host_children(d.proc.pid) == {}, "a host started before any event"
        pids = []
        for round_ in range(2):
            for i in range(5):
                c.send(ev("r%d" % round_, Seq=round_ * 5 + i))
            c.ping()
            kids = wait_for(lambda: host_children(d.proc.pid), "the host process")
            pids.append(list(kids)[0])
            wait_for(lambda: len(read_lines(d.path("rec.out"))) == 5 * (round_ + 1), "the round's events")
            wait_for(lambda: host_children(d.proc.pid) == {}, "the host to exit after idling", 10)
            p = c.stats()["Stats"]["providers"]["Isolated"]
            assert p["state"] == "unloaded when idle" and p["unloads"] == round_ + 1, p
        assert pids[0] != pids[1], pids
        assert [e["Seq"] for e in lc_recorded(d.path("rec.out"))] == list(range(10))
        calls = call_names(d.path("calls.log"))
        assert calls == ["initialize", "find_consumer", "release", "shutdown"] * 2, calls
        d.stop()
