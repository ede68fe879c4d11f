#!/usr/bin/env python3
"""Write the seed corpus of a fuzz target into a directory.

    python3 tests/fuzz/seeds.py fuzz_wql OUTDIR

Seeds are taken from the test data under tests/data (WQL queries, events,
templates, config objects), from the hand-written tests/fuzz/seeds/<name>/
and from the crash regressions in tests/fuzz/regressions/<name>/, where
<name> is the target without its "fuzz_" prefix.  Run from the top of the
source tree.
"""
import hashlib
import json
import os
import re
import sys

DATA = "tests/data"
CTRL = {"<TAB>": "\t", "<LF>": "\n", "<CR>": "\r", "<FF>": "\f", "<VT>": "\v"}


def tsv_rows(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            yield line.split("\t")


def ctrl(s):
    for k, v in CTRL.items():
        s = s.replace(k, v)
    return s


def tpl_unescape(s):
    return re.sub(r"\\([tn\\])", lambda m: {"t": "\t", "n": "\n", "\\": "\\"}[m.group(1)], s)


def json_files():
    for root, _, files in os.walk(DATA):
        for fn in sorted(files):
            if fn.endswith(".json"):
                yield os.path.join(root, fn)


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError):
        return None


def instances(v):
    """Every JSON object with a __CLASS (not a class definition) in v."""
    if isinstance(v, dict):
        if "__CLASS" in v and "__PROPERTIES" not in v and "__SUPERCLASS" not in v:
            yield v
        for x in v.values():
            yield from instances(x)
    elif isinstance(v, list):
        for x in v:
            yield from instances(x)


def wql_seeds():
    wql = os.path.join(DATA, "wql")
    for r in tsv_rows(os.path.join(wql, "parse.tsv")):
        yield ctrl(r[0])
        if len(r) > 1 and r[1].startswith("SELECT"):
            yield r[1]
    for r in tsv_rows(os.path.join(wql, "eval.tsv")):
        yield r[0]
    for r in tsv_rows(os.path.join(wql, "MicrosoftDocs_win32_wql-examples.tsv")):
        if len(r) > 1:
            yield r[1]
    for r in tsv_rows(os.path.join(wql, "omi_test_wql.cases.tsv")):
        if len(r) > 1:
            yield r[1]
    for fn in sorted(os.listdir(wql)):
        if fn.endswith(".wql"):
            for r in tsv_rows(os.path.join(wql, fn)):
                yield r[0]
    for path in json_files():
        for inst in instances(load_json(path)):
            if isinstance(inst.get("Query"), str):
                yield inst["Query"]


def object_seeds():
    for r in tsv_rows(os.path.join(DATA, "wql", "eval.tsv")):
        if len(r) > 1:
            yield r[1]
    for path in json_files():
        for inst in instances(load_json(path)):
            yield json.dumps(inst)


def template_seeds():
    tdir = os.path.join(DATA, "template")
    events = load_json(os.path.join(tdir, "events.json")) or {}
    for r in tsv_rows(os.path.join(tdir, "cases.tsv")):
        if len(r) >= 3:
            ev = events.get(r[1])
            yield tpl_unescape(r[2]).replace("\n", " ") + "\n" + (json.dumps(ev) if ev else "")
    for path in json_files():
        for inst in instances(load_json(path)):
            for v in inst.values():
                if isinstance(v, str) and "%" in v:
                    yield v.replace("\n", " ")


def path_seeds():
    for path in json_files():
        for inst in instances(load_json(path)):
            for v in inst.values():
                if isinstance(v, str) and ("=" in v or re.fullmatch(r"[0-9*]{14}\.[0-9*]{6}[-+:][0-9*]{3}", v)):
                    yield v
    for r in tsv_rows(os.path.join(DATA, "wql", "like.tsv")):
        if len(r) > 1:
            yield r[0] + "\0" + r[1]


def class_defs(v):
    """Every class definition (an object with __PROPERTIES or __SUPERCLASS) in v."""
    if isinstance(v, dict):
        if "__CLASS" in v and ("__PROPERTIES" in v or "__SUPERCLASS" in v):
            yield v
        for x in v.values():
            yield from class_defs(x)
    elif isinstance(v, list):
        for x in v:
            yield from class_defs(x)


def class_seeds():
    for path in json_files():
        defs = list(class_defs(load_json(path)))
        if defs:
            yield json.dumps(defs)
            for d in defs:
                yield json.dumps(d)


SEEDS = {"fuzz_wql": wql_seeds, "fuzz_class": class_seeds, "fuzz_object": object_seeds,
         "fuzz_template": template_seeds, "fuzz_path": path_seeds}


def main():
    # A target without a generator here (fuzz_sddl, fuzz_mof) still gets the
    # hand-written seeds of tests/fuzz/seeds/<name>.
    if len(sys.argv) != 3 or not sys.argv[1].startswith("fuzz_"):
        sys.exit("usage: seeds.py {%s|fuzz_*} OUTDIR" % "|".join(sorted(SEEDS)))
    target, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    blobs = [s.encode("utf-8", "surrogateescape") for s in SEEDS.get(target, lambda: [])()]
    name = target[len("fuzz_"):]
    for extra in ("tests/fuzz/seeds/" + name, "tests/fuzz/regressions/" + name):
        if os.path.isdir(extra):
            for fn in sorted(os.listdir(extra)):
                p = os.path.join(extra, fn)
                if os.path.isfile(p) and not fn.startswith("."):
                    with open(p, "rb") as f:
                        blobs.append(f.read())
    n = 0
    for b in blobs:
        h = hashlib.sha1(b).hexdigest()
        p = os.path.join(out, h)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(b)
            n += 1
    print("%s: %d seeds in %s" % (target, n, out))


if __name__ == "__main__":
    main()
