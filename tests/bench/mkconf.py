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
  logfile          the bench filter -> LogFileEventConsumer writing
                   "%ProcessName% %ProcessID%" to --out (the bench-peers
                   `custom` case)

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
        {"__CLASS": "__Win32Provider", "Name": "BenchNull", "Library": a.null_lib},
        {"__CLASS": "__EventConsumerProviderRegistration",
         "Provider": '__Win32Provider.Name="BenchNull"',
         "ConsumerClassNames": ["Bench_NullConsumer"]},
        {"__CLASS": "Bench_NullConsumer", "Name": "Null", "CounterFile": a.counter},
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["null", "null-1000-other", "null-1000-same", "logfile"])
    ap.add_argument("outdir")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--plugin-dir", required=True, help="where logfile.so is")
    ap.add_argument("--state-dir")
    ap.add_argument("--null-lib", help="path of the null consumer .so")
    ap.add_argument("--counter", help="CounterFile of the null consumer")
    ap.add_argument("--out", help="LogFileEventConsumer Filename (absolute)")
    ap.add_argument("--filters", type=int, default=1000)
    ap.add_argument("--log-level", default="warning")
    a = ap.parse_args()

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
