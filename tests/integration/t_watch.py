"""Temporary consumers: ExecNotificationQuery, CancelQuery and
`wmieventctl watch`."""

import json
import os
import signal
import socket
import subprocess
import threading

from wmitest import (
    check_no_sanitizer, Conn, CTL, ENV, ev, new_dir_daemon, read_events, read_lines, run_ctl, serial,
    subscribe, test, tour_objects, wait_for, wrequest)


def temporary(c):
    r, _ = wrequest(c, "Stats")
    assert r["Status"] == 0, r
    return r["Stats"]["temporary"]


@serial("counts the events of a subscription to every __ExtrinsicEvent: the machine's process starts too")
@test
def test_watch_events_projection_cancel():
    with new_dir_daemon(tour_objects) as d:
        d.start()
        w = d.connect()
        q1 = subscribe(w, "SELECT * FROM Test_Event WHERE Severity > 2")
        q2 = subscribe(w, "SELECT Message FROM Test_Event")
        assert q1 != q2
        # FROM an ancestor: the class index walks up from the event's class.
        w2 = d.connect()
        q3 = subscribe(w2, "select * from __extrinsicevent")
        p = d.connect()
        p.send(ev("a", Severity=5, Seq=1))
        p.send(ev("b", Severity=1, Seq=2))
        p.ping()
        got = read_events(w, 3)
        by = {}
        for line in got:
            assert set(line) == {"Event", "QueryId"}, line
            by.setdefault(line["QueryId"], []).append(line["Event"])
        assert [e["Message"] for e in by[q1]] == ["a"], got
        assert by[q1][0]["Severity"] == 5 and by[q1][0]["Seq"] == 1, got
        assert "TIME_CREATED" in by[q1][0], got
        # SELECT Message: the other properties are not delivered.
        assert [e["Message"] for e in by[q2]] == ["a", "b"], got
        for e in by[q2]:
            assert e["__CLASS"] == "Test_Event" and e.get("Severity") is None and e.get("Seq") is None, e
        # __ExtrinsicEvent also takes the machine's process starts (the
        # process connector serves it): only the test's events count.
        got3 = []
        while len(got3) < 2:
            got3 += [l for l in read_events(w2, 1) if l["Event"]["__CLASS"] == "Test_Event"]
        assert [(l["QueryId"], l["Event"]["Message"]) for l in got3] == [(q3, "a"), (q3, "b")], got3
        # The permanent consumer saw them as well.
        wait_for(lambda: read_lines(d.path("events.log")) == ["sev=5 msg=a", "sev=1 msg=b"], "the log file")

        t = temporary(p)
        assert t["count"] == 3 and len(t["subscriptions"]) == 3, t
        delivered = {s["QueryId"]: s["delivered"] for s in t["subscriptions"]}
        assert delivered[q1] == 1 and delivered[q2] == 2 and delivered[q3] >= 2, t

        # CancelQuery: only the connection's own subscriptions.
        r, _ = wrequest(w2, "CancelQuery", QueryId=q1)
        assert r["StatusName"] == "WBEM_E_NOT_FOUND" and r["Field"] == "QueryId", r
        r, before = wrequest(w, "CancelQuery", QueryId=q1)
        assert r["Status"] == 0 and r["QueryId"] == q1 and not before, (r, before)
        r, _ = wrequest(w, "CancelQuery", QueryId=q1)
        assert r["StatusName"] == "WBEM_E_NOT_FOUND", r
        r, _ = wrequest(w, "CancelQuery")
        assert r["StatusName"] == "WBEM_E_INVALID_PARAMETER", r
        p.send(ev("c", Severity=9))
        p.ping()
        line = w.read()
        assert line["QueryId"] == q2 and line["Event"]["Message"] == "c", line
        assert w2.read()["Event"]["Message"] == "c"
        # Nothing more for q1: a Ping's reply is the next line.
        r, before = wrequest(w, "Ping")
        assert r["Status"] == 0 and not before, before
        assert temporary(p)["count"] == 2
        d.stop()


@test
def test_watch_refusals():
    with new_dir_daemon(tour_objects) as d:
        d.start()
        c = d.connect()
        query = "SELECT * FROM Test_Event WHERE Severity = = 1"
        r, _ = wrequest(c, "ExecNotificationQuery", QueryLanguage="WQL", Query=query)
        assert r["StatusName"] == "WBEM_E_INVALID_QUERY" and r["Field"] == "Query", r
        assert r["Column"] == query.index("= =") + 3 and ("column %d" % r["Column"]) in r["Message"], r
        r, _ = wrequest(c, "ExecNotificationQuery", Query="SELECT * FROM No_Such_Event")
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS", r
        r, _ = wrequest(c, "ExecNotificationQuery", Query="SELECT Nope FROM Test_Event")
        assert r["StatusName"] == "WBEM_E_INVALID_PROPERTY", r
        r, _ = wrequest(c, "ExecNotificationQuery", QueryLanguage="SQL", Query="SELECT * FROM Test_Event")
        assert r["StatusName"] == "WBEM_E_INVALID_QUERY_TYPE", r
        r, _ = wrequest(c, "ExecNotificationQuery", QueryLanguage="WQL")
        assert r["StatusName"] == "WBEM_E_INVALID_PARAMETER" and r["Field"] == "Query", r
        # Intrinsic events that need polling: WITHIN first, as for filters...
        r, _ = wrequest(c, "ExecNotificationQuery",
                        Query="SELECT * FROM __InstanceCreationEvent WHERE TargetInstance ISA 'Win32_Process'")
        assert r["StatusName"] == "WBEMESS_E_REGISTRATION_TOO_PRECISE", r
        # ... and then not served to temporary consumers at all.
        r, _ = wrequest(c, "ExecNotificationQuery",
                        Query="SELECT * FROM __InstanceCreationEvent WITHIN 1 "
                              "WHERE TargetInstance ISA 'Win32_Process'")
        assert r["StatusName"] == "WBEM_E_NOT_SUPPORTED" and "Win32_Process" in r["Message"], r
        r, _ = wrequest(c, "ExecNotificationQuery", Query="SELECT * FROM Test_Event GROUP WITHIN 5")
        assert r["StatusName"] == "WBEM_E_NOT_SUPPORTED", r
        # The quota: 16 per connection.
        for i in range(16):
            subscribe(c, "SELECT * FROM Test_Event WHERE Seq = %d" % i)
        r, _ = wrequest(c, "ExecNotificationQuery", Query="SELECT * FROM Test_Event")
        assert r["StatusName"] == "WBEM_E_QUOTA_VIOLATION", r
        other = d.connect()
        subscribe(other, "SELECT * FROM Test_Event")
        assert temporary(other)["count"] == 17
        # EventAccess: only uid 4242 may publish to the guarded one.
        g = d.connect()
        guarded = subscribe(g, "SELECT * FROM Test_Event", EventAccess="D:(A;;0x80;;;S-1-22-1-4242)")
        open_q = subscribe(g, "SELECT * FROM Test_Event")
        r, _ = wrequest(g, "ExecNotificationQuery", Query="SELECT * FROM Test_Event", EventAccess="D:(nonsense")
        assert r["Status"] != 0 and r["Field"] == "EventAccess", r
        c.send(ev("x", Seq=99))
        line = g.read()
        assert line["QueryId"] == open_q, line
        r, before = wrequest(g, "Ping")
        assert not before and guarded != open_q, before
        d.stop()


@test
def test_watch_disconnect_cleans_up():
    with new_dir_daemon(tour_objects) as d:
        d.start()
        p = d.connect()
        w = d.connect()
        subscribe(w, "SELECT * FROM Test_Event")
        subscribe(w, "SELECT Message FROM Test_Event")
        t = temporary(p)
        assert t["count"] == 2 and t["created"] == 2, t
        w.close()
        d.conns.remove(w)
        wait_for(lambda: temporary(p)["count"] == 0, "the subscriptions to go with the connection")
        # Routing goes on without them.
        p.send(ev("after"))
        wait_for(lambda: read_lines(d.path("events.log")) == ["sev=3 msg=after"], "the event")
        # A client that leaves without reading what was written to it.
        for _ in range(3):
            w = Conn(d.socket)
            subscribe(w, "SELECT * FROM Test_Event")
            p.send(ev("unread"))
            p.ping()
            w.close()
        wait_for(lambda: temporary(p)["count"] == 0, "the subscriptions of the unread connections to go")
        d.stop()


@test
def test_watch_survives_reload():
    extra_class = {"__GENUS": 1, "__CLASS": "Extra_Event", "__SUPERCLASS": "__ExtrinsicEvent",
                   "__PROPERTIES": {"Note": "string"}}

    def write_extra(d, objs):
        path = d.path("conf.d/20-extra.json")
        with open(path + ".tmp", "w") as f:
            json.dump(objs, f)
        os.rename(path + ".tmp", path)

    with new_dir_daemon(tour_objects) as d:
        write_extra(d, [extra_class])
        d.start()
        w = d.connect()
        p = d.connect()
        qt = subscribe(w, "SELECT Message FROM Test_Event WHERE Severity >= 3")
        qx = subscribe(w, "SELECT * FROM Extra_Event")
        p.send({"__CLASS": "Extra_Event", "Note": "before"})
        p.ping()
        line = w.read()
        assert line["QueryId"] == qx and line["Event"]["Note"] == "before", line

        # A reload that keeps both classes: both subscriptions go on.
        r, _ = wrequest(p, "Reload")
        assert r["Status"] == 0, r
        p.send(ev("one", Severity=4))
        p.send({"__CLASS": "Extra_Event", "Note": "after"})
        p.ping()
        got = read_events(w, 2)
        assert [(l["QueryId"], l["Event"].get("Message") or l["Event"].get("Note")) for l in got] == \
            [(qt, "one"), (qx, "after")], got

        # A reload that removes Extra_Event: that subscription is cancelled
        # with a status line; the other one goes on.
        os.unlink(d.path("conf.d/20-extra.json"))
        r, _ = wrequest(p, "Reload")
        assert r["Status"] == 0, r
        line = w.read()
        assert line["QueryId"] == qx and line["StatusName"] == "WBEM_E_INVALID_CLASS" and line["Cancelled"], line
        t = temporary(p)
        assert t["count"] == 1 and t["subscriptions"][0]["QueryId"] == qt, t
        p.send(ev("two", Severity=3))
        p.ping()
        line = w.read()
        assert line == {"Event": line["Event"], "QueryId": qt} and line["Event"]["Message"] == "two", line
        # SIGHUP as well.
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(d.log_lines("reloaded ")) >= 3, "the SIGHUP reload")
        p.send(ev("three", Severity=3))
        assert w.read()["Event"]["Message"] == "three"
        d.stop()


@test
def test_watch_slow_reader_dropped():
    n = 20000
    with new_dir_daemon(tour_objects) as d:
        d.start()
        slow = d.connect()
        # A small receive buffer, so that the daemon's side fills soon.
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        qs = subscribe(slow, "SELECT * FROM Test_Event")
        fast = d.connect()
        qf = subscribe(fast, "SELECT Seq FROM Test_Event")
        seen = []

        def reader():
            while len(seen) < n:
                line = fast.read()
                assert line["QueryId"] == qf, line
                seen.append(line["Event"]["Seq"])
        th = threading.Thread(target=reader)
        th.start()
        p = d.connect()
        pad = "x" * 200
        # In bursts that the reader (a Python thread, slower than the
        # daemon) keeps up with: only the slow client is to fall behind.
        chunk = 500
        for start in range(0, n, chunk):
            p.send_raw("".join(json.dumps(ev(pad, Seq=i)) + "\n" for i in range(start, start + chunk)))
            p.ping()
            wait_for(lambda: len(seen) >= start + chunk or not th.is_alive(), "the fast reader", interval=0.002)
        th.join(60)
        assert not th.is_alive() and seen == list(range(n)), (len(seen), seen[-3:])
        # The daemon answers others while the slow client reads nothing.
        other = d.connect()
        other.ping()
        t = temporary(other)
        subs = {s["QueryId"]: s for s in t["subscriptions"]}
        assert subs[qf]["delivered"] == n and subs[qf]["dropped"] == 0, t
        assert subs[qs]["dropped"] > 0 and subs[qs]["delivered"] + subs[qs]["dropped"] == n, t
        assert subs[qs]["pending_bytes"] <= 1024 * 1024 + 4096, t
        # The slow client reads at last: its events, then one overflow line
        # saying how many it lost, and nothing lost unaccounted for.
        slow.sock.settimeout(30)
        events = dropped = 0
        notices = []
        while events + dropped < n:
            line = slow.read()
            assert line["QueryId"] == qs, line
            if "Event" in line:
                assert line["Event"]["Seq"] >= events, line
                events += 1
            else:
                assert line["StatusName"] == "WBEM_E_QUEUE_OVERFLOW" and line["Dropped"] > 0, line
                dropped += line["Dropped"]
                notices.append(line)
        assert len(notices) == 1 and dropped == subs[qs]["dropped"], notices
        # It flows again after the notice.
        p.send(ev("again", Seq=n))
        line = slow.read()
        assert line["QueryId"] == qs and line["Event"]["Seq"] == n, line
        t = temporary(other)
        assert t["overflow_notices"] == 1 and t["dropped"] == dropped, t
        d.stop()


@test
def test_watch_cli():
    with new_dir_daemon(tour_objects) as d:
        d.start()
        p = d.connect()
        cmd = [CTL, "-s", d.socket, "watch", "SELECT Message, Severity FROM Test_Event WHERE Severity > 1"]
        w = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        try:
            wait_for(lambda: temporary(p)["count"] == 1, "wmieventctl watch to subscribe")
            p.send(ev("first", Severity=2, Seq=1))
            p.send(ev("skipped", Severity=1))
            p.send(ev("second", Severity=7, Seq=2))
            lines = [json.loads(w.stdout.readline()) for _ in range(2)]
            assert [(e["__CLASS"], e["Message"], e["Severity"], e.get("Seq")) for e in lines] == \
                [("Test_Event", "first", 2, None), ("Test_Event", "second", 7, None)], lines
        finally:
            w.kill()
            w.wait()
            check_no_sanitizer(w.stderr.read().decode(), "wmieventctl watch")
            w.stdout.close()
            w.stderr.close()
        wait_for(lambda: temporary(p)["count"] == 0, "the subscription to end with wmieventctl")

        # --mof: MOF text rendered by the daemon.
        w = subprocess.Popen([CTL, "-s", d.socket, "watch", "--mof", "SELECT * FROM Test_Event"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        try:
            wait_for(lambda: temporary(p)["count"] == 1, "wmieventctl watch --mof to subscribe")
            p.send(ev("mof text", Severity=4))
            text = ""
            while "};" not in text:
                line = w.stdout.readline().decode()
                assert line, text
                text += line
            assert "instance of Test_Event" in text and "mof text" in text and "Severity = 4" in text, text
        finally:
            w.send_signal(signal.SIGINT)
            w.wait(10)
            check_no_sanitizer(w.stderr.read().decode(), "wmieventctl watch --mof")
            w.stdout.close()
            w.stderr.close()

        # Errors: the WBEM name and message, exit 1; no daemon: exit 3.
        rc, out, err = run_ctl(["watch", "SELECT * FROM Test_Event WHERE"], sock=d.socket)
        assert rc == 1 and "WBEM_E_INVALID_QUERY" in err and out == "", (rc, out, err)
        rc, out, err = run_ctl(["watch", "SELECT * FROM Nope_Event"], sock=d.socket)
        assert rc == 1 and "WBEM_E_INVALID_CLASS" in err, (rc, out, err)
        rc, out, err = run_ctl(["watch"], sock=d.socket)
        assert rc == 2 and "watch" in err, (rc, out, err)
        rc, out, err = run_ctl(["watch", "SELECT * FROM Test_Event"], sock=d.path("nosuch.sock"))
        assert rc == 3, (rc, out, err)
        # The daemon going away ends the watch with exit 3.
        w = subprocess.Popen([CTL, "-s", d.socket, "watch", "SELECT * FROM Test_Event"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        wait_for(lambda: temporary(p)["count"] == 1, "the last watch to subscribe")
        d.stop()
        out, err = w.communicate(timeout=20)
        assert w.returncode == 3 and "closed the connection" in err.decode(), (w.returncode, err)
        check_no_sanitizer(err.decode(), "wmieventctl watch")
