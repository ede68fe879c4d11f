#!/usr/bin/env python3
"""Write a wmieventd settings file and object dir for one benchmark case.

usage: mkconf.py CASE OUTDIR [options]

CASE
  null             the bench filter -> Bench_NullConsumer (tests/bench/plugins/null.c)
  null-1000-other  as null, plus 1,000 filters FROM 1,000 other classes
                   (Bench_Other_0000..0999), bound to the same null consumer:
                   the class index must keep them out of the event's way
  null-1000-same   as null, plus 1,000 filters FROM Bench_ProcessTrace that
                   never match (ProcessName = 'nomatch-NNNN'): every event is
                   tested against 1,001 filters (the router's worst case)
  null-isolated    as null, with the null consumer's provider in a
                   wmieventd-host process (HostingModel NetworkServiceHost):
                   the cost of isolated hosting per event
  logfile          the bench filter -> LogFileEventConsumer writing
                   "%ProcessName% %ProcessID%" to --out (the bench-peers
                   `custom` case)
  router           object dir only (no settings) for bench_daemon_router:
                   --filters N filters (default 1000), ceil(N/2) FROM
                   Bench_Hot and the rest round-robin over the 100 classes
                   Bench_Cold_000..099 (Cold_000 gets the first), none of
                   which ever matches; plus Bench_HotChild (a subclass of
                   Bench_Hot, no filters of its own) and Bench_Quiet (no
                   filters); every filter bound to one Bench_NullConsumer
  idle             the default config (--conf, default conf/: its conf.d
                   with log files moved under OUTDIR/log) plus --subs
                   WITHIN 5 subscriptions (default 10) on
                   __InstanceCreationEvent / __InstanceModificationEvent of
                   Win32_Process and 2 on Win32_LocalTime, bound to a
                   LogFileEventConsumer writing OUTDIR/log/within.log;
                   --subs 0 gives the default config alone

The bench filter (issue 2, ../shared/bench-peers):
  SELECT * FROM Bench_ProcessTrace WHERE ProcessName LIKE 'proc-1%' AND Severity >= 3
Every binding has SlowDownProviders = TRUE: when the consumer falls behind,
the socket is paused instead of events being dropped, so nothing is lost.

Writes OUTDIR/wmieventd.json (settings; paths absolute) and
OUTDIR/conf.d/*.json.
"""
import argparse
import json
import os

BENCH_QUERY = ("SELECT * FROM Bench_ProcessTrace "
               "WHERE ProcessName LIKE 'proc-1%' AND Severity >= 3")


def classes():
    return [
        {"__GENUS": 1, "__CLASS": "Bench_ProcessTrace", "__SUPERCLASS": "__ExtrinsicEvent",
         "__PROPERTIES": {"ProcessName": "string", "ProcessID": "uint32",
                          "SessionID": "uint32", "Severity": "uint32"}},
        {"__GENUS": 1, "__CLASS": "Bench_ProcessStartTrace",
         "__SUPERCLASS": "Bench_ProcessTrace", "__PROPERTIES": {}},
        {"__GENUS": 1, "__CLASS": "Bench_ProcessStopTrace",
         "__SUPERCLASS": "Bench_ProcessTrace", "__PROPERTIES": {}},
    ]


def binding(filt, consumer):
    return {"__CLASS": "__FilterToConsumerBinding",
            "Filter": '__EventFilter.Name="%s"' % filt,
            "Consumer": consumer, "SlowDownProviders": True}


def null_consumer(a):
    return [
        {"__GENUS": 1, "__CLASS": "Bench_NullConsumer", "__SUPERCLASS": "__EventConsumer",
         "__PROPERTIES": {"Name": {"CIMType": "string", "Key": True},
                          "CounterFile": "string"}},
        dict({"__CLASS": "__Win32Provider", "Name": "BenchNull", "Library": a.null_lib},
             **({"HostingModel": "NetworkServiceHost"} if a.case == "null-isolated" else {})),
        {"__CLASS": "__EventConsumerProviderRegistration",
         "Provider": '__Win32Provider.Name="BenchNull"',
         "ConsumerClassNames": ["Bench_NullConsumer"]},
        {"__CLASS": "Bench_NullConsumer", "Name": "Null", "CounterFile": a.counter},
    ]


def reset_dir(outdir):
    confd = os.path.join(outdir, "conf.d")
    os.makedirs(confd, exist_ok=True)
    for f in os.listdir(confd):
        if f.endswith(".json"):
            os.unlink(os.path.join(confd, f))
    return confd


ROUTER_COLD_CLASSES = 100


def router_case(a):
    """Object dir of bench_daemon_router: a.filters filters, half on one hot
    class, the rest spread over 100 cold classes; none ever matches the
    benchmark's events (Name is never 'nomatch-...')."""
    confd = reset_dir(os.path.abspath(a.outdir))
    props = {"Name": "string", "Value": "uint32"}
    objs = [
        {"__GENUS": 1, "__CLASS": "Bench_Hot", "__SUPERCLASS": "__ExtrinsicEvent", "__PROPERTIES": props},
        {"__GENUS": 1, "__CLASS": "Bench_HotChild", "__SUPERCLASS": "Bench_Hot", "__PROPERTIES": {}},
        {"__GENUS": 1, "__CLASS": "Bench_Quiet", "__SUPERCLASS": "__ExtrinsicEvent", "__PROPERTIES": props},
    ]
    for c in range(ROUTER_COLD_CLASSES):
        objs.append({"__GENUS": 1, "__CLASS": "Bench_Cold_%03d" % c, "__SUPERCLASS": "__ExtrinsicEvent",
                     "__PROPERTIES": props})
    objs += [
        {"__GENUS": 1, "__CLASS": "Bench_NullConsumer", "__SUPERCLASS": "__EventConsumer",
         "__PROPERTIES": {"Name": {"CIMType": "string", "Key": True}}},
        # Never loaded: bench_daemon_router does not call router_load_providers.
        {"__CLASS": "__Win32Provider", "Name": "BenchNull", "Library": "/nonexistent/null.so"},
        {"__CLASS": "__EventConsumerProviderRegistration",
         "Provider": '__Win32Provider.Name="BenchNull"',
         "ConsumerClassNames": ["Bench_NullConsumer"]},
        {"__CLASS": "Bench_NullConsumer", "Name": "Null"},
    ]
    consumer = 'Bench_NullConsumer.Name="Null"'
    nhot = (a.filters + 1) // 2
    for i in range(a.filters):
        cls = "Bench_Hot" if i < nhot else "Bench_Cold_%03d" % ((i - nhot) % ROUTER_COLD_CLASSES)
        name = "F%05d" % i
        objs.append({"__CLASS": "__EventFilter", "Name": name, "QueryLanguage": "WQL",
                     "Query": "SELECT * FROM %s WHERE Name = 'nomatch-%05d' AND Value >= %d" % (cls, i, i % 7)})
        objs.append(binding(name, consumer))
    with open(os.path.join(confd, "10-router.json"), "w") as f:
        json.dump(objs, f, indent=1)


# The idle case's subscriptions: the usual WMI monitoring queries, WITHIN 5.
IDLE_PROCESS_QUERIES = [
    "SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process'",
    "SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.Name = 'sshd'",
    "SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.Name LIKE 'python%'",
    "SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.ParentProcessId = 1",
    "SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.CommandLine LIKE '%--debug%'",
    "SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.WorkingSetSize > 1073741824",
    "SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.Name = 'sshd'",
    "SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.ThreadCount > 500",
    "SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.Priority > 8",
    "SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' "
    "AND TargetInstance.Name = 'cron'",
]
IDLE_TIME_QUERIES = [
    "SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_LocalTime' "
    "AND TargetInstance.Hour = 3 AND TargetInstance.Minute = 0",
    "SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_LocalTime' "
    "AND TargetInstance.DayOfWeek = 1 AND TargetInstance.Hour = 8",
]


def idle_case(a):
    """The shipped default config (conf/), made runnable from a scratch dir,
    plus a.subs WITHIN 5 subscriptions on Win32_Process and two on
    Win32_LocalTime (none with a.subs == 0)."""
    outdir = os.path.abspath(a.outdir)
    confd = reset_dir(outdir)
    logdir = os.path.join(outdir, "log")
    os.makedirs(logdir, exist_ok=True)
    state = os.path.abspath(a.state_dir or os.path.join(outdir, "state"))
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(a.conf, "wmieventd.json")) as f:
        settings = json.load(f)
    src = os.path.join(a.conf, settings.get("object_dir", "conf.d"))
    for fn in sorted(os.listdir(src)):
        if not fn.endswith(".json"):
            continue
        with open(os.path.join(src, fn)) as f:
            objs = json.load(f)
        for o in objs:
            if isinstance(o.get("Filename"), str) and not os.path.isabs(o["Filename"]):
                o["Filename"] = os.path.join(logdir, os.path.basename(o["Filename"]))
        with open(os.path.join(confd, fn), "w") as f:
            json.dump(objs, f, indent=1)
    if a.subs > 0:
        queries = [IDLE_PROCESS_QUERIES[i % len(IDLE_PROCESS_QUERIES)] for i in range(a.subs)]
        queries += IDLE_TIME_QUERIES
        consumer = 'LogFileEventConsumer.Name="BenchWithin"'
        objs = [{"__CLASS": "LogFileEventConsumer", "Name": "BenchWithin",
                 "Filename": os.path.join(logdir, "within.log"),
                 "Text": "%__CLASS% %TargetInstance.Name%", "MaximumFileSize": 10485760}]
        for i, q in enumerate(queries):
            objs.append({"__CLASS": "__EventFilter", "Name": "Within%02d" % i, "QueryLanguage": "WQL",
                         "Query": q})
            objs.append(binding("Within%02d" % i, consumer))
        with open(os.path.join(confd, "90-within.json"), "w") as f:
            json.dump(objs, f, indent=1)
    settings.update({
        "socket": os.path.abspath(a.socket),
        "state_dir": state,
        "plugin_dir": os.path.abspath(a.plugin_dir),
        "object_dir": confd,
    })
    with open(os.path.join(outdir, "wmieventd.json"), "w") as f:
        json.dump(settings, f, indent=4)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["null", "null-1000-other", "null-1000-same", "null-isolated", "logfile",
                                       "router", "idle"])
    ap.add_argument("outdir")
    ap.add_argument("--socket")
    ap.add_argument("--plugin-dir", help="where logfile.so is")
    ap.add_argument("--conf", default="conf", help="idle: the default config dir (wmieventd.json + conf.d)")
    ap.add_argument("--subs", type=int, default=10, help="idle: WITHIN 5 subscriptions on Win32_Process")
    ap.add_argument("--state-dir")
    ap.add_argument("--null-lib", help="path of the null consumer .so")
    ap.add_argument("--counter", help="CounterFile of the null consumer")
    ap.add_argument("--out", help="LogFileEventConsumer Filename (absolute)")
    ap.add_argument("--filters", type=int, default=1000)
    ap.add_argument("--log-level", default="warning")
    a = ap.parse_args()
    if a.case == "router":
        return router_case(a)
    if not a.socket or not a.plugin_dir:
        ap.error("case %s needs --socket and --plugin-dir" % a.case)
    if a.case == "idle":
        return idle_case(a)

    outdir = os.path.abspath(a.outdir)
    confd = os.path.join(outdir, "conf.d")
    os.makedirs(confd, exist_ok=True)
    for f in os.listdir(confd):
        if f.endswith(".json"):
            os.unlink(os.path.join(confd, f))
    state = os.path.abspath(a.state_dir or os.path.join(outdir, "state"))
    os.makedirs(state, exist_ok=True)

    objs = classes()
    if a.case == "logfile":
        if not a.out or not os.path.isabs(a.out):
            ap.error("logfile needs an absolute --out")
        consumer = 'LogFileEventConsumer.Name="BenchLog"'
        objs += [
            {"__CLASS": "__Win32Provider", "Name": "LogFileEventConsumer", "Library": "logfile.so"},
            {"__CLASS": "__EventConsumerProviderRegistration",
             "Provider": '__Win32Provider.Name="LogFileEventConsumer"',
             "ConsumerClassNames": ["LogFileEventConsumer"]},
            {"__CLASS": "LogFileEventConsumer", "Name": "BenchLog", "Filename": a.out,
             "Text": "%ProcessName% %ProcessID%", "MaximumFileSize": 0},
        ]
    else:
        if not a.null_lib or not a.counter:
            ap.error("the null cases need --null-lib and --counter")
        a.null_lib = os.path.abspath(a.null_lib)
        a.counter = os.path.abspath(a.counter)
        consumer = 'Bench_NullConsumer.Name="Null"'
        objs += null_consumer(a)
    objs += [
        {"__CLASS": "__EventFilter", "Name": "Bench", "QueryLanguage": "WQL", "Query": BENCH_QUERY},
        binding("Bench", consumer),
    ]
    with open(os.path.join(confd, "10-bench.json"), "w") as f:
        json.dump(objs, f, indent=1)

    extra = []
    if a.case == "null-1000-other":
        for i in range(a.filters):
            cls = "Bench_Other_%04d" % i
            extra.append({"__GENUS": 1, "__CLASS": cls, "__SUPERCLASS": "__ExtrinsicEvent",
                          "__PROPERTIES": {"Name": "string", "Value": "uint32"}})
            extra.append({"__CLASS": "__EventFilter", "Name": "Other%04d" % i, "QueryLanguage": "WQL",
                          "Query": "SELECT * FROM %s WHERE Name LIKE 'x%%' AND Value >= %d" % (cls, i)})
            extra.append(binding("Other%04d" % i, consumer))
    elif a.case == "null-1000-same":
        for i in range(a.filters):
            extra.append({"__CLASS": "__EventFilter", "Name": "Same%04d" % i, "QueryLanguage": "WQL",
                          "Query": "SELECT * FROM Bench_ProcessTrace WHERE ProcessName = 'nomatch-%04d'"
                                   " AND Severity >= 3" % i})
            extra.append(binding("Same%04d" % i, consumer))
    if extra:
        with open(os.path.join(confd, "20-filters.json"), "w") as f:
            json.dump(extra, f, indent=1)

    settings = {
        "socket": os.path.abspath(a.socket),
        "state_dir": state,
        "plugin_dir": os.path.abspath(a.plugin_dir),
        "object_dir": confd,
        "log_level": a.log_level,
    }
    with open(os.path.join(outdir, "wmieventd.json"), "w") as f:
        json.dump(settings, f, indent=4)
        f.write("\n")


if __name__ == "__main__":
    main()
