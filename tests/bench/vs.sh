#!/bin/sh
# vs.sh - two builds of wmieventd side by side in one invocation: the
# `null` and `logfile` cases of `make bench` (bench_socket) and peers.sh's
# wmieventd measurement (bench-peers' `custom` case), run pair by pair
# (old, new; new, old; old, new ...) so that the machine's drift hits both
# alike.
#
# usage: tests/bench/vs.sh OLD_TREE NEW_TREE [N=1000000] [RUNS=6]
#   e.g. tests/bench/vs.sh ../bench-before . 1000000 6   (~2 minutes idle)
#
# Each tree is measured with its own build (TREE/build): bin/wmieventd,
# plugins/logfile.so, lib/libwmievent.so, tests/bench/bench_socket, and its
# own tests/bench/mkconf.py and plugins/null.c (compiled into the scratch
# dir, as run.sh does).  Nothing else is built: a missing binary stops the
# script with the `make` to run.  Every case starts the daemon fresh per run
# and checks the output (bench_socket: count-exact / identical; bench-peers:
# identical).  rsyslog, syslog-ng and the jansson floor run once, first
# (`run_all.sh N 1 ...`, which also builds bench_send and the data), so the
# wmieventd figures can be put against rsyslog's.
#
# Prints one line per run, then a table per case: old and new median,
# new/old as the median of the RUNS pair-by-pair ratios with their min-max,
# and each side's min-max; in events/s end to end and daemon CPU us/event.
# ev/s new/old < 1 or CPU new/old > 1: the new build is slower.  To see the
# noise, give the same tree twice.  Exit status 1 if any run failed.
#
# Environment: VS_CASES (default "null logfile peers"), VS_TMP (scratch,
# default /tmp/wmieventd-vs.$$, removed unless VS_KEEP=1), PEERS_DIR
# (default ../shared/bench-peers), BENCH_DIR (bench-peers' scratch, default
# /tmp/bp-vs: not /tmp/bp, so a peers.sh running at the same time keeps its
# sockets), RSYSLOG_ROOT (/opt/rsyslog).  Needs what peers.sh needs
# (PEERS_DIR/setup.sh, once, as root) unless VS_CASES leaves out peers.
set -eu
[ $# -ge 2 ] || { echo "usage: tests/bench/vs.sh OLD_TREE NEW_TREE [N=1000000] [RUNS=6] (see the script's header)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OLD=$(cd "$1" && pwd)
NEW=$(cd "$2" && pwd)
N=${3:-1000000}
RUNS=${4:-6}
CASES=${VS_CASES:-null logfile peers}
TMPD=${VS_TMP:-/tmp/wmieventd-vs.$$}
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench-peers}
BENCH_DIR=${BENCH_DIR:-/tmp/bp-vs}
RSYSLOG_ROOT=${RSYSLOG_ROOT:-/opt/rsyslog}
BENCH_RESULTS=$BENCH_DIR/results-vs
BENCH_SESSION=vs-$(date -u +%Y%m%dT%H%M%SZ)-$$
export BENCH_DIR RSYSLOG_ROOT BENCH_RESULTS BENCH_SESSION
CC=${CC:-cc}
has() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }

for t in "$OLD" "$NEW"; do
	for f in bin/wmieventd plugins/logfile.so lib/libwmievent.so tests/bench/bench_socket; do
		[ -e "$t/build/$f" ] || {
			echo "vs.sh: $t/build/$f missing: run 'make -C $t all build/tests/bench/bench_socket'" >&2
			exit 1
		}
	done
done
if has peers; then
	[ -x "$PEERS_DIR/run_all.sh" ] || { echo "vs.sh: no bench-peers at $PEERS_DIR" >&2; exit 1; }
	if [ ! -x "$RSYSLOG_ROOT/usr/sbin/rsyslogd" ] || ! command -v syslog-ng >/dev/null 2>&1 ||
	   ! command -v socat >/dev/null 2>&1; then
		echo "vs.sh: rsyslog (in $RSYSLOG_ROOT), syslog-ng or socat missing: run $PEERS_DIR/setup.sh once as root" >&2
		exit 1
	fi
fi
mkdir -p "$TMPD"
trap '[ "${VS_KEEP:-0}" = 1 ] || rm -rf "$TMPD"' EXIT
trap 'exit 130' INT TERM
RES=$TMPD/results.tsv    # case side round ok ev_s cpu_us
: > "$RES"

rev() { git -C "$1" rev-parse --short HEAD 2>/dev/null || echo '?'; }
dirty() { git -C "$1" diff --quiet HEAD -- src include 2>/dev/null || echo ' + local changes'; }
echo "== machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), $(date -u +%FT%TZ)"
echo "== old: $OLD ($(rev "$OLD")$(dirty "$OLD"))"
echo "== new: $NEW ($(rev "$NEW")$(dirty "$NEW"))"
echo "== N=$N, $RUNS pairs per case, cases: $CASES"
T0=$(date +%s)

# Per side: the null plugin, the configs of the two socket cases and of the
# peers' custom case (each with its own tree's mkconf.py and plugins).
for s in old new; do
	if [ $s = old ]; then t=$OLD; else t=$NEW; fi
	d=$TMPD/$s
	mkdir -p "$d"
	$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -shared -fPIC -I"$t/include" \
		-o "$d/null.so" "$t/tests/bench/plugins/null.c" -L"$t/build/lib" -lwmievent
	python3 "$t/tests/bench/mkconf.py" null "$d/conf-null" --socket "$d/null.sock" \
		--plugin-dir "$t/build/plugins" --null-lib "$d/null.so" --counter "$d/null.count"
	python3 "$t/tests/bench/mkconf.py" logfile "$d/conf-logfile" --socket "$d/logfile.sock" \
		--plugin-dir "$t/build/plugins" --out "$d/logfile.out"
	if has peers; then
		mkdir -p "$BENCH_DIR/run" "$BENCH_DIR/out"
		python3 "$t/tests/bench/mkconf.py" logfile "$BENCH_DIR/run/wmieventd-$s" \
			--socket "$BENCH_DIR/run/wmieventd-$s.sock" --plugin-dir "$t/build/plugins" \
			--out "$BENCH_DIR/out/wmieventd-$s.out"
		"$t/build/bin/wmieventd" -n -f "$BENCH_DIR/run/wmieventd-$s/wmieventd.json" > "$d/check.txt" 2>&1 ||
			{ cat "$d/check.txt" >&2; exit 1; }
	fi
done

status=0
# bench_socket, one run: CASE SIDE ROUND
socket_run() {
	if [ "$2" = old ]; then t=$OLD; else t=$NEW; fi
	d=$TMPD/$2
	case $1 in null) target="-k $d/null.count" ;; *) target="-o $d/logfile.out" ;; esac
	# shellcheck disable=SC2086
	"$t/build/tests/bench/bench_socket" -x "$t/build/bin/wmieventd" -f "$d/conf-$1/wmieventd.json" \
		-s "$d/$1.sock" $target -n "$N" -R 1 -c "$1" -l "$d/$1.log" > "$d/$1.txt" 2>&1 || true
	rm -f "$d/logfile.out"
	r=$(grep '^RESULT' "$d/$1.txt" || echo "RESULT runs_ok=0/1")
	if printf '%s\n' "$r" | grep -q 'runs_ok=1/1'; then
		printf '%s\n' "$r" | awk -v c="$1" -v s="$2" -v i="$3" '{ for (k = 2; k <= NF; k++) {
			split($k, kv, "="); v[kv[1]] = kv[2] }
			print c, s, i, 1, v["ev_s_e2e"], v["cpu_us_ev"] }' >> "$RES"
	else
		status=1
		echo "$1 $2 $3 0 - -" >> "$RES"
		echo "vs.sh: $1 ($2, pair $3) failed:" >&2
		cat "$d/$1.txt" >&2
		tail -5 "$d/$1.log" >&2 || true
	fi
}
# bench-peers' custom case with SIDE's daemon, one run (as peers.sh): SIDE ROUND
peers_run() {
	if [ "$1" = old ]; then t=$OLD; else t=$NEW; fi
	BENCH_CMD="$t/build/bin/wmieventd -d -f $BENCH_DIR/run/wmieventd-$1/wmieventd.json" \
	BENCH_TARGET=unix:$BENCH_DIR/run/wmieventd-$1.sock BENCH_OUT=$BENCH_DIR/out/wmieventd-$1.out \
	BENCH_FORMAT=fields python3 "$PEERS_DIR/run_bench.py" custom "$N" 1 > "$TMPD/peers-$1.txt" 2>&1 || true
	python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")] or [{}]
ok = r[-1].get("ok") == 1
print("peers", sys.argv[2], sys.argv[3], int(ok), r[-1]["ev_end2end_per_s"] if ok else "-",
      r[-1]["router_cpu_s"] * 1e6 / r[-1]["n"] if ok else "-")' "$TMPD/peers-$1.txt" "$1" "$2" >> "$RES"
	if ! tail -1 "$RES" | grep -q "^peers $1 $2 1 "; then
		status=1
		echo "vs.sh: peers ($1, pair $2) failed:" >&2
		cat "$TMPD/peers-$1.txt" >&2
	fi
}
show() { tail -1 "$RES" | awk '{ if ($4 == 1) printf "  %-8s %s pair %s: %9.0f ev/s end-to-end, %6.2f CPU us/event\n", $1, $2, $3, $5, $6
	else printf "  %-8s %s pair %s: FAILED\n", $1, $2, $3 }'; }

if has peers; then
	echo "== the peers, once (run_all.sh $N 1; log in $TMPD/peers.log)"
	if "$PEERS_DIR/run_all.sh" "$N" 1 rsyslog-unix-tuned-fields syslog-ng-unix-tuned-fields \
		floor-jansson-fields > "$TMPD/peers.log" 2>&1; then
		python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("session") == sys.argv[2]:
        ok = r.get("ok") == 1
        print("peer:" + r["case"], "-", 1, int(ok), r["ev_end2end_per_s"] if ok else "-",
              r["router_cpu_s"] * 1e6 / r["n"] if ok else "-")' \
			"$BENCH_RESULTS/raw.jsonl" "$BENCH_SESSION" >> "$RES"
		grep '^peer:' "$RES" | awk '{ if ($4 == 1) printf "  %-28s %9.0f ev/s end-to-end, %6.2f CPU us/event\n", substr($1, 6), $5, $6
			else printf "  %-28s FAILED\n", substr($1, 6) }'
	else
		echo "vs.sh: run_all.sh failed (the ratios to the peers will be missing):" >&2
		tail -20 "$TMPD/peers.log" >&2
		status=1
	fi
fi

# Pair i runs old then new when i is odd, new then old when even: on this
# VM the second run of a pair was often the faster one, even with the same
# build twice, and alternating keeps that from reading as a difference.
echo "== $RUNS pairs (odd: old then new; even: new then old)"
i=1
while [ "$i" -le "$RUNS" ]; do
	order="old new"
	[ $((i % 2)) = 0 ] && order="new old"
	for c in null logfile peers; do
		has $c || continue
		for s in $order; do
			if [ $c = peers ]; then peers_run "$s" $i; else socket_run $c "$s" $i; fi
			show
		done
	done
	i=$((i + 1))
done

echo
echo "== summary: N=$N, $RUNS pairs, $(($(date +%s) - T0)) s; new/old = median of the pair-by-pair ratios (min-max)"
python3 - "$RES" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(dict)   # (case, side) -> round -> (ev_s, cpu_us)
for line in open(sys.argv[1]):
    case, side, rnd, ok, ev, cpu = line.split()
    if ok == "1":
        runs[(case, side)][rnd] = (float(ev), float(cpu))
med = statistics.median
print("| case | metric | old median | new median | new/old | new/old min-max | old min-max | new min-max |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for case in ("null", "logfile", "peers"):
    o, n = runs.get((case, "old"), {}), runs.get((case, "new"), {})
    if not o and not n:
        continue
    for k, metric, f in ((0, "ev/s e2e", "{:,.0f}"), (1, "CPU us/ev", "{:.2f}")):
        ov, nv = [v[k] for v in o.values()], [v[k] for v in n.values()]
        rs = [n[r][k] / o[r][k] for r in o if r in n]
        mm = lambda v, f: f.format(min(v)) + " - " + f.format(max(v)) if v else "-"
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            case, metric, f.format(med(ov)) if ov else "-", f.format(med(nv)) if nv else "-",
            "%.3f" % med(rs) if rs else "-", mm(rs, "{:.3f}"), mm(ov, f), mm(nv, f)))
peers = {c[5:]: v["1"] for (c, s), v in runs.items() if c.startswith("peer:") and "1" in v}
if peers and (runs.get(("peers", "old")) or runs.get(("peers", "new"))):
    print()
    print("peers.sh's case (custom), one run of each peer: wmieventd's ev/s / the peer's, "
          "the peer's CPU us/ev / wmieventd's (medians of wmieventd)")
    print("| router | ev/s e2e | CPU us/ev | old: ev/s ratio | new: ev/s ratio | old: CPU ratio | new: CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    w = {s: [med([v[k] for v in runs[("peers", s)].values()]) if runs.get(("peers", s)) else None
             for k in (0, 1)] for s in ("old", "new")}
    r = lambda a, b: "%.2f" % (a / b) if a and b else "-"
    for p, (ev, cpu) in peers.items():
        print("| %s | %s | %.2f | %s | %s | %s | %s |" % (
            p, "{:,.0f}".format(ev), cpu, r(w["old"][0], ev), r(w["new"][0], ev),
            r(cpu, w["old"][1]), r(cpu, w["new"][1])))
EOF
exit $status
