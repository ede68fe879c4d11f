#!/usr/bin/env python3
"""List the C functions longer than a bound (python3 stdlib only).

    python3 tests/tools/long_functions.py [--max N] [PATH...]

Scans every .c and .h file under each PATH (a directory, walked, or a
file; default: src) for function definitions and prints those longer
than N lines (default 100), longest first (then by path and line):

    path:line: name: N lines

The exit status is 1 when any was found, 0 when none, 2 on a usage error.

A function's length is counted from the line holding its name (the line
of `name(` in its declarator, which is where the line number points) to
the line of its closing brace, both included.  So a return type on a line
of its own does not count, a parameter list that spans lines does, and so
does the opening brace on a line of its own:

    static int          <- not counted
    name(int a,         <- line 1 (reported line)
         int b)         <- line 2
    {                   <- line 3
        return a + b;   <- line 4
    }                   <- line 5: 5 lines

How definitions are found: comments, string and character literals and
preprocessor directives (with their continuation lines: function-like
macros are never functions) are blanked first, so the braces inside them
do not count.  Then every `{` at file level (brace depth 0) opens a
function definition when the text since the previous file-level `;` or
`}` ends with `)` and has no `=` outside parentheses (which would make it
an initializer).  Its name is the identifier before the parameter list,
the last parenthesised group: an `__attribute__((...))` after it is
passed over, and a declarator in parentheses, as in
`int (*name(int))(void)`, is looked into.  What this does not do: follow
#if branches (a definition whose braces only balance on one branch of an
#if confuses it), or expand macros that make up a declarator.
"""

import os
import re
import sys

DEFAULT_MAX = 100
NOT_NAMES = {"__attribute__", "__attribute", "__declspec", "_Alignas", "alignas", "__typeof__", "typeof",
             "__typeof", "sizeof", "_Static_assert", "static_assert", "__asm__", "asm", "__extension__"}


def blank(text):
    """@text with comments, string and character literals and preprocessor
    directives replaced by spaces; newlines are kept, so lines and columns
    stay where they were."""
    out = list(text)
    i, n = 0, len(text)
    state = "code"          # code, line, block, string, char
    in_pp = False           # inside a preprocessor directive
    at_line_start = True    # nothing but blanks since the last newline
    while i < n:
        c = text[i]
        if state == "code":
            if c == "\n":
                if not (in_pp and i > 0 and text[i - 1] == "\\"):
                    in_pp = False
                at_line_start = True
                i += 1
                continue
            if c == "#" and at_line_start:
                in_pp = True
            if c == "/" and text.startswith("//", i):
                state = "line"
            elif c == "/" and text.startswith("/*", i):
                state = "block"
                out[i] = out[i + 1] = " "
                i += 2
                continue
            elif c == '"':
                state = "string"
            elif c == "'":
                state = "char"
            if not c.isspace():
                at_line_start = False
            if in_pp or state != "code":
                out[i] = " "
            i += 1
        elif state == "line":
            if c == "\n":
                # A line comment ends at the newline, which ends a
                # directive too unless the comment's last char is '\'.
                state = "code"
                continue
            out[i] = " "
            i += 1
        elif state == "block":
            if text.startswith("*/", i):
                out[i] = out[i + 1] = " "
                state = "code"
                i += 2
                continue
            if c != "\n":
                out[i] = " "
            i += 1
        else:  # string or char literal
            quote = '"' if state == "string" else "'"
            if c == "\\" and i + 1 < n:
                out[i] = " "
                if text[i + 1] != "\n":
                    out[i + 1] = " "
                i += 2
                continue
            if c == "\n":
                state = "code"  # an unterminated literal: give up on it at the end of the line
                continue
            out[i] = " "
            if c == quote:
                state = "code"
            i += 1
    return "".join(out)


IDENT_END = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def matching_open(h, close):
    """The index of the '(' that the ')' at @close closes, or -1."""
    depth = 0
    for k in range(close, -1, -1):
        if h[k] == ")":
            depth += 1
        elif h[k] == "(":
            depth -= 1
            if depth == 0:
                return k
    return -1


def function_name(head):
    """(name, offset of the name in @head) of the function whose
    declarator ends @head (the text before a file-level '{'), or (None,
    None) when @head does not end with one."""
    depth = 0
    for c in head:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "=" and depth == 0:
            return None, None  # an initializer
    lo, hi = 0, len(head)
    while True:
        h = head[lo:hi].rstrip()
        if not h.endswith(")"):
            return None, None
        op = matching_open(h, len(h) - 1)
        if op < 0:
            return None, None
        before = h[:op].rstrip()
        m = IDENT_END.search(before)
        if m is not None and m.group(0) in NOT_NAMES:
            hi = lo + m.start()          # an attribute after the declarator: drop it
        elif m is not None:
            return m.group(0), lo + m.start()
        elif before.endswith(")"):
            # A declarator in parentheses, as in "int (*name(args))(void)":
            # the name is inside them.
            inner_open = matching_open(before, len(before) - 1)
            if inner_open < 0:
                return None, None
            lo, hi = lo + inner_open + 1, lo + len(before) - 1
        else:
            return None, None


def find_functions(text):
    """The function definitions in C source @text: a list of (name,
    name_line, open_line, close_line), lines counted from 1."""
    code = blank(text)
    line_starts = [0]
    for i, c in enumerate(code):
        if c == "\n":
            line_starts.append(i + 1)

    def line_of(pos):
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    found = []
    depth = 0
    head_start = 0       # where the text before the next file-level '{' starts
    open_pos = None      # the current file-level '{', when it opens a function
    name = name_pos = None
    for i, c in enumerate(code):
        if c == "{":
            if depth == 0:
                name, at = function_name(code[head_start:i])
                if name is not None:
                    open_pos, name_pos = i, head_start + at
                else:
                    open_pos = None
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                depth = 0  # unbalanced (an #if branch): start afresh
            if depth == 0:
                if open_pos is not None:
                    found.append((name, line_of(name_pos), line_of(open_pos), line_of(i)))
                open_pos = None
                head_start = i + 1
        elif c == ";" and depth == 0:
            head_start = i + 1
    return found


def length(fn):
    """Lines of a (name, name_line, open_line, close_line): from the name's
    line to the closing brace's, both included."""
    return fn[3] - fn[1] + 1


def c_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith((".c", ".h")):
                        yield os.path.join(root, f)
        else:
            yield p


def long_functions(paths, limit):
    """(path, line, name, length) of every function longer than @limit
    lines in @paths, longest first."""
    out = []
    for path in c_files(paths):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for fn in find_functions(text):
            if length(fn) > limit:
                out.append((path, fn[1], fn[0], length(fn)))
    out.sort(key=lambda r: (-r[3], r[0], r[1]))
    return out


def main(argv):
    limit = DEFAULT_MAX
    paths = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--max" and args and args[0].isdigit():
            limit = int(args.pop(0))
        elif a.startswith("--max=") and a[6:].isdigit():
            limit = int(a[6:])
        elif a.startswith("-"):
            sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
            return 2
        else:
            paths.append(a)
    for p in paths:
        if not os.path.exists(p):
            sys.stderr.write("long_functions.py: %s: no such file or directory\n" % p)
            return 2
    found = long_functions(paths or ["src"], limit)
    for path, line, name, n in found:
        print("%s:%d: %s: %d lines" % (path, line, name, n))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
