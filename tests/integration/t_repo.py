"""The repository at run time: GetObject, PutInstance, DeleteInstance, the
state dir's repository.json, identities."""

import json
import os
import signal
import time

from wmitest import (
    binding, Conn, ev, event_filter, lf_path, logfile_consumer, new_dir_daemon, other_user_request, put,
    read_lines, ROOT, run_ctl, Skip, test, tour_objects, wait_for)


def repo_objects(dr):
    return tour_objects(dr) + [
        event_filter("WatchRepo", "SELECT * FROM __InstanceOperationEvent WHERE TargetInstance ISA '__IndicationRelated'"),
        logfile_consumer("RepoLog", os.path.join(dr, "repo.log"), "%__CLASS% %TargetInstance.__CLASS% %TargetInstance.Name%"),
        binding("WatchRepo", lf_path("RepoLog")),
    ]


def runtime_set(dr, name="Rt"):
    return [
        event_filter(name, "SELECT * FROM Test_Event WHERE Severity >= 4"),
        logfile_consumer(name + "Log", os.path.join(dr, name.lower() + ".log"), "rt %Message%"),
        binding(name, lf_path(name + "Log")),
    ]


@test
def test_repository_put_get_delete_and_persist():
    with new_dir_daemon(repo_objects) as d:
        d.start()
        c = d.connect()
        for o in runtime_set(d.dir):
            r = put(c, o)
            assert r["Status"] == 0, (o, r)
        wait_for(lambda: len(read_lines(d.path("repo.log"))) == 3, "3 creation events")
        assert sorted(read_lines(d.path("repo.log"))) == sorted([
            "__InstanceCreationEvent __EventFilter Rt",
            "__InstanceCreationEvent LogFileEventConsumer RtLog",
            "__InstanceCreationEvent __FilterToConsumerBinding "]), read_lines(d.path("repo.log"))
        c.send(ev("low", Severity=1))
        c.send(ev("high", Severity=5))
        c.ping()
        wait_for(lambda: read_lines(d.path("rt.log")) == ["rt high"], "the runtime subscription delivers")
        r = c.request("GetObject", Path='__EventFilter.Name="rt"')   # keys compare without case
        assert r["Status"] == 0 and r["Origin"] == "runtime" and r["Object"]["Name"] == "Rt", r
        assert r["CreatorSID"] == ("S-1-5-32-544" if os.geteuid() == 0 else "S-1-22-1-%d" % os.geteuid()), r
        r = c.request("GetObject", Path='__EventFilter.Name="AllTest"')
        assert r["Status"] == 0 and r["Origin"] == "config" and "10-test.json" in r["Source"], r
        assert c.request("GetObject", Path='__EventFilter.Name="Nope"')["StatusName"] == "WBEM_E_NOT_FOUND"
        assert c.request("GetObject", Path="not a path!")["StatusName"] == "WBEM_E_INVALID_OBJECT_PATH"
        assert c.request("GetObject", Path='No_Class.Name="x"')["StatusName"] == "WBEM_E_INVALID_CLASS"
        # Flags.
        f = runtime_set(d.dir)[0]
        assert put(c, f, Flags="WBEM_FLAG_CREATE_ONLY")["StatusName"] == "WBEM_E_ALREADY_EXISTS"
        assert put(c, event_filter("Nope", "SELECT * FROM Test_Event"), Flags=1)["StatusName"] == "WBEM_E_NOT_FOUND"
        # Update: a modification event, and the new query applies.
        f2 = dict(f, Query="SELECT * FROM Test_Event WHERE Severity >= 2")
        assert put(c, f2, Flags="UPDATE_ONLY")["Status"] == 0
        wait_for(lambda: "__InstanceModificationEvent __EventFilter Rt" in read_lines(d.path("repo.log")), "modified")
        c.send(ev("mid", Severity=3))
        c.ping()
        wait_for(lambda: read_lines(d.path("rt.log")) == ["rt high", "rt mid"], "the updated query")
        # The object dir's objects cannot be changed or deleted at run time.
        r = put(c, event_filter("AllTest", "SELECT * FROM Test_Event"))
        assert r["StatusName"] == "WBEM_E_ACCESS_DENIED" and "10-test.json" in r["Source"], r
        r = c.request("DeleteInstance", Path='__EventFilter.Name="AllTest"')
        assert r["StatusName"] == "WBEM_E_ACCESS_DENIED" and "10-test.json" in r["Source"], r
        # A change that breaks the configuration changes nothing.
        before = open(d.path("state/repository.json")).read()
        r = put(c, event_filter("Broken", "SELECT * FROM"))
        assert r["StatusName"] == "WBEM_E_INVALID_QUERY", r
        r = put(c, binding("NoSuchFilter", lf_path("RtLog")))
        assert r["StatusName"] == "WBEM_E_NOT_FOUND" and "repository.json" in r["Source"], r
        assert open(d.path("state/repository.json")).read() == before
        # Not repository classes.
        r = put(c, {"__CLASS": "Test_Event", "Message": "x"})
        assert r["StatusName"] == "WBEM_E_INVALID_OPERATION", r
        r = put(c, {"__CLASS": "__EventFilter", "Query": "SELECT * FROM Test_Event", "QueryLanguage": "WQL"})
        assert r["StatusName"] == "WBEM_E_INVALID_OBJECT", r
        assert put(c, {"__CLASS": "Nope"})["StatusName"] == "WBEM_E_INVALID_CLASS"
        assert c.request("PutInstance")["StatusName"] == "WBEM_E_INVALID_PARAMETER"
        assert put(c, f, Flags="SOMETIMES")["StatusName"] == "WBEM_E_INVALID_PARAMETER"
        doc = json.load(open(d.path("state/repository.json")))
        assert len(doc["Objects"]) == 3 and all("CreatorUid" in o for o in doc["Objects"]), doc
        d.stop()
        # Permanent: a new daemon on the same dir has them.
        d.proc = None
        d.exit_checked = False
        d.start()
        c = d.connect()
        r = c.request("GetObject", Path='LogFileEventConsumer.Name="RtLog"')
        assert r["Status"] == 0 and r["Origin"] == "runtime", r
        c.send(ev("after-restart", Severity=4))
        c.ping()
        wait_for(lambda: read_lines(d.path("rt.log"))[-1:] == ["rt after-restart"], "delivery after a restart")
        # Delete: the binding first (a filter it names cannot go first).
        r = c.request("DeleteInstance", Path='__FilterToConsumerBinding.Consumer="LogFileEventConsumer.Name=\\"RtLog\\"",'
                                             'Filter="__EventFilter.Name=\\"Rt\\""')
        assert r["Status"] == 0, r
        r = c.request("DeleteInstance", Path='__EventFilter.Name="Rt"')
        assert r["Status"] == 0, r
        wait_for(lambda: "__InstanceDeletionEvent __EventFilter Rt" in read_lines(d.path("repo.log")), "deleted")
        assert c.request("DeleteInstance", Path='__EventFilter.Name="Rt"')["StatusName"] == "WBEM_E_NOT_FOUND"
        assert len(json.load(open(d.path("state/repository.json")))["Objects"]) == 1
        d.stop()


@test
def test_repository_identities_and_rights():
    if os.geteuid() != 0 or not os.access("/usr/bin/python3", os.X_OK):
        raise Skip("needs root and /usr/bin/python3 to connect as other uids")
    with new_dir_daemon(repo_objects) as d:
        d.start()
        os.chmod(d.socket, 0o666)
        os.chmod(d.dir, 0o755)
        c = d.connect()
        user, other = 4242, 4243
        # A user may subscribe...
        for o in runtime_set(d.dir, "Users"):
            r = other_user_request(d.socket, user, {"Method": "PutInstance", "Id": 1, "Instance": o})
            assert r["Status"] == 0, (o, r)
        r = c.request("GetObject", Path='__EventFilter.Name="Users"')
        assert r["CreatorSID"] == "S-1-22-1-%d" % user, r
        assert c.stats()["Stats"]["filters"]["Users"]["creator"] == "S-1-22-1-%d" % user
        # ... but not register code.
        r = other_user_request(d.socket, user, {"Method": "PutInstance", "Id": 2, "Instance": {
            "__CLASS": "__Win32Provider", "Name": "Evil", "Library": "/tmp/evil.so"}})
        assert r["StatusName"] == "WBEM_E_ACCESS_DENIED", r
        # Another user may not change or delete what the first created; root may.
        r = other_user_request(d.socket, other, {"Method": "DeleteInstance", "Id": 3,
                                                 "Path": '__EventFilter.Name="Users"'})
        assert r["StatusName"] == "WBEM_E_ACCESS_DENIED", r
        r = other_user_request(d.socket, other, {"Method": "PutInstance", "Id": 4,
                                                 "Instance": runtime_set(d.dir, "Users")[0]})
        assert r["StatusName"] == "WBEM_E_ACCESS_DENIED", r
        assert c.request("DeleteInstance", Path='__FilterToConsumerBinding.Consumer="LogFileEventConsumer.Name=\\"UsersLog\\"",'
                                                 'Filter="__EventFilter.Name=\\"Users\\""')["Status"] == 0
        # Root's update keeps the creator.
        assert put(c, dict(runtime_set(d.dir, "Users")[0], Query="SELECT * FROM Test_Event"))["Status"] == 0
        doc = json.load(open(d.path("state/repository.json")))
        assert {o["Instance"]["Name"]: o["CreatorUid"] for o in doc["Objects"]} == {"Users": user, "UsersLog": user}, doc
        d.stop()


@test
def test_subscription_rights_creators_and_user_providers():
    """A binding whose filter, consumer and binding have different creators
    delivers nothing; a non-administrator's binding delivers only to
    providers listed in user_consumer_providers."""
    if os.geteuid() != 0 or not os.access("/usr/bin/python3", os.X_OK):
        raise Skip("needs root and /usr/bin/python3 to act as other uids")
    user = 4242
    for allowed in (False, True):
        settings = {"user_consumer_providers": ["LogFileEventConsumer"]} if allowed else None
        with new_dir_daemon(repo_objects, settings) as d:
            # A filter of uid 4242's own, bound by root to root's consumer.
            with open(os.path.join(d.dir, "conf.d", "20-user.json"), "w") as f:
                json.dump([event_filter("UsersFilter", "SELECT * FROM Test_Event")], f)
            os.chown(os.path.join(d.dir, "conf.d", "20-user.json"), user, user)
            with open(os.path.join(d.dir, "conf.d", "30-root.json"), "w") as f:
                json.dump([binding("UsersFilter", lf_path("TestLog"))], f)
            d.start()
            os.chmod(d.socket, 0o666)
            os.chmod(d.dir, 0o755)
            c = d.connect()
            b = [x for x in c.stats()["Stats"]["bindings"].values() if x["filter"] == "UsersFilter"][0]
            assert b["mode"] == "inactive" and b["status"] == "WBEM_E_ACCESS_DENIED", b
            assert "S-1-22-1-%d" % user in b["reason"] and "S-1-5-32-544" in b["reason"], b
            assert d.log_lines("30-root.json", "delivers nothing"), d.log()
            # uid 4242's own subscription, made at run time; its consumer
            # acts as uid 4242 (issue 12), so it writes in a directory of
            # that uid's.
            udir = d.path("u%d" % user)
            os.mkdir(udir)
            os.chown(udir, user, user)
            for o in runtime_set(udir, "Own"):
                r = other_user_request(d.socket, user, {"Method": "PutInstance", "Id": 1, "Instance": o})
                assert r["Status"] == 0, r
            own = [x for x in c.stats()["Stats"]["bindings"].values() if x["filter"] == "Own"][0]
            c.send(ev("to-user", Severity=5))
            c.ping()
            wait_for(lambda: read_lines(d.path("events.log")) == ["sev=5 msg=to-user"], "the admin's own delivery")
            if allowed:
                assert own["mode"] == "asynchronous", own
                wait_for(lambda: read_lines(os.path.join(udir, "own.log")) == ["rt to-user"], "the user's subscription")
                assert os.stat(os.path.join(udir, "own.log")).st_uid == user
            else:
                assert own["mode"] == "inactive" and "user_consumer_providers" in own["reason"], own
                time.sleep(0.2)
                assert read_lines(os.path.join(udir, "own.log")) == []
            # TestLog got the event once: through AllTest, not the mismatched binding.
            assert read_lines(d.path("events.log")) == ["sev=5 msg=to-user"]
            d.stop()


@test
def test_wmieventctl_get_put_delete():
    with new_dir_daemon(repo_objects) as d:
        d.start()
        path = d.path("new.json")
        with open(path, "w") as f:
            json.dump(runtime_set(d.dir, "Cli"), f)
        rc, out, err = run_ctl(["put", "--create-only", path], sock=d.socket)
        assert rc == 0, (rc, out, err)
        rc, out, err = run_ctl(["put", "--create-only", path], sock=d.socket)
        assert rc == 1 and "WBEM_E_ALREADY_EXISTS" in err and "object 0 refused" in err, (rc, err)
        rc, out, err = run_ctl(["get", '__EventFilter.Name="Cli"'], sock=d.socket)
        assert rc == 0 and json.loads(out)["Name"] == "Cli" and "runtime object" in err, (rc, out, err)
        rc, out, err = run_ctl(["get", '__EventFilter.Name="AllTest"'], sock=d.socket)
        assert rc == 0 and "config object" in err, (rc, err)
        rc, out, err = run_ctl(["delete", '__EventFilter.Name="AllTest"'], sock=d.socket)
        assert rc == 1 and "WBEM_E_ACCESS_DENIED" in err and "10-test.json" in err, (rc, err)
        rc, out, err = run_ctl(["put", d.path("missing.json")], sock=d.socket)
        assert rc == 2, (rc, err)
        rc, out, err = run_ctl(["delete", '__FilterToConsumerBinding.Consumer="LogFileEventConsumer.Name=\\"CliLog\\"",'
                                          'Filter="__EventFilter.Name=\\"Cli\\""'], sock=d.socket)
        assert rc == 0, (rc, err)
        rc, out, err = run_ctl(["get", '__FilterToConsumerBinding.Consumer="LogFileEventConsumer.Name=\\"CliLog\\"",'
                                       'Filter="__EventFilter.Name=\\"Cli\\""'], sock=d.socket)
        assert rc == 1 and "WBEM_E_NOT_FOUND" in err, (rc, err)
        d.stop()


MOF_SUBSCRIPTION = r'''
#pragma namespace("\\\\.\\root\\subscription")
class Mof_Event : __ExtrinsicEvent
{
    string Message;
    uint32 Level;
};

instance of __EventFilter as $F
{
    Name = "MofFilter";
    QueryLanguage = "WQL";
    Query = "SELECT * FROM Mof_Event WHERE Level > 1";
};

instance of LogFileEventConsumer as $C
{
    Name = "MofLog";
    Filename = "%s";
    Text = "mof %%Message%%";
    MaximumFileSize = 0;
};

instance of __FilterToConsumerBinding
{
    Filter = $F;
    Consumer = $C;
};
'''


@test
def test_mofcomp_loads_into_the_repository():
    with new_dir_daemon(repo_objects) as d:
        d.start()
        c = d.connect()
        mof = d.path("sub.mof")
        with open(mof, "w") as f:
            f.write(MOF_SUBSCRIPTION % d.path("mof.log"))
        rc, out, err = run_ctl(["mofcomp", mof], sock=d.socket)
        assert rc == 0 and "4 operation(s) loaded" in out, (rc, out, err)
        names = [x["__CLASS"] for x in c.request("EnumClasses", SuperClass="__ExtrinsicEvent")["Classes"]]
        assert "Mof_Event" in names, names
        r = c.request("GetObject", Path='__EventFilter.Name="MofFilter"')
        assert r["Status"] == 0 and r["Origin"] == "runtime", r
        c.send({"__CLASS": "Mof_Event", "Message": "hi", "Level": 2})
        c.send({"__CLASS": "Mof_Event", "Message": "lo", "Level": 1})
        c.ping()
        wait_for(lambda: read_lines(d.path("mof.log")) == ["mof hi"], "the MOF subscription delivers")
        # All or nothing: a file whose last instance is refused changes nothing.
        bad = d.path("bad.mof")
        with open(bad, "w") as f:
            f.write('#pragma namespace("root\\\\subscription")\n'
                    'instance of __EventFilter { Name = "Half"; QueryLanguage = "WQL"; '
                    'Query = "SELECT * FROM Mof_Event"; };\n'
                    'instance of __FilterToConsumerBinding { Filter = "__EventFilter.Name=\\"Nowhere\\""; '
                    'Consumer = "LogFileEventConsumer.Name=\\"MofLog\\""; };\n')
        rc, out, err = run_ctl(["mofcomp", bad], sock=d.socket)
        assert rc == 1 and "WBEM_E_NOT_FOUND" in err, (rc, out, err)
        assert c.request("GetObject", Path='__EventFilter.Name="Half"')["StatusName"] == "WBEM_E_NOT_FOUND"
        # --check does not touch the daemon.
        rc, out, err = run_ctl(["mofcomp", "--check", bad], sock=d.socket)
        assert rc == 0, (rc, out, err)
        # Classes: PutClass, DeleteClass (with its instances).
        r = c.request("PutClass", Class={"__CLASS": "Mof_Other", "__SUPERCLASS": "Mof_Event",
                                         "__PROPERTIES": {"Extra": "string"}})
        assert r["Status"] == 0, r
        assert c.request("PutClass", Class={"__CLASS": "__EventFilter"})["StatusName"] == "WBEM_E_ACCESS_DENIED"
        assert c.request("PutClass", Class={"__CLASS": "Mof_Other"}, Flags="CREATE_ONLY")["StatusName"] == \
            "WBEM_E_ALREADY_EXISTS"
        # The filter on Mof_Event keeps the class from going while a binding uses it... the filter
        # itself is a runtime object: deleting the class takes Mof_Other with it, and the query
        # on Mof_Event no longer parses, so the change is refused.
        r = c.request("DeleteClass", ClassName="Mof_Event")
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS", r
        assert c.request("DeleteClass", ClassName="Mof_Other")["Status"] == 0
        names = [x["__CLASS"] for x in c.request("EnumClasses", SuperClass="Mof_Event")["Classes"]]
        assert names == [], names
        assert c.request("DeleteClass", ClassName="__EventFilter")["StatusName"] == "WBEM_E_ACCESS_DENIED"
        assert c.request("EnumClasses", SuperClass="Nope")["StatusName"] == "WBEM_E_INVALID_CLASS"
        # Persisted, classes first.
        d.stop()
        d.proc = None
        d.exit_checked = False
        d.start()
        c = d.connect()
        c.send({"__CLASS": "Mof_Event", "Message": "again", "Level": 5})
        c.ping()
        wait_for(lambda: read_lines(d.path("mof.log")) == ["mof hi", "mof again"], "after a restart")
        d.stop()


@test
def test_real_world_mof_delivers():
    """Microsoft's "writing to a log file based on an event" MOF, compiled
    into a live daemon: its own instance of LogFileEvent fires its filter."""
    src = os.path.join(ROOT, "tests", "data", "mof", "real-world",
                       "MicrosoftDocs_win32_writing-to-a-log-file-based-on-an-event.mof")
    with new_dir_daemon(tour_objects) as d:
        d.start()
        text = open(src).read().replace('"c:\\\\Logfile.log"', json.dumps(d.path("Logfile.log")))
        assert d.path("Logfile.log") in text
        mof = d.path("logfile.mof")
        with open(mof, "w") as f:
            f.write(text)
        rc, out, err = run_ctl(["mofcomp", mof], sock=d.socket)
        assert rc == 0 and "5 operation(s) loaded" in out, (rc, out, err)
        wait_for(lambda: read_lines(d.path("Logfile.log")) == ["Logfile Event Consumer event"],
                 "the MOF's own instance fires its filter")
        c = d.connect()
        r = c.request("GetObject", Path='LogFileEvent.Name="Logfile Event Consumer event"')
        assert r["Status"] == 0 and r["Origin"] == "runtime", r
        rc, out, err = run_ctl(["enum", "LogFileEvent"], sock=d.socket)
        assert rc == 0 and len(out.splitlines()) == 1, (rc, out, err)
        d.stop()


# Every real-world MOF, loaded into one live daemon in turn: what Linux has
# loads; the rest is refused, all or nothing, for the reason given.
REAL_WORLD_OUTCOMES = [
    ("creating-a-timer-event-with-win32-localtime", None, "its Win32_LocalTime query needs no WITHIN"),
    ("creating-an-event-filter", "WBEMMOF_E_ILLEGAL_CONSTANT_VALUE", "\\r in \"\\root\\cimv2\" (docs/mof.md)"),
    ("implementing-cross-namespace", "WBEM_E_NO_KEY", "its consumer has no Name"),
    ("logging-to-nt-event-log", "WBEM_E_PROVIDER_NOT_FOUND", "no NTEventLogEventConsumer provider on Linux"),
    ("standard-consumers.mof", "WBEM_E_INVALID_CLASS", "no RegistryTreeChangeEvent on Linux"),
    ("standard-consumers_4", "WBEM_E_PROVIDER_NOT_FOUND", "no NTEventLogEventConsumer provider"),
    ("receiving-events-securely", "WBEMMOF_E_EXPECTED_SEMI", "a skeleton with elided bodies"),
    ("running-a-program-from-the-command-line", "WBEM_E_PROVIDER_NOT_FOUND", "no CommandLineEventConsumer"),
    ("running-a-script-based-on-an-event.mof", "WBEM_E_PROVIDER_NOT_FOUND", "no ActiveScriptEventConsumer"),
    ("running-a-script-based-on-an-event_2", "WBEM_E_PROVIDER_NOT_FOUND", "no ActiveScriptEventConsumer"),
    ("sending-e-mail", "WBEM_E_PROVIDER_NOT_FOUND", "no SMTPEventConsumer"),
    ("troubleshooting-wmi-client", "WBEM_E_INVALID_CLASS", "no MSFT_WmiProvider_OperationEvent"),
    ("writing-to-a-log-file", None, "delivers (test_real_world_mof_delivers)"),
    ("EvProv.Mof", "WBEM_E_INVALID_PROVIDER_REGISTRATION", "a COM CLSID, no Library"),
    ("SampleViewer.Mof", "WBEM_E_INVALID_PROVIDER_REGISTRATION", "a COM CLSID, no Library"),
    ("event_consumer_ProvReg", "WBEM_E_INVALID_PROVIDER_REGISTRATION", "a COM CLSID, no Library"),
    ("event_provider_ProvReg", "WBEM_E_INVALID_PROVIDER_REGISTRATION", "a COM CLSID, no Library"),
]


@test
def test_real_world_mofs_in_a_live_daemon():
    """Each real-world MOF compiled into the same live daemon: the ones whose
    classes exist on Linux load (into the namespaces their pragmas name,
    an existing namespace's __Namespace instance being a record of it);
    the others are refused whole, with the status that says why."""
    src = os.path.join(ROOT, "tests", "data", "mof", "real-world")
    files = sorted(os.listdir(src))
    assert len(files) == len(REAL_WORLD_OUTCOMES), files
    with new_dir_daemon(tour_objects) as d:
        d.start()
        c = d.connect()
        for key, status, why in REAL_WORLD_OUTCOMES:
            match = [f for f in files if key in f]
            assert len(match) == 1, (key, match)
            before = json.load(open(os.path.join(d.dir, "state", "repository.json"))) \
                if os.path.exists(os.path.join(d.dir, "state", "repository.json")) else None
            rc, out, err = run_ctl(["mofcomp", os.path.join(src, match[0])], sock=d.socket)
            if status is None:
                assert rc == 0 and "operation(s) loaded" in out, (match[0], why, rc, out, err)
            else:
                assert rc == 1 and status in err, (match[0], why, rc, out, err)
                after = json.load(open(os.path.join(d.dir, "state", "repository.json"))) \
                    if os.path.exists(os.path.join(d.dir, "state", "repository.json")) else None
                assert before == after, (match[0], "a refused file changed the repository")
        # The timer sample's filter lives in root\default (no pragma), takes
        # root\cimv2's events, and is polled each second without WITHIN.
        r = c.request("GetObject", Path='__EventFilter.Name="wake-up call"', Namespace="root\\default")
        assert r["Status"] == 0 and r["Object"]["EventNamespace"] == "root\\cimv2", r
        for o in [dict(event_filter("EverySecond", "SELECT * FROM __InstanceModificationEvent WHERE "
                                    "TargetInstance ISA 'Win32_LocalTime'"), EventNamespace="root\\cimv2"),
                  logfile_consumer("SecondLog", d.path("second.log"), "%TargetInstance.Second%"),
                  binding("EverySecond", lf_path("SecondLog"))]:
            r = put(c, o)
            assert r["Status"] == 0, (o, r)
        wait_for(lambda: len(read_lines(d.path("second.log"))) >= 2, "Win32_LocalTime changes without WITHIN",
                 timeout=10)
        d.stop()


@test
def test_repository_survives_kill9_during_writes():
    """kill -9 in the middle of a stream of PutInstance: the repository file
    is whole, and every change the daemon acknowledged is in it."""
    import threading
    with new_dir_daemon(tour_objects) as d:
        d.start()
        acked = []
        stop = threading.Event()

        def writer():
            try:
                c = Conn(d.socket)
                for i in range(2000):
                    if stop.is_set():
                        break
                    r = c.request("PutInstance", Instance=event_filter("K%d" % i, "SELECT * FROM Test_Event"))
                    if r.get("Status") == 0:
                        acked.append(i)
            except Exception:
                pass
        t = threading.Thread(target=writer)
        t.start()
        wait_for(lambda: len(acked) >= 20, "some writes", timeout=30)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
        t.join(30)
        doc = json.load(open(d.path("state/repository.json")))
        names = {o["Instance"]["Name"] for o in doc["Objects"]}
        assert all("K%d" % i in names for i in acked), (len(acked), len(names))
        # It starts again on it.
        d.proc = None
        d.exit_checked = False
        d.start()
        c = d.connect()
        r = c.request("GetObject", Path='__EventFilter.Name="K%d"' % acked[-1])
        assert r["Status"] == 0, r
        d.stop()


@test
def test_several_clients_at_once():
    """Writers, a watcher and producers on their own connections at once:
    every write acknowledged is there, every event reaches the watcher."""
    import threading
    with new_dir_daemon(tour_objects) as d:
        d.start()
        w = d.connect()
        r = w.request("ExecNotificationQuery", QueryLanguage="WQL",
                      Query="SELECT * FROM __InstanceCreationEvent WHERE TargetInstance ISA '__EventFilter'")
        assert r["Status"] == 0, r
        errors = []

        def writer(k):
            try:
                c = Conn(d.socket)
                for i in range(15):
                    r = c.request("PutInstance", Instance=event_filter("C%d_%d" % (k, i), "SELECT * FROM Test_Event"))
                    if r.get("Status") != 0:
                        errors.append(r)
                c.close()
            except Exception as e:
                errors.append(repr(e))

        def producer(k):
            try:
                c = Conn(d.socket)
                for i in range(100):
                    c.send(ev("p%d_%d" % (k, i)))
                c.request("Ping")
                c.close()
            except Exception as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)] + \
                  [threading.Thread(target=producer, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[:3]
        created = set()
        while len(created) < 45:
            line = w.read()
            created.add(line["Event"]["TargetInstance"]["Name"])
        assert created == {"C%d_%d" % (k, i) for k in range(3) for i in range(15)}, len(created)
        wait_for(lambda: len(read_lines(d.path("events.log"))) == 200, "every produced event")
        doc = json.load(open(d.path("state/repository.json")))
        assert len(doc["Objects"]) == 45, len(doc["Objects"])
        d.stop()


@test
def test_runtime_object_never_shadowed():
    """An object file that declares the path of a runtime object is refused
    at reload, naming it; nothing is shadowed silently."""
    with new_dir_daemon(tour_objects) as d:
        d.start()
        c = d.connect()
        assert put(c, event_filter("Twice", "SELECT * FROM Test_Event"))["Status"] == 0
        with open(os.path.join(d.dir, "conf.d", "20-twice.json"), "w") as f:
            json.dump([event_filter("Twice", "SELECT * FROM Test_Event WHERE Severity > 1")], f)
        r = c.request("Reload")
        assert r["StatusName"] == "WBEM_E_ALREADY_EXISTS" and "defined twice" in r["Message"], r
        assert "repository.json" in r["Source"], r
        r = c.request("GetObject", Path='__EventFilter.Name="Twice"')
        assert r["Origin"] == "runtime" and "Severity" not in r["Object"]["Query"], r
        d.stop()
