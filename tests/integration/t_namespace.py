"""Namespaces: objects and classes in root\subscription, root\cimv2,
root\default and namespaces created by __Namespace instances; requests,
paths, MOF pragmas, socket events and subscriptions in each."""

import json
import os
import subprocess
import time

from wmitest import (
    binding, DAEMON, ev, event_filter, failing_consumer_objects, lf_path, logfile_consumer, new_dir_daemon,
    other_user_request, put, q, read_events, read_lines, rec_objects, run_ctl, serial, subscribe, test,
    test_provider, tour_objects, wait_for)


APP = "root\\cimv2\\app"


def app_objects(dr):
    return tour_objects(dr) + [
        # The object dir creates a namespace and puts a class and an
        # instance in it; the same Name lives in root\subscription too.
        {"__CLASS": "__Namespace", "Name": "Ops", "__NAMESPACE": "root\\default"},
        {"__GENUS": 1, "__CLASS": "Ops_Event", "__SUPERCLASS": "__ExtrinsicEvent",
         "__NAMESPACE": "root\\default\\ops", "__PROPERTIES": {"Message": "string"}},
        dict(logfile_consumer("Twin", os.path.join(dr, "twin-ops.log"), "ops %Message%"),
             __NAMESPACE="root\\default\\ops"),
        logfile_consumer("Twin", os.path.join(dr, "twin-sub.log"), "sub %Message%"),
        dict(event_filter("OpsAll", "SELECT * FROM Ops_Event"), __NAMESPACE="root\\default\\ops"),
        dict(binding("OpsAll", lf_path("Twin")), __NAMESPACE="root\\default\\ops"),
    ]


@test
def test_namespaces_hold_their_own_objects():
    """The same path names a different object in each namespace; classes
    live in one namespace; a subscription in a namespace takes the events
    raised there; everything persists; deleting a namespace deletes what
    it holds."""
    with new_dir_daemon(app_objects) as d:
        d.start()
        c = d.connect()
        # The object dir's namespace: its consumer is not root\subscription's.
        r = c.request("GetObject", Path='LogFileEventConsumer.Name="Twin"', Namespace="ROOT\\Default\\Ops")
        assert r["Status"] == 0 and r["Object"]["Text"] == "ops %Message%", r
        assert r["Object"]["__NAMESPACE"] == "root\\default\\ops", r
        r = c.request("GetObject", Path='LogFileEventConsumer.Name="Twin"')
        assert r["Status"] == 0 and r["Object"]["Text"] == "sub %Message%", r
        r = c.request("GetObject", Path='\\\\.\\root\\default\\ops:LogFileEventConsumer.Name="Twin"')
        assert r["Status"] == 0 and r["Object"]["Text"] == "ops %Message%", r
        assert c.stats()["Stats"]["filters"]["root\\default\\ops:OpsAll"]["matched"] == 0
        # Its events: raised there, delivered there; elsewhere the class is unknown.
        c.send({"__CLASS": "Ops_Event", "__NAMESPACE": "root\\default\\ops", "Message": "one"})
        r = c.request("Indicate", Events=[{"__CLASS": "Ops_Event", "Message": "x"}])
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS", r
        c.ping()
        wait_for(lambda: read_lines(d.path("twin-ops.log")) == ["ops one"], "the namespace's subscription")

        # Create a namespace at run time, a class and a subscription in it.
        r = put(c, {"__CLASS": "__Namespace", "Name": "App"}, Namespace="root\\cimv2")
        assert r["Status"] == 0, r
        r = c.request("PutClass", Namespace=APP, Class={
            "__CLASS": "App_Event", "__SUPERCLASS": "__ExtrinsicEvent", "__PROPERTIES": {"Message": "string"}})
        assert r["Status"] == 0, r
        for o in [event_filter("AppAll", "SELECT * FROM App_Event"),
                  logfile_consumer("Twin", d.path("twin-app.log"), "app %Message%"),
                  binding("AppAll", lf_path("Twin"))]:
            r = put(c, o, Namespace=APP)
            assert r["Status"] == 0, (o, r)
        # The same filter in root\subscription cannot see App_Event.
        r = put(c, event_filter("AppAll", "SELECT * FROM App_Event"))
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS" and "EventNamespace" in r["Message"], r
        # ... unless it says where the events come from.
        r = put(c, dict(event_filter("AppAll", "SELECT * FROM App_Event"), EventNamespace=APP))
        assert r["Status"] == 0, r
        r = put(c, binding("AppAll", lf_path("Twin")))
        assert r["Status"] == 0, r
        r = c.request("Indicate", Namespace=APP, Events=[{"__CLASS": "App_Event", "Message": "two"}])
        assert r["Status"] == 0, r
        c.ping()
        wait_for(lambda: read_lines(d.path("twin-app.log")) == ["app two"], "the runtime namespace's subscription")
        wait_for(lambda: read_lines(d.path("twin-sub.log")) == ["sub two"], "the cross-namespace subscription")

        # Enumerations are per namespace.
        names = sorted(i["Name"] for i in c.request("EnumInstances", ClassName="__EventFilter",
                                                      Namespace=APP)["Instances"])
        assert names == ["AppAll"], names
        names = [i["__CLASS"] for i in c.request("EnumInstances", ClassName="__Namespace",
                                                  Namespace="root\\cimv2")["Instances"]]
        assert names == ["__Namespace"], names
        cls = [x["__CLASS"] for x in c.request("EnumClasses", SuperClass="__ExtrinsicEvent",
                                               Namespace=APP)["Classes"]]
        assert "App_Event" in cls and "Test_Event" not in cls and "Ops_Event" not in cls, cls
        cls = [x["__CLASS"] for x in c.request("EnumClasses", SuperClass="__ExtrinsicEvent")["Classes"]]
        assert "App_Event" not in cls and "Test_Event" in cls, cls
        # A class name is unique across namespaces (a documented deviation).
        r = c.request("PutClass", Class={"__CLASS": "App_Event", "__SUPERCLASS": "__ExtrinsicEvent"})
        assert r["StatusName"] == "WBEM_E_ALREADY_EXISTS" and APP.lower() in r["Message"], r

        # Errors: a namespace that does not exist, a malformed one.
        for req in [dict(Method="GetObject", Path='__EventFilter.Name="AppAll"', Namespace="root\\nowhere"),
                    dict(Method="PutInstance", Instance=event_filter("N", "SELECT * FROM __Event"),
                         Namespace="root\\nowhere"),
                    dict(Method="EnumInstances", ClassName="__EventFilter", Namespace="root\\nowhere"),
                    dict(Method="EnumClasses", Namespace="nowhere"),
                    dict(Method="ExecNotificationQuery", Query="SELECT * FROM __Event", Namespace="root\\x")]:
            method = req.pop("Method")
            r = c.request(method, **req)
            assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE", (method, r)
        r = put(c, {"__CLASS": "__Namespace", "Name": "a\\b"}, Namespace="root")
        assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE", r
        r = c.request("GetObject", Path='__EventFilter.Name="x"', Namespace=7)
        assert r["StatusName"] == "WBEM_E_INVALID_PARAMETER" and r["Field"] == "Namespace", r

        # Restart: the runtime namespace, its class and objects are back.
        d.stop()
        d.proc = None
        d.exit_checked = False
        d.start()
        c = d.connect()
        r = c.request("GetObject", Path=APP + ':LogFileEventConsumer.Name="Twin"')
        assert r["Status"] == 0 and r["Origin"] == "runtime" and r["Object"]["Text"] == "app %Message%", r
        c.send({"__CLASS": "App_Event", "__NAMESPACE": APP, "Message": "three"})
        c.ping()
        wait_for(lambda: read_lines(d.path("twin-app.log")) == ["app two", "app three"], "after a restart")

        # Deleting the namespace deletes its class and objects, but the
        # root\subscription filter still names its class: refused whole.
        r = c.request("DeleteInstance", Path='__Namespace.Name="app"', Namespace="root\\cimv2")
        assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE" and "EventNamespace" in r["Message"], r
        assert c.request("DeleteInstance", Path='__FilterToConsumerBinding.Filter="__EventFilter.Name=\\"AppAll\\""'
                         ',Consumer="LogFileEventConsumer.Name=\\"Twin\\""')["Status"] == 0
        assert c.request("DeleteInstance", Path='__EventFilter.Name="AppAll"')["Status"] == 0
        r = c.request("DeleteInstance", Path='root\\cimv2:__Namespace.Name="app"')
        assert r["Status"] == 0, r
        r = c.request("GetObject", Path='LogFileEventConsumer.Name="Twin"', Namespace=APP)
        assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE", r
        assert c.request("GetObject", Path='LogFileEventConsumer.Name="Twin"')["Status"] == 0
        doc = json.load(open(os.path.join(d.dir, "state", "repository.json")))
        assert not any(e.get("Namespace", "").startswith(APP.lower()) for e in doc["Objects"] + doc["Classes"]), doc
        d.stop()


@test
def test_namespace_events_and_rights():
    """__Namespace instances raise __NamespaceCreationEvent and
    __NamespaceDeletionEvent in the parent namespace; only administrators
    create namespaces."""
    with new_dir_daemon(tour_objects) as d:
        d.start()
        c = d.connect()
        w = d.connect()
        subscribe(w, "SELECT * FROM __NamespaceOperationEvent", Namespace="root")
        assert put(c, {"__CLASS": "__Namespace", "Name": "Lab"}, Namespace="root")["Status"] == 0
        e = read_events(w, 1)[0]
        assert e["Event"]["__CLASS"] == "__NamespaceCreationEvent", e
        assert e["Event"]["TargetNamespace"]["Name"] == "Lab", e
        assert c.request("DeleteInstance", Path='__Namespace.Name="Lab"', Namespace="root")["Status"] == 0
        e = read_events(w, 1)[0]
        assert e["Event"]["__CLASS"] == "__NamespaceDeletionEvent", e
        if os.geteuid() == 0 and os.access("/usr/bin/python3", os.X_OK):
            os.chmod(d.socket, 0o666)
            os.chmod(d.dir, 0o755)
            r = other_user_request(d.socket, 4242, {"Method": "PutInstance", "Id": 1, "Namespace": "root",
                                                    "Instance": {"__CLASS": "__Namespace", "Name": "Mine"}})
            assert r["StatusName"] == "WBEM_E_ACCESS_DENIED", r
        d.stop()


@test
def test_namespace_config_errors():
    """An object of the object dir in a namespace that does not exist, or of
    a class another namespace holds, is refused with the file and object."""
    cases = [
        ([dict(event_filter("F", "SELECT * FROM __Event"), __NAMESPACE="root\\nowhere")],
         "WBEM_E_INVALID_NAMESPACE", "namespace root\\nowhere does not exist"),
        ([dict(event_filter("F", "SELECT * FROM __Event"), __NAMESPACE="cimv2")],
         "WBEM_E_INVALID_NAMESPACE", "is not a namespace"),
        ([{"__CLASS": "__Namespace", "Name": "Deep", "__NAMESPACE": "root\\missing"}],
         "WBEM_E_INVALID_NAMESPACE", "does not exist"),
        ([{"__GENUS": 1, "__CLASS": "X_Event", "__SUPERCLASS": "__ExtrinsicEvent", "__NAMESPACE": "root\\cimv2"},
          {"__CLASS": "X_Event", "__NAMESPACE": "root\\default"}],
         "WBEM_E_INVALID_CLASS", "class X_Event is in namespace root\\cimv2, not in root\\default"),
        ([{"__GENUS": 1, "__CLASS": "X_Event", "__SUPERCLASS": "__ExtrinsicEvent", "__NAMESPACE": "root\\cimv2"},
          {"__GENUS": 1, "__CLASS": "Y_Event", "__SUPERCLASS": "X_Event"}],
         "WBEM_E_INVALID_SUPERCLASS", "class X_Event is in namespace root\\cimv2, not in root\\subscription"),
        ([dict(event_filter("F", "SELECT * FROM __Event"), EventNamespace="root\\nowhere")],
         "WBEM_E_INVALID_NAMESPACE", "EventNamespace"),
    ]
    for objs, status, text in cases:
        with new_dir_daemon(lambda dr: objs) as d:
            p = subprocess.run([DAEMON, "-n", "-f", d.conf], capture_output=True, text=True, timeout=30)
            assert p.returncode != 0 and status in p.stderr and text in p.stderr and "10-test.json: object" in \
                p.stderr, (objs, p.stderr)


@test
def test_mofcomp_namespaces():
    """#pragma namespace puts each part of a MOF file in its namespace, and
    creates the namespaces its __Namespace instances declare."""
    with new_dir_daemon(tour_objects) as d:
        d.start()
        mof = d.path("ns.mof")
        with open(mof, "w") as f:
            f.write(r'''
#pragma namespace("\\\\.\\root\\cimv2")
instance of __Namespace { Name = "Tools"; };
#pragma namespace("\\\\.\\root\\cimv2\\Tools")
class Tool_Event : __ExtrinsicEvent { string Message; };
instance of LogFileEventConsumer { Name = "ToolLog"; Filename = "%s"; Text = "tool %%Message%%"; };
instance of __EventFilter { Name = "Tools"; QueryLanguage = "WQL"; Query = "SELECT * FROM Tool_Event"; };
instance of __FilterToConsumerBinding { Filter = "__EventFilter.Name=\"Tools\"";
                                        Consumer = "LogFileEventConsumer.Name=\"ToolLog\""; };
#pragma namespace("\\\\.\\root\\subscription")
instance of LogFileEventConsumer { Name = "ToolLog"; Filename = "%s"; Text = "sub"; };
''' % (d.path("tool.log"), d.path("sub.log")))
        rc, out, err = run_ctl(["mofcomp", mof], sock=d.socket)
        assert rc == 0 and "6 operation(s) loaded" in out, (rc, out, err)
        rc, out, err = run_ctl(["-N", "root\\cimv2\\tools", "get", 'LogFileEventConsumer.Name="ToolLog"'],
                               sock=d.socket)
        assert rc == 0 and json.loads(out)["Text"] == "tool %Message%", (rc, out, err)
        rc, out, err = run_ctl(["get", 'LogFileEventConsumer.Name="ToolLog"'], sock=d.socket)
        assert rc == 0 and json.loads(out)["Text"] == "sub", (rc, out, err)
        rc, out, err = run_ctl(["-N", "root\\cimv2\\tools", "indicate", "Tool_Event", "Message=hi"], sock=d.socket)
        assert rc == 0, (rc, out, err)
        wait_for(lambda: read_lines(d.path("tool.log")) == ["tool hi"], "the MOF's namespace delivers")
        rc, out, err = run_ctl(["indicate", "Tool_Event", "Message=hi"], sock=d.socket)
        assert rc == 1 and "WBEM_E_INVALID_CLASS" in err, (rc, out, err)
        rc, out, err = run_ctl(["-N", "root\\cimv2\\tools", "enum", "__EventFilter"], sock=d.socket)
        assert rc == 0 and [json.loads(l)["Name"] for l in out.splitlines()] == ["Tools"], (rc, out, err)
        d.stop()


@test
def test_namespace_review_regressions():
    """Found in review: long filter names stay distinct; same-named GROUP BY
    filters of two namespaces get their own aggregate classes; the engine's
    reports are raised in the failing consumer's namespace and name it
    whole; pollers feed only filters that take root\\cimv2's events."""
    long1, long2 = "A" * 495 + "1", "A" * 495 + "2"

    def objs(dr):
        failing = test_provider("Failing", "failing_consumer.so", "Test_FailingConsumer", {})
        failing[0]["__NAMESPACE"] = "root\\default"   # the consumer class lives where its consumer does
        return tour_objects(dr) + failing + [
                event_filter(long1, "SELECT * FROM Test_Event WHERE Severity = 1"),
                event_filter(long2, "SELECT * FROM Test_Event WHERE Severity = 2"),
                logfile_consumer("Long2", os.path.join(dr, "long2.log"), "%Message%"),
                binding(long2, lf_path("Long2")),
                # GROUP BY filters named G in two namespaces, BY different properties.
                event_filter("G", "SELECT * FROM Test_Event GROUP WITHIN 1 BY Severity"),
                logfile_consumer("GSub", os.path.join(dr, "gsub.log"), "%NumberOfEvents% %Severity%"),
                binding("G", lf_path("GSub")),
                dict(event_filter("G", "SELECT * FROM Test_Event GROUP WITHIN 1 BY Message"),
                     __NAMESPACE="root\\default", EventNamespace="root\\subscription"),
                dict(logfile_consumer("GDef", os.path.join(dr, "gdef.log"), "%NumberOfEvents% %Message%"),
                     __NAMESPACE="root\\default"),
                dict(binding("G", lf_path("GDef")), __NAMESPACE="root\\default"),
                # A failing consumer in root\default, watched from both namespaces.
                dict({"__CLASS": "Test_FailingConsumer", "Name": "Fails"}, __NAMESPACE="root\\default"),
                dict(binding("AllTest", "Test_FailingConsumer.Name=" + q("Fails")), __NAMESPACE="root\\default"),
                dict(event_filter("AllTest", "SELECT * FROM Test_Event"), __NAMESPACE="root\\default",
                     EventNamespace="root\\subscription"),
                dict(event_filter("FailDef", "SELECT * FROM __ConsumerFailureEvent"), __NAMESPACE="root\\default",
                     EventNamespace="root\\default"),
                dict(logfile_consumer("FailDefLog", os.path.join(dr, "faildef.log"), "%IntendedConsumer%"),
                     __NAMESPACE="root\\default"),
                dict(binding("FailDef", lf_path("FailDefLog")), __NAMESPACE="root\\default"),
                dict(event_filter("FailSub", "SELECT * FROM __ConsumerFailureEvent"),
                     EventNamespace="root\\subscription"),
                logfile_consumer("FailSubLog", os.path.join(dr, "failsub.log"), "%IntendedConsumer%"),
                binding("FailSub", lf_path("FailSubLog")),
                # A poller's events are raised in root\cimv2 only.
                dict(event_filter("Clock", "SELECT * FROM __InstanceModificationEvent WITHIN 1 WHERE "
                                  "TargetInstance ISA 'Win32_LocalTime'"), EventNamespace="root\\default"),
                logfile_consumer("ClockLog", os.path.join(dr, "clock.log"), "%TargetInstance.Second%"),
                binding("Clock", lf_path("ClockLog")),
            ]
    with new_dir_daemon(objs) as d:
        d.start()
        c = d.connect()
        c.send(ev("one", Severity=1))
        c.send(ev("two", Severity=2))
        c.send(ev("two", Severity=2))
        c.ping()
        wait_for(lambda: read_lines(d.path("long2.log")) == ["two", "two"], "the second long-named filter only")
        wait_for(lambda: sorted(read_lines(d.path("gsub.log"))) == ["1 1", "2 2"], "GROUP BY Severity")
        wait_for(lambda: sorted(read_lines(d.path("gdef.log"))) == ["1 one", "2 two"], "GROUP BY Message")
        want = 'root\\default:Test_FailingConsumer.Name="Fails"'
        wait_for(lambda: len(read_lines(d.path("faildef.log"))) >= 3, "failure reports in root\\default")
        assert set(read_lines(d.path("faildef.log"))) == {want}, read_lines(d.path("faildef.log"))
        time.sleep(1.5)
        assert read_lines(d.path("failsub.log")) == [], read_lines(d.path("failsub.log"))
        assert read_lines(d.path("clock.log")) == [], read_lines(d.path("clock.log"))
        assert d.log_lines("EventNamespace root\\default: instance events of Win32_LocalTime"), d.log()
        # A namespace name too long, or with a control character.
        for name in ["n" * 300, "a\tb"]:
            r = put(c, {"__CLASS": "__Namespace", "Name": name}, Namespace="root")
            assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE", r
        # A provider class's EnumInstances checks the namespace too.
        r = c.request("EnumInstances", ClassName="Win32_LocalTime", Namespace="root\\nowhere")
        assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE", r
        assert c.request("EnumInstances", ClassName="Win32_LocalTime", Namespace="root\\cimv2")["Status"] == 0
        d.stop()
    # A binding to a long name that does not exist is refused, not matched
    # to another one.
    with new_dir_daemon(lambda dr: objs(dr) + [binding("A" * 495 + "3", lf_path("Long2"))]) as d:
        p = subprocess.run([DAEMON, "-n", "-f", d.conf], capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and "WBEM_E_NOT_FOUND" in p.stderr, p.stderr


@test
def test_repository_file_namespace_spellings():
    """An administrator's repository.json may spell a namespace as WMI does:
    updates and deletes find the entry all the same."""
    with new_dir_daemon(tour_objects) as d:
        os.makedirs(os.path.join(d.dir, "state"), exist_ok=True)
        with open(os.path.join(d.dir, "state", "repository.json"), "w") as f:
            json.dump({"Version": 1, "Objects": [
                {"Instance": event_filter("Spelled", "SELECT * FROM __Event"), "CreatorUid": 0,
                 "Namespace": "\\\\.\\ROOT\\CIMV2"}]}, f)
        d.start()
        c = d.connect()
        r = c.request("GetObject", Path='__EventFilter.Name="Spelled"', Namespace="root\\cimv2")
        assert r["Status"] == 0 and r["Origin"] == "runtime", r
        r = put(c, event_filter("Spelled", "SELECT * FROM __ExtrinsicEvent"), Namespace="root\\cimv2")
        assert r["Status"] == 0, r
        doc = json.load(open(os.path.join(d.dir, "state", "repository.json")))
        assert len(doc["Objects"]) == 1 and doc["Objects"][0]["Namespace"] == "root\\cimv2", doc
        r = c.request("DeleteInstance", Path='root\\cimv2:__EventFilter.Name="Spelled"')
        assert r["Status"] == 0, r
        d.stop()


@test
def test_reports_of_a_retired_consumer_keep_its_namespace():
    """A consumer a reload changes drains its queue as a retired one: the
    drop reports it raises meanwhile are still raised in its namespace and
    name it with its namespace."""
    def objs(dr):
        slow = rec_objects(dr, "slow.so", "Test_SlowConsumer")
        slow[0]["__NAMESPACE"] = "root\\default"
        return tour_objects(dr) + slow + [
            dict({"__CLASS": "Test_SlowConsumer", "Name": "X", "Filename": os.path.join(dr, "x.out"),
                  "DelayMs": 400}, __NAMESPACE="root\\default"),
            dict(event_filter("AllT", "SELECT * FROM Test_Event"), __NAMESPACE="root\\default",
                 EventNamespace="root\\subscription"),
            dict(binding("AllT", "Test_SlowConsumer.Name=" + q("X")), __NAMESPACE="root\\default"),
            dict(event_filter("RepDef", "SELECT * FROM __EventDroppedEvent"), __NAMESPACE="root\\default",
                 EventNamespace="root\\default"),
            dict(logfile_consumer("RepDefLog", os.path.join(dr, "def.log"), "%IntendedConsumer%|%Event.Message%"),
                 __NAMESPACE="root\\default"),
            dict(binding("RepDef", lf_path("RepDefLog")), __NAMESPACE="root\\default"),
            dict(event_filter("RepSub", "SELECT * FROM __EventDroppedEvent"), EventNamespace="root\\subscription"),
            logfile_consumer("RepSubLog", os.path.join(dr, "sub.log"), "%IntendedConsumer%|%Event.Message%"),
            binding("RepSub", lf_path("RepSubLog")),
        ]
    with new_dir_daemon(objs, {"max_wait_on_events": 200, "consumer_deadline_ms": 5000}) as d:
        d.start()
        c = d.connect()
        for i in range(6):
            c.send(ev("m%d" % i))
        c.ping()
        time.sleep(0.05)
        fn = os.path.join(d.dir, "conf.d", "10-test.json")
        changed = json.load(open(fn))
        for o in changed:
            if o.get("Name") == "X" and o.get("__CLASS") == "Test_SlowConsumer":
                o["DelayMs"] = 401
        with open(fn + ".tmp", "w") as f:
            json.dump(changed, f)
        os.rename(fn + ".tmp", fn)
        assert c.request("Reload")["Status"] == 0
        want = 'root\\default:Test_SlowConsumer.Name="X"'
        wait_for(lambda: len(read_lines(d.path("def.log"))) >= 3, "drop reports in root\\default")
        time.sleep(0.5)
        assert all(l.startswith(want + "|m") for l in read_lines(d.path("def.log"))), read_lines(d.path("def.log"))
        assert read_lines(d.path("sub.log")) == [], read_lines(d.path("sub.log"))
        d.stop()


@serial("watches the machine's process starts, which other tests make")
@test
def test_temporary_consumers_wake_on_demand_sources():
    """A temporary subscription alone makes the sources that serve only
    when someone listens serve it: the process traces, and the engine's
    failure reports."""
    with new_dir_daemon(failing_consumer_objects) as d:
        d.start()
        c = d.connect()
        w = d.connect()
        subscribe(w, "SELECT * FROM Win32_ProcessStartTrace WHERE ProcessName = 'sleep'")
        subscribe(w, "SELECT * FROM __ConsumerFailureEvent")
        time.sleep(0.3)
        # Long enough for the /proc polling fallback (process_poll_ms, 100 ms)
        # where the netlink connector is not available.
        subprocess.run(["sleep", "0.5"])
        c.send(ev("to the failing consumer"))
        c.ping()
        # Other sleep processes may start meanwhile: read until both kinds came.
        got = []
        while len({g["Event"]["__CLASS"] for g in got}) < 2 and len(got) < 50:
            got += read_events(w, 1)
        classes = {g["Event"]["__CLASS"] for g in got}
        assert classes == {"Win32_ProcessStartTrace", "__ConsumerFailureEvent"}, got
        fail = [g for g in got if g["Event"]["__CLASS"] == "__ConsumerFailureEvent"][0]["Event"]
        assert fail["IntendedConsumer"] == 'Test_FailingConsumer.Name="Fails"', fail
        d.stop()


@test
def test_namespace_audit_regressions():
    """Found by an audit of the docs against the program: a MOF error found
    by the final reload names the MOF file and line; a class may come
    before its namespace's __Namespace instance in a file; GetObject names
    the Namespace field; DeleteInstance of an unknown class is
    WBEM_E_INVALID_CLASS; a change of case is a modification; another
    machine's namespace is none of ours."""
    with new_dir_daemon(tour_objects) as d:
        d.start()
        c = d.connect()
        mof = d.path("i.mof")
        with open(mof, "w") as f:
            f.write('#pragma namespace("\\\\\\\\.\\\\root\\\\default")\n'
                    'class Def_Event : __ExtrinsicEvent { string M; };\n'
                    '#pragma namespace("\\\\\\\\.\\\\root\\\\subscription")\n'
                    'instance of __EventFilter { Name = "IF"; QueryLanguage = "WQL"; Query = "SELECT * FROM Def_Event"; };\n')
        rc, out, err = run_ctl(["mofcomp", mof], sock=d.socket)
        assert rc == 1 and "WBEM_E_INVALID_CLASS" in err and "i.mof:4" in err, (rc, out, err)
        order = d.path("order.mof")
        with open(order, "w") as f:
            f.write('#pragma namespace("\\\\\\\\.\\\\root\\\\cimv2\\\\yy")\n'
                    'class Yy_Event : __ExtrinsicEvent { string M; };\n'
                    '#pragma namespace("\\\\\\\\.\\\\root\\\\cimv2")\n'
                    'instance of __Namespace { Name = "yy"; };\n')
        rc, out, err = run_ctl(["mofcomp", order], sock=d.socket)
        assert rc == 0 and "2 operation(s) loaded" in out, (rc, out, err)
        r = c.request("GetObject", Path='__EventFilter.Name="x"', Namespace="root\\nope")
        assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE" and r["Field"] == "Namespace", r
        assert "root\\nope" in r["Message"], r
        r = c.request("DeleteInstance", Path='Nope_Thing.Name="a"')
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS", r
        r = c.request("DeleteInstance", Path='Yy_Event.M="a"')
        assert r["StatusName"] == "WBEM_E_INVALID_CLASS", r
        for ns in ["\\\\otherhost\\root\\cimv2", "//otherhost/root/cimv2"]:
            r = c.request("EnumClasses", Namespace=ns)
            assert r["StatusName"] == "WBEM_E_INVALID_NAMESPACE", (ns, r)
        assert c.request("EnumClasses", Namespace="\\\\localhost\\root\\cimv2")["Status"] == 0
        w = d.connect()
        subscribe(w, "SELECT * FROM __NamespaceOperationEvent", Namespace="root\\cimv2")
        r = put(c, {"__CLASS": "__Namespace", "Name": "YY"}, Namespace="root\\cimv2", Flags="UPDATE_ONLY")
        assert r["Status"] == 0, r
        e = read_events(w, 1)[0]["Event"]
        assert e["__CLASS"] == "__NamespaceModificationEvent", e
        assert e["TargetNamespace"]["Name"] == "YY" and e["PreviousNamespace"]["Name"] == "yy", e
        classes = [x["__CLASS"] for x in c.request("EnumClasses", Namespace="root\\cimv2\\yy",
                                                   SuperClass="__ExtrinsicEvent")["Classes"]]
        assert "Yy_Event" in classes, classes
        d.stop()
