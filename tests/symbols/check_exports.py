#!/usr/bin/env python3
"""check_exports.py - libwmievent exports exactly its documented API.

    python3 tests/symbols/check_exports.py build/lib/libwmievent.so include

The documented API is every function and variable declared in the public
headers (include/wmievent.h, include/wmievent/*.h).  The library is built
with -fvisibility=hidden and exports what those declarations mark with
WMI_EXTERN (include/wmievent/export.h), so the two lists must agree: this
compares the headers with the dynamic symbol table (nm -D --defined-only)
and prints a diff of the symbols exported but undocumented and documented
but not exported.

It also checks the headers themselves: every function or variable is
marked WMI_EXTERN (except wmi_plugin_entry, which plugins define and mark
themselves), and every function has a doc comment: a comment right above
its declaration, or above the run of declarations it belongs to (no blank
line between), as the typed getters share one.

Exits 0 when all agree, 1 with the findings on stderr otherwise.  Python 3
standard library only.
"""
import os
import re
import subprocess
import sys

MARK = "WMI_EXTERN"
# Declared in the headers but defined by each plugin, not by the library.
PLUGIN_DEFINED = {"wmi_plugin_entry"}

IDENT = re.compile(r"[A-Za-z_]\w*")


def blank_out(text):
    """The header with comments, string literals and preprocessor lines
    replaced by spaces, newlines kept, so that offsets and line numbers
    stay those of the file.  Also returns the line numbers on which a
    comment ends and the set of lines that hold only blanks."""
    out = list(text)
    comment_end_lines = set()
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            comment_end_lines.add(text.count("\n", 0, j) + 1)
            i = j
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            comment_end_lines.add(text.count("\n", 0, j) + 1)
            i = j
            continue
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            for k in range(i, min(j + 1, n)):
                if out[k] != "\n":
                    out[k] = " "
            i = j + 1
            continue
        if c == "#" and at_line_start:
            # A directive, with its continuation lines.
            j = i
            while j < n and text[j] != "\n":
                j += 1
                if j < n and text[j] == "\n" and text[j - 1] == "\\":
                    j += 1
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        if c == "\n":
            at_line_start = True
        elif not c.isspace():
            at_line_start = False
        i += 1
    return "".join(out), comment_end_lines


def top_level_statements(code):
    """(start offset, text) of each statement at file scope: braces of
    struct, union, enum and extern "C" bodies are skipped (only what
    follows a closing brace, up to ';', belongs to the statement)."""
    stmts = []
    depth = 0
    start = None
    buf = []
    for i, c in enumerate(code):
        if c == "{":
            # extern "C" { opens no scope for declarations.
            if depth == 0 and re.search(r"\bextern\s*$", "".join(buf)):
                buf, start = [], None
                continue
            depth += 1
            continue
        if c == "}":
            if depth > 0:
                depth -= 1
            continue
        if depth > 0:
            continue
        if c == ";":
            if start is not None:
                stmts.append((start, "".join(buf)))
            buf, start = [], None
            continue
        if start is None and not c.isspace():
            start = i
        if start is not None:
            buf.append(c)
    return stmts


def declared_name(stmt):
    """('function' | 'variable', name) for a declaration, else None."""
    s = " ".join(stmt.split())
    if re.match(r"(typedef|struct|union|enum)\b[^()]*$", s) or s.startswith("typedef"):
        return None
    s = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", s)
    s = re.sub(r"\bWMI_PRINTF_LIKE\s*\([^)]*\)", " ", s)
    paren = s.find("(")
    if paren >= 0:
        head = s[:paren].rstrip()
        names = IDENT.findall(head)
        if not names or head.endswith("*") or head.endswith("("):
            return None
        return ("function", names[-1])
    if not re.search(r"\bextern\b|\b" + MARK + r"\b", s):
        return None
    s = re.sub(r"\[.*?\]", "", s).split("=")[0]
    names = IDENT.findall(s)
    return ("variable", names[-1]) if names else None


def header_api(include_dir):
    """{name: (kind, file, line)} of the API; problems found on the way."""
    api, problems = {}, []
    files = [os.path.join(include_dir, "wmievent.h")]
    sub = os.path.join(include_dir, "wmievent")
    files += sorted(os.path.join(sub, f) for f in os.listdir(sub) if f.endswith(".h"))
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        code, comment_end_lines = blank_out(text)
        lines = text.split("\n")
        documented_run = False
        prev_decl_end = None
        for start, stmt in top_level_statements(code):
            found = declared_name(stmt)
            if found is None:
                prev_decl_end = None
                continue
            kind, name = found
            line = code.count("\n", 0, start) + 1
            end_line = line + stmt.count("\n")
            where = "%s:%d" % (os.path.relpath(path), line)
            if name in PLUGIN_DEFINED:
                prev_decl_end = None
                continue
            if not re.search(r"\b" + MARK + r"\b", stmt):
                problems.append("%s: %s is declared without %s" % (where, name, MARK))
            # Documented: a comment ends on the line above, or the line
            # above ends a declaration of a documented run.
            if (line - 1) in comment_end_lines:
                documented_run = True
            elif prev_decl_end is None or prev_decl_end != line - 1:
                documented_run = False
            if kind == "function" and not documented_run:
                problems.append("%s: %s has no doc comment" % (where, name))
            prev_decl_end = end_line
            if name in api:
                continue
            api[name] = (kind, where)
        del lines
    return api, problems


def exported(lib):
    """{name: nm type} of the defined dynamic symbols of @lib."""
    res = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True)
    syms = {}
    for row in res.stdout.splitlines():
        parts = row.split()
        if len(parts) < 3:
            continue
        kind, name = parts[-2], parts[-1].split("@")[0]
        # Reserved names (leading underscore) are the toolchain's: section
        # bounds, sanitizer hooks.  Nothing of the API starts with one.
        if name.startswith("_"):
            continue
        syms[name] = kind
    return syms


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    lib, include_dir = argv[1], argv[2]
    api, problems = header_api(include_dir)
    syms = exported(lib)
    undocumented = sorted(set(syms) - set(api))
    missing = sorted(set(api) - set(syms))
    for name, (kind, where) in sorted(api.items()):
        if name in syms and (kind == "function") != (syms[name] in "TtWwiI"):
            problems.append("%s: %s is declared a %s but exported as nm type %s" % (where, name, kind, syms[name]))
    if undocumented:
        problems.append("exported by %s but declared in no header of %s (undocumented):\n%s"
                        % (lib, include_dir, "\n".join("  + %s (%s)" % (n, syms[n]) for n in undocumented)))
    if missing:
        problems.append("declared in %s but not exported by %s:\n%s"
                        % (include_dir, lib, "\n".join("  - %s (%s)" % (n, api[n][1]) for n in missing)))
    if problems:
        print("check_exports: the library's exports and its headers disagree:", file=sys.stderr)
        for p in problems:
            print(p, file=sys.stderr)
        return 1
    nf = sum(1 for k, _ in api.values() if k == "function")
    print("check_exports: %d functions and %d variables declared, documented and exported"
          % (nf, len(api) - nf))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
