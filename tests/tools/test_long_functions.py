#!/usr/bin/env python3
"""Tests of tests/tools/long_functions.py (python3 stdlib only).

    python3 tests/tools/test_long_functions.py [-v]

Each case is a C snippet and the function definitions long_functions.py
must find in it: (name, line of the name, length in lines).  Then the
command itself, on a temporary tree: its output and exit status.  Prints
a line per failed case (per case with -v), then "N passed, M failed";
exits 1 when any failed.  `make long-functions` runs it first.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
VERBOSE = "-v" in sys.argv[1:]
sys.path.insert(0, HERE)

import long_functions  # once sys.path has HERE

CASES = [
    ("the tree's style: return type, then name(args), then the brace", """\
static int
add(int a,
    int b)
{
    return a + b;
}
""", [("add", 2, 5)]),

    ("one line, and a prototype that is no definition", """\
int proto(void);
static inline int one(void) { return 1; }
extern int other(int);
""", [("one", 2, 1)]),

    ("braces in strings, escaped quotes and char literals", """\
void
strings(void)
{
    const char *a = "{{{";
    const char *b = "\\"}\\"";
    char c = '{', d = '}', e = '\\'', f = '"';
    puts("}}} { \\\\");
}
""", [("strings", 2, 7)]),

    ("braces in comments, a '//' inside a block comment and a string", """\
/* a { that is no brace
   } nor this */
int
comments(void) // {
{
    /* } */ int x = 1; // }
    const char *url = "http://x/{";
    /* // { */
    return x;
}
""", [("comments", 4, 7)]),

    ("function-like macros, on one line and continued, are no functions", """\
#define SWAP(a, b) do { int t = a; a = b; b = t; } while (0)
#define BODY(fn)          \\
    void fn(void)         \\
    {                     \\
        puts("{");        \\
    }
#define UNBALANCED {
BODY(generated)
int
after(void)
{
    return 0;
}
""", [("after", 10, 4)]),

    ("macro invocations without ';' before a definition, as in log.c", """\
LOG_FN(log_warnx, 1)
LOG_FN(log_info, 2)

void
fatalx(const char *fmt, ...)
{
    exit(3);
}
""", [("fatalx", 5, 4)]),

    ("structs, enums, unions and initializers are no functions", """\
struct s { int a; struct { int b; } in; };
enum e { A = 1, B = (2) };
typedef union { int i; float f; } u;
static const struct s table[] = { {1, {2}}, {3, {4}} };
static int (*const ops[])(int) = { f1, f2 };
static const char *const names[] = { "{", "}" };
int
real(void)
{
    return sizeof(struct s);
}
""", [("real", 8, 4)]),

    ("a function returning a function pointer; an attribute after it", """\
static void (*
pick(int which))(int)
{
    return which ? on : off;
}
static void
die(void) __attribute__((noreturn))
{
    abort();
}
""", [("pick", 2, 4), ("die", 7, 4)]),

    ("nested blocks, a '}' in a string inside one, an #if inside", """\
int
nested(int x)
{
    if (x) {
        while (x--) {
            printf("}");
        }
    }
#if 0
    x = 2;
#endif
    switch (x) { case 1: { break; } default: break; }
    return x;
}
int
next(void)
{
    return 0;
}
""", [("nested", 2, 13), ("next", 16, 4)]),

    ("a multi-line comment that starts on a directive line", """\
#define X 1 /* a comment {
   that goes on } */
int
after_directive(void)
{
    return X;
}
""", [("after_directive", 4, 4)]),
]


def body_of(n):
    """A function whose length, counted by the rule, is @n lines."""
    return "static int\nf%d(void)\n{\n" % n + "    x++;\n" * (n - 3) + "}\n"


def check_cases():
    failed = 0
    for what, src, want in CASES:
        got = [(name, line, close - line + 1) for name, line, _, close in long_functions.find_functions(src)]
        if got == want:
            if VERBOSE:
                print("ok   %s" % what)
        else:
            failed += 1
            print("FAIL %s: got %r, want %r" % (what, got, want))
    return failed


def check_command():
    """The command on a temporary tree: sorting, the bound, the exit
    status, the output format."""
    failed = 0
    tmp = tempfile.mkdtemp(prefix="wmit-longfn-")
    try:
        os.makedirs(os.path.join(tmp, "src", "sub"))
        with open(os.path.join(tmp, "src", "a.c"), "w") as f:
            f.write("int x;\n" + body_of(100) + body_of(101))
        with open(os.path.join(tmp, "src", "sub", "b.h"), "w") as f:
            f.write(body_of(150))
        with open(os.path.join(tmp, "src", "notes.txt"), "w") as f:
            f.write(body_of(300))
        script = os.path.join(HERE, "long_functions.py")

        def run(*args):
            p = subprocess.run([sys.executable, script] + list(args), cwd=tmp, capture_output=True, text=True)
            return p.returncode, p.stdout

        checks = [
            ("longer than 100 lines, longest first, exit 1", run(),
             (1, "src/sub/b.h:2: f150: 150 lines\nsrc/a.c:104: f101: 101 lines\n")),
            ("--max 150: none, exit 0", run("--max", "150"), (0, "")),
            ("--max=99 and a file named", run("--max=99", "src/a.c"),
             (1, "src/a.c:104: f101: 101 lines\nsrc/a.c:3: f100: 100 lines\n")),
            ("a path that does not exist: exit 2", run("nowhere"), (2, "")),
        ]
        for what, got, want in checks:
            if got == want:
                if VERBOSE:
                    print("ok   command: %s" % what)
            else:
                failed += 1
                print("FAIL command: %s: got %r, want %r" % (what, got, want))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return failed


def main():
    failed = check_cases() + check_command()
    total = len(CASES) + 4
    print("long_functions.py: %d passed, %d failed" % (total - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
