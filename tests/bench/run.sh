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
#        null-isolated    as null, the null consumer's provider isolated in a
#                         wmieventd-host (HostingModel NetworkServiceHost);
#                         the host's CPU is sampled from /proc while it runs,
#                         and an "ISOLATED" line compares it with null: CPU
#                         us per delivered event, daemon + host, both ways
#        logfile          the bench filter -> LogFileEventConsumer
#   3. case "router": bench_daemon_router, ns/event of router_indicate with
#      1, 100, 1,000 and 10,000 filters (half on one hot class, the rest
#      over 100 classes; mkconf.py router), for an event of the hot class,
#      of a subclass of it, of a cold class and of a class without filters.
#   4. case "process-poll": bench_daemon_process, one Win32_Process
#      enumeration (and the poller's scan + diff) with the machine's
#      processes and with 1,000 more `sleep 60` children, us per 1,000.
#   5. case "idle": the daemon's CPU over BENCH_IDLE_SECONDS (60) idle with
#      the default config (conf/) plus ten WITHIN 5 subscriptions on
#      Win32_Process and two on Win32_LocalTime (mkconf.py idle), and,
#      at the same time, with the default config alone: % of one core from
#      utime+stime in /proc/PID/stat.  Target: under 1 %.
#   6. with BENCH_PEERS=1: tests/bench/peers.sh, the 1M-event comparison
#      with rsyslog, syslog-ng and the jansson floor (../shared/bench-peers).
#   7. case "delivery": bench_daemon_delivery, the delivery engine from an
#      in-process provider (router_indicate on the daemon's router and
#      engine, consumers tests/bench/plugins/null.c and delivery.c):
#      throughput to a null consumer, asynchronous and synchronous, one and
#      four consumers, CPU us per delivery, and the synchronous overhead
#      against a direct plugin call; latency p50/p99/p99.9 at 10 % and 80 %
#      of the maximum rate; the batching gain (1 ms/call + 1 us/event
#      consumer, automatic batching against WMID_PUSH_SOLO); how late after
#      the deadline __ConsumerFailureEvent is raised.  Then the socket's
#      `null` case (bench_socket, BENCH_DELIVERY_SOCKET_N events) side by
#      side: a DELIVERY-SOCKET line with the ratios.  Prints the issue-4
#      targets with the ratio to each; a missed target fails nothing.
#
# Environment: B (build dir, default build), BENCH_N (events per run,
# default 1000000), BENCH_RUNS (runs per case, default 3; the median is
# reported), BENCH_EVAL_ITERS (default 1000000), BENCH_CASES (default
# "null null-1000-other null-1000-same null-isolated logfile router
# process-poll idle delivery";
# "eval" runs the micro benchmarks, which run anyway when BENCH_CASES is
# not set), BENCH_ROUTER_FILTERS (default "1 100 1000 10000"),
# BENCH_ROUTER_SECONDS (per repetition, default 0.1), BENCH_PROCS (children
# for process-poll, default 1000), BENCH_IDLE_SECONDS (default 60),
# BENCH_IDLE_SUBS (default 10), BENCH_DELIVERY_N (events per throughput
# run, default 1000000), BENCH_DELIVERY_LAT_SECONDS (per load, default 2),
# BENCH_DELIVERY_BATCH_SECONDS (per mode, default 2),
# BENCH_DELIVERY_TRIALS (deadline trials, default 20),
# BENCH_DELIVERY_DEADLINE_MS (default 100), BENCH_DELIVERY_SOCKET_N
# (events of the socket `null` run next to it, default 300000; 0: none),
# BENCH_TMP (scratch dir, default
# /tmp/wmieventd-bench.$$, removed at the end unless BENCH_KEEP=1),
# BENCH_PEERS=1 (and PEERS_* / BENCH_* of peers.sh).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${B:-build}
case $B in /*) BABS=$B ;; *) BABS=$ROOT/$B ;; esac
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
ITERS=${BENCH_EVAL_ITERS:-1000000}
ALL_CASES="eval null null-1000-other null-1000-same null-isolated logfile router process-poll idle delivery"
CASES=${BENCH_CASES:-$ALL_CASES}
ROUTER_FILTERS=${BENCH_ROUTER_FILTERS:-1 100 1000 10000}
ROUTER_SECONDS=${BENCH_ROUTER_SECONDS:-0.1}
PROCS=${BENCH_PROCS:-1000}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-60}
IDLE_SUBS=${BENCH_IDLE_SUBS:-10}
has_case() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }
SOCKET_CASES=
for c in $CASES; do
	case $c in
	eval | router | process-poll | idle | delivery) ;;
	null | null-1000-other | null-1000-same | null-isolated | logfile) SOCKET_CASES="$SOCKET_CASES $c" ;;
	*) echo "run.sh: unknown case $c (cases: $ALL_CASES)" >&2; exit 2 ;;
	esac
done
TMPD=${BENCH_TMP:-/tmp/wmieventd-bench.$$}
CC=${CC:-cc}

for f in "$BABS/bin/wmieventd" "$BABS/plugins/logfile.so" "$BABS/tests/bench/bench_socket" \
         "$BABS/tests/bench/bench_eval" "$BABS/tests/bench/bench_daemon_router" \
         "$BABS/tests/bench/bench_daemon_process"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "run.sh: $f missing: run 'make bench'" >&2; exit 1; }
done
mkdir -p "$TMPD"
# On exit: stop the idle case's daemons if still running (by the pids we
# recorded), and remove the scratch dir unless BENCH_KEEP=1.
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	for f in "$TMPD"/idle-*.pid; do
		if [ -f "$f" ]; then kill -TERM "$(cat "$f")" 2>/dev/null || true; fi
	done
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The null consumer plugin (not part of the product: built here).
NULL_SO=$BABS/tests/bench/null.so
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -shared -fPIC -Iinclude \
	-o "$NULL_SO" tests/bench/plugins/null.c -L"$BABS/lib" -lwmievent

echo "== machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), $(date -u +%FT%TZ)"
echo "== wmieventd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + local changes'), B=$B"
echo
status=0
if has_case eval; then
	echo "== 1. micro: bench_eval $ITERS"
	"$BABS/tests/bench/bench_eval" "$ITERS"
	echo
fi

RESULTS=$TMPD/results.txt
: > "$RESULTS"
[ -n "$SOCKET_CASES" ] && echo "== 2. end to end over the control socket: N=$N, $RUNS runs per case, median"
for c in $SOCKET_CASES; do
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
	sampler=
	if [ "$c" = null-isolated ]; then
		# The host is a process of its own: bench_socket sees only the
		# daemon's CPU.  Sample utime+stime of the bench's hosts (argv
		# "-g BenchNull") every 0.1 s; the last sample of each pid counts.
		: > "$TMPD/host-cpu.txt"
		(while :; do
			for hp in $(pgrep -f 'wmieventd-host -g BenchNull' || true); do
				t=$(awk '{ print $14 + $15 }' "/proc/$hp/stat" 2>/dev/null) && echo "$hp $t"
			done
			sleep 0.1
		done >> "$TMPD/host-cpu.txt") &
		sampler=$!
	fi
	# shellcheck disable=SC2086
	if ! "$BABS/tests/bench/bench_socket" -x "$BABS/bin/wmieventd" -f "$conf/wmieventd.json" \
		-s "$sock" $target -n "$n" -R "$RUNS" -c "$c" -l "$TMPD/$c.log" | tee -a "$RESULTS"; then
		status=1
		echo "run.sh: case $c failed; the daemon's log:" >&2
		tail -20 "$TMPD/$c.log" >&2 || true
	fi
	if [ -n "$sampler" ]; then
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		# CPU us per delivered event, daemon + host, against the in-process
		# null case of the same run (when it ran).
		awk -v hz="$(getconf CLK_TCK)" -v runs="$RUNS" '
			FILENAME ~ /host-cpu/ { last[$1] = $2; next }
			/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
				if (r["case"] == "null") { nm = r["matches"]; nn = r["n"]; ncpu = r["cpu_us_ev"]; ne2e = r["ev_s_e2e"] }
				if (r["case"] == "null-isolated") { im = r["matches"]; in_ = r["n"]; icpu = r["cpu_us_ev"]; ie2e = r["ev_s_e2e"] } }
			END {
				for (p in last) host += last[p]
				if (im == 0) exit
				hus = host / hz * 1e6 / (im * runs)
				dus = icpu * in_ / im
				printf "ISOLATED host_cpu_us_per_delivered=%.2f daemon_cpu_us_per_delivered=%.2f total_us_per_delivered=%.2f ev_s_e2e=%s", hus, dus, hus + dus, ie2e
				if (nm > 0) {
					nus = ncpu * nn / nm
					printf " in_process_us_per_delivered=%.2f in_process_ev_s_e2e=%s extra_us_per_delivered=%.2f", nus, ne2e, hus + dus - nus
				}
				printf " (host CPU sampled every 0.1 s over %d run(s))\n", runs
			}' "$TMPD/host-cpu.txt" "$RESULTS" | tee -a "$TMPD/isolated.txt"
	fi
	rm -f "$TMPD/$c.out"
	echo
done

if [ -n "$SOCKET_CASES" ]; then
	echo "== summary (median of $RUNS runs; peak RSS = max VmHWM; idle = VmHWM before sending)"
	printf '| %-16s | %9s | %13s | %9s | %9s | %13s | %14s |\n' case N "ev/s e2e" "ev/s in" "CPU us/ev" "peak RSS MiB" "idle RSS MiB"
	printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|\n' ------------------ ---------- -------------- ---------- ---------- -------------- ---------------
	grep '^RESULT' "$RESULTS" | sed 's/^RESULT //' | while read -r line; do
		get() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
		printf '| %-16s | %9s | %13s | %9s | %9s | %13s | %14s |\n' "$(get case)" "$(get n)" \
			"$(get ev_s_e2e)" "$(get ev_s_in)" "$(get cpu_us_ev)" "$(get vmhwm_mib)" "$(get idle_vmhwm_mib)"
	done
	echo
fi

if has_case router; then
	echo "== 3. router: ns/event of router_indicate by number of filters (bench_daemon_router)"
	dirs=
	for nf in $ROUTER_FILTERS; do
		python3 tests/bench/mkconf.py router "$TMPD/router-$nf" --filters "$nf"
		dirs="$dirs $TMPD/router-$nf/conf.d"
	done
	# shellcheck disable=SC2086
	"$BABS/tests/bench/bench_daemon_router" -t "$ROUTER_SECONDS" $dirs || status=1
	echo
fi

if has_case process-poll; then
	echo "== 4. Win32_Process poll cost (bench_daemon_process -n $PROCS)"
	"$BABS/tests/bench/bench_daemon_process" -n "$PROCS" || status=1
	echo
fi

# The daemon's CPU time (utime + stime, all threads) in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now_ns() { date +%s%N; }

if has_case idle; then
	echo "== 5. idle CPU: default config + $IDLE_SUBS WITHIN 5 subscriptions on Win32_Process and 2 on" \
		"Win32_LocalTime, and the default config alone, side by side for $IDLE_SECONDS s"
	hz=$(getconf CLK_TCK)
	idle_ok=1
	for v in within base; do
		subs=$IDLE_SUBS
		[ $v = base ] && subs=0
		python3 tests/bench/mkconf.py idle "$TMPD/idle-$v" --socket "$TMPD/idle-$v.sock" \
			--plugin-dir "$BABS/plugins" --subs "$subs"
		"$BABS/bin/wmieventd" -d -f "$TMPD/idle-$v/wmieventd.json" > "$TMPD/idle-$v.log" 2>&1 &
		echo $! > "$TMPD/idle-$v.pid"
	done
	# Ready when both sockets exist; then 2 s for start-up work to settle
	# (first scans, the process connector's self-test).
	i=0
	while [ ! -S "$TMPD/idle-within.sock" ] || [ ! -S "$TMPD/idle-base.sock" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "run.sh: idle: the daemons did not start" >&2
			tail -5 "$TMPD"/idle-*.log >&2
			status=1
			idle_ok=0
			break
		fi
		sleep 0.05
	done
fi
if has_case idle && [ "$idle_ok" = 1 ]; then
	sleep 2
	t0=$(now_ns)
	f0=$(awk '$1 == "processes" { print $2 }' /proc/stat)
	w0=$(cpu_ticks "$(cat "$TMPD/idle-within.pid")")
	b0=$(cpu_ticks "$(cat "$TMPD/idle-base.pid")")
	sleep "$IDLE_SECONDS"
	t1=$(now_ns)
	f1=$(awk '$1 == "processes" { print $2 }' /proc/stat)
	w1=$(cpu_ticks "$(cat "$TMPD/idle-within.pid")")
	b1=$(cpu_ticks "$(cat "$TMPD/idle-base.pid")")
	# How idle the machine was: the daemons route every process start
	# (default config: ProcStart) and the WITHIN filters see every
	# creation, so their CPU follows the machine's fork rate.
	awk -v f=$((f1 - f0)) -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "IDLE machine forks=%d (%.1f/s, /proc/stat processes) during the window\n", f, f / ((t1 - t0) / 1e9) }'
	for v in within base; do
		pid=$(cat "$TMPD/idle-$v.pid")
		rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
		kill -TERM "$pid"
		wait "$pid" || true
		rm -f "$TMPD/idle-$v.pid"
		if [ $v = within ]; then d=$((w1 - w0)); else d=$((b1 - b0)); fi
		src=$(sed -n 's/.*process events: //p' "$TMPD/idle-$v.log" | head -1)
		counts=$(sed -n 's/.*stopped: //p' "$TMPD/idle-$v.log" | tail -1)
		scans=$(sed -n 's/.*intrinsic events: stopped after //p' "$TMPD/idle-$v.log" | tail -1)
		[ -n "$scans" ] && counts="$counts; intrinsic events over the daemon's life: $scans"
		awk -v v=$v -v d="$d" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v rss="$rss" -v subs="$IDLE_SUBS" \
			-v src="$src" -v counts="$counts" 'BEGIN {
			secs = (t1 - t0) / 1e9; cpu = d / hz
			printf "IDLE config=%s seconds=%.1f cpu_s=%.2f pct_core=%.3f rss_mib=%s (process events: %s; %s)\n",
				(v == "within" ? "default+" subs "xWITHIN5+2xLocalTime" : "default"),
				secs, cpu, 100 * cpu / secs, rss, src, counts }'
	done
	pct=$(awk -v d=$((w1 - w0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "%.3f", 100 * d / hz / ((t1 - t0) / 1e9) }')
	if awk -v p="$pct" 'BEGIN { exit !(p < 1.0) }'; then
		echo "idle target (< 1 % of a core with the WITHIN subscriptions): met ($pct %)"
	else
		echo "idle target (< 1 % of a core with the WITHIN subscriptions): MISSED ($pct %)"
		status=1
	fi
	echo
fi

if has_case delivery; then
	DN=${BENCH_DELIVERY_N:-1000000}
	DSOCK_N=${BENCH_DELIVERY_SOCKET_N:-300000}
	echo "== 7. delivery engine from an in-process provider (bench_daemon_delivery -N $DN -R $RUNS)"
	DEL_SO=$BABS/tests/bench/delivery.so
	$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -shared -fPIC -Iinclude \
		-o "$DEL_SO" tests/bench/plugins/delivery.c -L"$BABS/lib" -lwmievent
	# The benchmark links libwmievent statically; the plugins need the
	# shared one (the daemon has it loaded already).
	if ! LD_LIBRARY_PATH="$BABS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
		"$BABS/tests/bench/bench_daemon_delivery" -d "$TMPD/delivery" -n "$NULL_SO" -p "$DEL_SO" \
		-N "$DN" -R "$RUNS" -L "${BENCH_DELIVERY_LAT_SECONDS:-2}" -W "${BENCH_DELIVERY_BATCH_SECONDS:-2}" \
		-T "${BENCH_DELIVERY_TRIALS:-20}" -D "${BENCH_DELIVERY_DEADLINE_MS:-100}" \
		| tee "$TMPD/delivery.txt"; then
		status=1
		echo "run.sh: case delivery failed" >&2
	fi
	# Over the socket: the `null` case of this invocation if it ran, else a
	# run of it here (a third of the socket's events match the filter).
	if [ "$DSOCK_N" -gt 0 ] && ! grep -q '^RESULT case=null ' "$RESULTS"; then
		python3 tests/bench/mkconf.py null "$TMPD/conf-dnull" --socket "$TMPD/dnull.sock" \
			--plugin-dir "$BABS/plugins" --null-lib "$NULL_SO" --counter "$TMPD/dnull.count"
		"$BABS/tests/bench/bench_socket" -x "$BABS/bin/wmieventd" -f "$TMPD/conf-dnull/wmieventd.json" \
			-s "$TMPD/dnull.sock" -k "$TMPD/dnull.count" -n "$DSOCK_N" -R "$RUNS" -c null \
			-l "$TMPD/dnull.log" | tee -a "$RESULTS" || status=1
	fi
	awk '
		/^DELIVERY case=async-1 / { for (i = 2; i <= NF; i++) { split($i, kv, "="); a[kv[1]] = kv[2] } }
		/^RESULT case=null / { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] } }
		END {
			if (a["ev_s"] == "" || r["matches"] == "" || r["matches"] == 0) exit
			sd = r["ev_s_e2e"] * r["matches"] / r["n"]; sc = r["cpu_us_ev"] * r["n"] / r["matches"]
			printf "DELIVERY-SOCKET in_process_deliveries_s=%.0f in_process_cpu_us_delivery=%.3f " \
				"socket_deliveries_s=%.0f socket_cpu_us_delivery=%.2f (socket null case: %s events sent, " \
				"%s delivered, %.0f ev/s sent) in_process_over_socket_rate=%.1f socket_over_in_process_cpu=%.1f\n",
				a["ev_s"], a["cpu_us_delivery"], sd, sc, r["n"], r["matches"], r["ev_s_e2e"],
				a["ev_s"] / sd, sc / a["cpu_us_delivery"]
		}' "$TMPD/delivery.txt" "$RESULTS"
	echo
fi

if [ "${BENCH_PEERS:-0}" = 1 ]; then
	echo
	echo "== 6. side by side with rsyslog / syslog-ng / floor (tests/bench/peers.sh)"
	B=$B sh tests/bench/peers.sh "${BENCH_PEERS_N:-1000000}" "${BENCH_PEERS_ROUNDS:-3}" || status=1
else
	echo
	echo "(BENCH_PEERS=1 adds the 1M-event comparison with rsyslog and syslog-ng: tests/bench/peers.sh)"
fi
exit $status
