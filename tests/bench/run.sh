#!/bin/sh
# run.sh - the wmieventd benchmarks (`make bench` runs this with B=build after
# building $(BENCHES)).  Prints every figure; docs/performance.md explains them.
#
#   1. bench_eval: ns/op of the per-event library work (JSON parse, object
#      build, WQL evaluation, template expansion).
#   2. bench_socket: events/s over the control socket, end to end, with the
#      daemon started fresh per run; CPU us/event and peak RSS (VmHWM):
#        null             the bench filter -> null consumer (plugins/null.c)
#        null-1000-other  + 1,000 filters on 1,000 other classes
#        null-1000-same   + 1,000 non-matching filters on the same class
#                         (N/10 events: every event is tested 1,001 times)
#        logfile          the bench filter -> LogFileEventConsumer
#   3. with BENCH_PEERS=1: tests/bench/peers.sh, the 1M-event comparison
#      with rsyslog, syslog-ng and the jansson floor (../shared/bench-peers).
#
# Environment: B (build dir, default build), BENCH_N (events per run,
# default 1000000), BENCH_RUNS (runs per case, default 3; the median is
# reported), BENCH_EVAL_ITERS (default 1000000), BENCH_CASES (default
# "null null-1000-other null-1000-same logfile"), BENCH_TMP (scratch dir,
# default /tmp/wmieventd-bench.$$, removed at the end unless BENCH_KEEP=1),
# BENCH_PEERS=1 (and PEERS_* / BENCH_* of peers.sh).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${B:-build}
case $B in /*) BABS=$B ;; *) BABS=$ROOT/$B ;; esac
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
ITERS=${BENCH_EVAL_ITERS:-1000000}
CASES=${BENCH_CASES:-null null-1000-other null-1000-same logfile}
TMPD=${BENCH_TMP:-/tmp/wmieventd-bench.$$}
CC=${CC:-cc}

for f in "$BABS/bin/wmieventd" "$BABS/plugins/logfile.so" "$BABS/tests/bench/bench_socket" \
         "$BABS/tests/bench/bench_eval"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "run.sh: $f missing: run 'make bench'" >&2; exit 1; }
done
mkdir -p "$TMPD"
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$TMPD"' EXIT INT TERM

# The null consumer plugin (not part of the product: built here).
NULL_SO=$BABS/tests/bench/null.so
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -shared -fPIC -Iinclude \
	-o "$NULL_SO" tests/bench/plugins/null.c -L"$BABS/lib" -lwmievent

echo "== machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), $(date -u +%FT%TZ)"
echo "== wmieventd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + local changes'), B=$B"
echo
echo "== 1. micro: bench_eval $ITERS"
"$BABS/tests/bench/bench_eval" "$ITERS"
echo

RESULTS=$TMPD/results.txt
: > "$RESULTS"
status=0
echo "== 2. end to end over the control socket: N=$N, $RUNS runs per case, median"
for c in $CASES; do
	n=$N
	[ "$c" = null-1000-same ] && n=$((N / 10))
	conf=$TMPD/conf-$c
	sock=$TMPD/$c.sock
	case $c in
	logfile)
		python3 tests/bench/mkconf.py logfile "$conf" --socket "$sock" \
			--plugin-dir "$BABS/plugins" --out "$TMPD/$c.out"
		target="-o $TMPD/$c.out" ;;
	*)
		python3 tests/bench/mkconf.py "$c" "$conf" --socket "$sock" \
			--plugin-dir "$BABS/plugins" --null-lib "$NULL_SO" --counter "$TMPD/$c.count"
		target="-k $TMPD/$c.count" ;;
	esac
	# shellcheck disable=SC2086
	if ! "$BABS/tests/bench/bench_socket" -x "$BABS/bin/wmieventd" -f "$conf/wmieventd.json" \
		-s "$sock" $target -n "$n" -R "$RUNS" -c "$c" -l "$TMPD/$c.log" | tee -a "$RESULTS"; then
		status=1
		echo "run.sh: case $c failed; the daemon's log:" >&2
		tail -20 "$TMPD/$c.log" >&2 || true
	fi
	rm -f "$TMPD/$c.out"
	echo
done

echo "== summary (median of $RUNS runs; peak RSS = max VmHWM; idle = VmHWM before sending)"
printf '| %-16s | %9s | %13s | %9s | %9s | %13s | %14s |\n' case N "ev/s e2e" "ev/s in" "CPU us/ev" "peak RSS MiB" "idle RSS MiB"
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|\n' ------------------ ---------- -------------- ---------- ---------- -------------- ---------------
grep '^RESULT' "$RESULTS" | sed 's/^RESULT //' | while read -r line; do
	get() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	printf '| %-16s | %9s | %13s | %9s | %9s | %13s | %14s |\n' "$(get case)" "$(get n)" \
		"$(get ev_s_e2e)" "$(get ev_s_in)" "$(get cpu_us_ev)" "$(get vmhwm_mib)" "$(get idle_vmhwm_mib)"
done

if [ "${BENCH_PEERS:-0}" = 1 ]; then
	echo
	echo "== 3. side by side with rsyslog / syslog-ng / floor (tests/bench/peers.sh)"
	B=$B sh tests/bench/peers.sh "${BENCH_PEERS_N:-1000000}" "${BENCH_PEERS_ROUNDS:-3}" || status=1
else
	echo
	echo "(BENCH_PEERS=1 adds the 1M-event comparison with rsyslog and syslog-ng: tests/bench/peers.sh)"
fi
exit $status
