"""Event provider plugins and their sinks (IWbemEventSink), driven through
tests/plugins/evprov.c (its header documents the command language)."""

import json
import os
import shutil
import subprocess
import time

from wmitest import (
    binding, DAEMON, Daemon, ev, ev_provider, event_filter, evp_env, EvProv, lf_path, logfile_consumer,
    logfile_provider, new_dir_daemon, prov_event, PROV_EVENT_CLASS, PROV_OTHER_CLASS, q, read_lines,
    rec_objects, rec_path, recorded, rewrite, serial, Skip, test, TEST_EVENT_CLASS, test_provider, wait_for)


def prov_objects(dr, queries=None, extra=()):
    if queries is None:
        queries = ["SELECT * FROM Test_ProvEvent", "SELECT * FROM Test_ProvOther"]
    return [TEST_EVENT_CLASS, PROV_EVENT_CLASS, PROV_OTHER_CLASS] + logfile_provider() + \
        ev_provider("TestProv", queries) + [
            event_filter("ProvAll", "SELECT * FROM Test_ProvEvent"),
            logfile_consumer("ProvLog", os.path.join(dr, "prov.log"), "%__CLASS% %Message% %Seq%"),
            binding("ProvAll", lf_path("ProvLog")),
        ] + list(extra)


def evp_daemon(build_objects, settings=None, extra_env=None):
    """A daemon whose objects may name files in its dir, with evprov.so's
    directory (and @extra_env) in its environment; returns (daemon, the
    TestProv provider)."""
    d = new_dir_daemon(build_objects, settings)
    d.env.update(evp_env(d.dir))
    d.env.update(extra_env or {})
    return d, EvProv(d, "TestProv")


@test
def test_event_provider_indicate_and_refusals():
    def objs(dr):
        return prov_objects(dr)
    d, p = evp_daemon(objs)
    with d:
        d.start()
        p.wait_loaded()
        init = p.calls("initialize")[0]
        assert init["abi_minor"] == 2 and init["queries"][0] == "SELECT * FROM Test_ProvEvent", init
        assert all(l.get("main", True) for l in p.lines() if "call" in l), "a host call off the loop thread"
        r = p.ask("indicate " + prov_event("hello"))
        assert r["status"] == 0, r
        wait_for(lambda: read_lines(d.path("prov.log")) == ["Test_ProvEvent hello "], "the event in the log")
        # Refused: unknown class, not an event, a wrong type, outside the registration.
        r = p.ask("garbage Test_ProvEvent")
        assert r["unknown_class"]["name"] == "WBEM_E_INVALID_CLASS", r
        assert r["not_event"]["name"] == "WBEM_E_INVALID_CLASS", r
        assert r["wrong_type"]["name"] in ("WBEM_E_TYPE_MISMATCH", "WBEM_E_INVALID_OBJECT"), r
        r = p.ask("indicate " + prov_event("stray", cls="Test_Event"))
        assert r["name"] == "WBEM_E_INVALID_PARAMETER", r
        # A batch with one bad event: the others go, the status says what was refused.
        batch = json.dumps([json.loads(prov_event("b1")), {"__CLASS": "Test_Event", "Message": "x"},
                            json.loads(prov_event("b2"))])
        r = p.ask("indicate " + batch)
        assert r["name"] == "WBEM_E_INVALID_PARAMETER" and r["n"] == 3, r
        wait_for(lambda: len(read_lines(d.path("prov.log"))) == 3, "b1 and b2")
        # From the provider's own thread: in order, nothing lost.
        # A reload that lengthens the registration's query list.
        objs2 = prov_objects(d.dir, queries=["SELECT * FROM Test_ProvEvent", "SELECT * FROM Test_ProvOther",
                                             "SELECT * FROM Test_ProvEvent WHERE Seq > 1",
                                             "SELECT * FROM Test_ProvOther WHERE Seq > 1"])
        rewrite(d, objs2)
        assert d.connect().request("Reload")["Status"] == 0
        r = p.ask("thread 300 " + prov_event("t"), timeout=60)
        assert r["statuses"] == {"WBEM_S_NO_ERROR": 300}, r
        wait_for(lambda: len(read_lines(d.path("prov.log"))) == 303, "the thread's 300 events")
        assert read_lines(d.path("prov.log"))[3:] == ["Test_ProvEvent t %d" % i for i in range(300)]
        c = d.connect()
        ep = c.stats()["Stats"]["providers"]["TestProv"]["event_provider"]
        assert ep["state"] == "loaded" and ep["indicated"] == 303 and ep["refused"] == 5, ep
        assert c.stats()["Stats"]["builtin_event_providers"]["ProcessTrace"]["state"] == "loaded"
        d.stop()
        assert p.calls("shutdown"), "shutdown was not called"


@test
def test_event_provider_queries_active_and_access_check():
    def objs(dr):
        return prov_objects(dr)
    d, p = evp_daemon(objs)
    with d:
        d.start()
        p.wait_loaded()
        nq = p.calls("new_query")
        assert [x["query"] for x in nq] == ['SELECT * FROM Test_ProvEvent'], nq
        first_id = nq[0]["id"]
        assert p.ask("active")["active"] is True
        # The restricted sink for Test_ProvOther: nobody listens to it.
        r = p.ask("restrict SELECT * FROM Test_ProvOther")
        assert r["status"] == 0, r
        assert p.ask("ractive")["active"] is False
        r = p.ask("rindicate " + prov_event("nope"))   # Test_ProvEvent: not in the restricted sink's queries
        assert r["name"] == "WBEM_E_INVALID_PARAMETER", r
        r = p.ask("restrict SELECT * FROM Test_Event")  # outside the registration
        assert r["name"] == "WBEM_E_INVALID_PARAMETER", r
        # Reload: the filter on Test_ProvEvent goes, one on Test_ProvOther comes, and one AccessCheck refuses.
        objs2 = prov_objects(d.dir, extra=[
            event_filter("Other", "SELECT * FROM Test_ProvOther"),
            binding("Other", lf_path("ProvLog")),
            event_filter("Denied", "SELECT * FROM Test_ProvOther WHERE Message = 'DenyMe'"),
            binding("Denied", lf_path("ProvLog")),
        ])
        objs2 = [o for o in objs2 if o.get("Name") != "ProvAll" and
                 o.get("Filter") != "__EventFilter.Name=" + q("ProvAll")]
        rewrite(d, objs2)
        c = d.connect()
        assert c.request("Reload")["Status"] == 0
        wait_for(lambda: p.calls("cancel_query"), "CancelQuery")
        assert p.calls("cancel_query")[0]["id"] == first_id and p.calls("cancel_query")[0]["known"], p.lines()
        nq = p.calls("new_query")
        assert [x["query"] for x in nq][1:] == ['SELECT * FROM Test_ProvOther'] and nq[1]["id"] != first_id, nq
        denied = [a for a in p.calls("access_check") if "DenyMe" in a["query"]]
        assert len(denied) == 1 and denied[0]["answer"] == "WBEM_E_ACCESS_DENIED", p.calls("access_check")
        assert denied[0]["sid"] == ("S-1-5-32-544" if os.geteuid() == 0 else "S-1-22-1-%d" % os.geteuid()), denied
        s = c.stats()["Stats"]["filters"]
        assert s["Denied"]["state"] == "inactive" and s["Denied"]["status"] == "WBEM_E_ACCESS_DENIED", s["Denied"]
        assert s["Other"]["state"] == "active", s["Other"]
        assert d.log_lines("Denied", "AccessCheck"), d.log()
        # IsActive flipped both ways.
        assert p.ask("ractive")["active"] is True
        assert p.ask("active")["active"] is True
        r = p.ask("rindicate " + prov_event("DenyMe", cls="Test_ProvOther"))
        assert r["status"] == 0, r
        wait_for(lambda: "Test_ProvOther DenyMe " in read_lines(d.path("prov.log")), "the Other event")
        assert c.stats()["Stats"]["filters"]["Denied"]["matched"] == 0
        # Nobody left: the timer's ticks see the sink inactive and indicate nothing.
        rewrite(d, [o for o in objs2 if o.get("__CLASS") not in ("__EventFilter", "__FilterToConsumerBinding")])
        assert c.request("Reload")["Status"] == 0
        assert p.ask("active")["active"] is False and p.ask("ractive")["active"] is False
        r = p.ask("timer 10 " + prov_event("tick"))
        time.sleep(0.2)
        r = p.ask("timer-stop")
        assert r["ticks"] >= 5 and r["indicated"] == 0, r
        assert len(p.calls("cancel_query")) == 2, p.calls("cancel_query")
        d.stop()


@test
def test_event_provider_registration_errors():
    for queries, status in [([], "WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY"),
                            (["SELECT FROM"], "WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY"),
                            (["SELECT * FROM __EventDroppedEvent"], "WBEMESS_E_REGISTRATION_TOO_BROAD"),
                            (["SELECT * FROM __ExtrinsicEvent"], "WBEMESS_E_REGISTRATION_TOO_BROAD"),
                            (["SELECT * FROM __InstanceCreationEvent"], "WBEMESS_E_REGISTRATION_TOO_BROAD")]:
        d = Daemon([PROV_EVENT_CLASS] + ev_provider("P", queries))
        try:
            p = subprocess.run([DAEMON, "-n", "-f", d.conf], capture_output=True, text=True, timeout=30)
            assert p.returncode == 1 and status in p.stderr and "EventQueryList" in p.stderr, (queries, p.stderr)
        finally:
            shutil.rmtree(d.dir, ignore_errors=True)


@test
def test_event_provider_failures_isolated():
    """A provider that fails to initialize is reported; another works."""
    def objs(dr):
        # A filter on Test_ProvOther: event providers load only when a
        # filter wants their events.
        return prov_objects(dr) + ev_provider("Bad", ["SELECT * FROM Test_ProvOther"]) + \
            ev_provider("Missing", ["SELECT * FROM Test_ProvOther"], library="/nonexistent/x.so") + [
                event_filter("ProvOther", "SELECT * FROM Test_ProvOther"),
                binding("ProvOther", lf_path("ProvLog"))]
    d, p = evp_daemon(objs, extra_env={"WMI_TEST_EVPROV_FAIL": "Bad:initialize"})
    with d:
        d.start()
        p.wait_loaded()
        c = d.connect()
        prov = c.stats()["Stats"]["providers"]
        assert prov["Bad"]["event_provider"]["status"] == "WBEM_E_INITIALIZATION_FAILURE", prov["Bad"]
        assert prov["Missing"]["event_provider"]["status"] == "WBEM_E_PROVIDER_LOAD_FAILURE", prov["Missing"]
        assert p.ask("indicate " + prov_event("fine"))["status"] == 0
        wait_for(lambda: read_lines(d.path("prov.log")) == ["Test_ProvEvent fine "], "the good provider's event")
        d.stop()


@test
def test_event_provider_slow_down_providers():
    """SlowDownProviders: a provider thread's indicate waits, then gets
    WBEM_E_SERVER_TOO_BUSY; every event is delivered or refused, none lost."""
    def objs(dr):
        return [TEST_EVENT_CLASS, PROV_EVENT_CLASS, PROV_OTHER_CLASS] + \
            ev_provider("TestProv", ["SELECT * FROM Test_ProvEvent"]) + \
            test_provider("Slow", "slow.so", "Test_SlowConsumer",
                          {"Filename": "string", "DelayMs": "uint32", "SlowCalls": "uint32"}) + [
                event_filter("ProvAll", "SELECT * FROM Test_ProvEvent"),
                {"__CLASS": "Test_SlowConsumer", "Name": "S", "Filename": os.path.join(dr, "s.out"), "DelayMs": 1,
                 "MaximumQueueSize": 2000},
                binding("ProvAll", "Test_SlowConsumer.Name=" + q("S"), SlowDownProviders=True),
            ]
    d, p = evp_daemon(objs, {"indicate_wait_ms": 50, "consumer_deadline_ms": 1000})
    with d:
        d.start()
        p.wait_loaded()
        r = p.ask("thread 3000 " + prov_event("x" * 200), timeout=120)
        ok = r["statuses"].get("WBEM_S_NO_ERROR", 0)
        busy = r["statuses"].get("WBEM_E_SERVER_TOO_BUSY", 0)
        assert ok + busy == 3000 and busy > 0 and ok > 0, r
        wait_for(lambda: len(read_lines(d.path("s.out"))) == ok, "every accepted event delivered", timeout=60)
        c = d.connect()
        s = c.stats()["Stats"]
        assert s["consumers"]["Test_SlowConsumer.Name=" + q("S")]["dropped"]["queue_full"] == 0, s["consumers"]
        assert s["providers"]["TestProv"]["event_provider"]["too_busy"] == busy
        d.stop()


@test
def test_sink_security_and_event_access():
    """SetSinkSecurity decides which creators' subscriptions receive; EventAccess
    decides which publishers may deliver to a filter (socket peers by uid)."""
    if os.geteuid() != 0:
        raise Skip("needs root to chown object files and connect as another uid")
    other = 4242

    def objs(dr):
        return prov_objects(dr) + [
            event_filter("Guarded", "SELECT * FROM Test_Event"),
            logfile_consumer("GuardLog", os.path.join(dr, "guard.log"), "%Message%"),
            binding("Guarded", lf_path("GuardLog")),
        ]
    d, p = evp_daemon(objs)
    # A filter created by uid 4242: its own file, owned by that user.
    with open(os.path.join(d.dir, "conf.d", "20-user.json"), "w") as f:
        json.dump([event_filter("UsersOwn", "SELECT * FROM Test_ProvEvent"),
                   binding("UsersOwn", lf_path("ProvLog"))], f)
    os.chown(os.path.join(d.dir, "conf.d", "20-user.json"), other, other)
    cfg = json.load(open(d.conf))
    with d:
        d.start()
        p.wait_loaded()
        c = d.connect()
        f = c.stats()["Stats"]["filters"]
        assert f["UsersOwn"]["creator"] == "S-1-22-1-%d" % other and f["ProvAll"]["creator"] == "S-1-5-32-544", f
        # Only uid 4242's subscriptions: ProvAll (root's) gets nothing.
        assert p.ask("security D:(A;;0x40;;;S-1-22-1-%d)" % other)["status"] == 0
        assert p.ask("indicate " + prov_event("m1"))["status"] == 0
        wait_for(lambda: c.stats()["Stats"]["filters"]["UsersOwn"]["matched"] == 1, "UsersOwn")
        assert c.stats()["Stats"]["filters"]["ProvAll"]["matched"] == 0
        # Nobody may subscribe: inactive.
        assert p.ask("security D:")["status"] == 0
        assert p.ask("active")["active"] is False
        # Administrators: ProvAll again.
        assert p.ask("security D:(A;;0x40;;;BA)")["status"] == 0
        assert p.ask("active")["active"] is True
        assert p.ask("indicate " + prov_event("m2"))["status"] == 0
        wait_for(lambda: c.stats()["Stats"]["filters"]["ProvAll"]["matched"] == 1, "ProvAll")
        assert c.stats()["Stats"]["filters"]["UsersOwn"]["matched"] == 1
        r = p.ask("security D:(X;;0x40;;;BA)")
        assert r["name"] == "WBEM_E_INVALID_PARAMETER", r
        assert d.log_lines("SetSinkSecurity refused", "column"), d.log()
        # EventAccess: only uid 4242 may publish to Guarded.
        objs2 = json.load(open(os.path.join(d.dir, "conf.d", "10-test.json")))
        for o in objs2:
            if o.get("Name") == "Guarded":
                o["EventAccess"] = "D:(A;;0x80;;;S-1-22-1-%d)" % other
        rewrite(d, objs2)
        assert c.request("Reload")["Status"] == 0
        c.send(ev("from-root"))
        c.ping()
        os.chmod(d.socket, 0o666)
        os.chmod(d.dir, 0o755)
        code = ("import socket,json,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                "s.sendall((json.dumps({'__CLASS':'Test_Event','Message':'from-user'})+'\\n'"
                "+json.dumps({'Method':'Ping','Id':1})+'\\n').encode()); print(s.recv(4096).decode())")
        if not os.access("/usr/bin/python3", os.X_OK):
            raise Skip("no /usr/bin/python3 for the other user")
        pr = subprocess.run(["/usr/bin/python3", "-c", code, d.socket], capture_output=True, text=True, timeout=30,
                            preexec_fn=lambda: (os.setgid(other), os.setuid(other)))
        assert pr.returncode == 0 and '"Status": 0' in pr.stdout.replace('"Status":0', '"Status": 0'), pr
        wait_for(lambda: read_lines(d.path("guard.log")) == ["from-user"], "only the user's event")
        time.sleep(0.2)
        assert read_lines(d.path("guard.log")) == ["from-user"]
        assert cfg is not None
        d.stop()


@serial("MUST_BATCH: checks that nothing came within a sleep shorter than MaxSendLatency")
@test
def test_event_provider_sink_batching():
    """SetBatchingParameters on a provider's sink: MUST_BATCH holds events
    until the latency and delivers them in one call; MUST_NOT_BATCH gives
    every event a call of its own even under backlog."""
    def objs(dr):
        return [TEST_EVENT_CLASS, PROV_EVENT_CLASS, PROV_OTHER_CLASS] + \
            ev_provider("TestProv", ["SELECT * FROM Test_ProvEvent"]) + rec_objects(dr) + [
                event_filter("ProvAll", "SELECT * FROM Test_ProvEvent"),
                {"__CLASS": "Test_RecordConsumer", "Name": "B", "Filename": os.path.join(dr, "b.out"),
                 "DelayMs": 30, "SlowCalls": 1},
                binding("ProvAll", rec_path("Test_RecordConsumer", "B")),
            ]
    d, p = evp_daemon(objs)
    with d:
        d.start()
        p.wait_loaded()
        out = d.path("b.out")

        def calls():
            return [g["n"] for g in recorded(out) if g["i"] == 0]
        # Default: the first call is slow, the rest queue behind it and come batched.
        r = p.ask("thread 50 " + prov_event("auto"))
        assert r["statuses"] == {"WBEM_S_NO_ERROR": 50}, r
        wait_for(lambda: len(read_lines(out)) == 50, "the automatic batch")
        assert max(calls()) > 1, calls()
        # MUST_BATCH: held for 300 ms, then one call.
        assert p.ask("batching MUST_BATCH 1000000 300")["status"] == 0
        t0 = time.monotonic()
        r = p.ask("thread 5 " + prov_event("held"))
        assert r["statuses"] == {"WBEM_S_NO_ERROR": 5}, r
        time.sleep(0.1)
        assert len(read_lines(out)) == 50, "MUST_BATCH events were not held"
        wait_for(lambda: len(read_lines(out)) == 55, "the held events")
        assert time.monotonic() - t0 >= 0.25 and calls()[-1] == 5, calls()[-3:]
        # MUST_NOT_BATCH: one event per call.
        assert p.ask("batching MUST_NOT_BATCH 1 1")["status"] == 0
        r = p.ask("thread 200 " + prov_event("solo"))
        wait_for(lambda: len(read_lines(out)) == 255, "the solo events")
        assert calls()[-200:] == [1] * 200, calls()[-200:]
        assert p.ask("batching 7 1 1")["name"] == "WBEM_E_INVALID_PARAMETER"
        d.stop()
