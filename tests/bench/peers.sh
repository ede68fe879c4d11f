#!/bin/sh
# peers.sh - wmieventd side by side with rsyslog, syslog-ng and the jansson
# floor, in one invocation of ../shared/bench-peers/run_all.sh (its `custom`
# case; see its README): 1,000,000 bare JSON events over one Unix-socket
# connection, the filter
#   SELECT * FROM Bench_ProcessTrace WHERE ProcessName LIKE 'proc-1%' AND Severity >= 3
# and a LogFileEventConsumer writing "%ProcessName% %ProcessID%" (MaximumFileSize 0,
# binding SlowDownProviders = TRUE, so nothing is dropped).
#
# usage: B=build sh tests/bench/peers.sh [N=1000000] [ROUNDS=3] [EXTRA CASES...]
#   (called by tests/bench/run.sh when BENCH_PEERS=1; takes ~2 min for 1M x 3)
# Environment:
#   B              build dir (default build)
#   PEERS_DIR      the bench-peers checkout (default ../shared/bench-peers)
#   BENCH_DIR      its scratch dir (default /tmp/bp)
#   BENCH_RESULTS  where the table goes (default $BENCH_DIR/results-wmieventd;
#                  never the shared dir)
#   RSYSLOG_ROOT   (default /opt/rsyslog)
# Needs rsyslog unpacked into $RSYSLOG_ROOT and syslog-ng: run
# $PEERS_DIR/setup.sh once as root (apt-get; it takes a few minutes).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${B:-build}
case $B in /*) BABS=$B ;; *) BABS=$ROOT/$B ;; esac
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench-peers}
BENCH_DIR=${BENCH_DIR:-/tmp/bp}
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results-wmieventd}
RSYSLOG_ROOT=${RSYSLOG_ROOT:-/opt/rsyslog}
export BENCH_DIR BENCH_RESULTS RSYSLOG_ROOT
N=${1:-1000000}
ROUNDS=${2:-3}
[ $# -ge 2 ] && shift 2 || shift $#

for f in "$BABS/bin/wmieventd" "$BABS/plugins/logfile.so"; do
	[ -e "$f" ] || { echo "peers.sh: $f missing: run make first" >&2; exit 1; }
done
[ -x "$PEERS_DIR/run_all.sh" ] || { echo "peers.sh: no bench-peers at $PEERS_DIR" >&2; exit 1; }
if [ ! -x "$RSYSLOG_ROOT/usr/sbin/rsyslogd" ] || ! command -v syslog-ng >/dev/null 2>&1 ||
   ! command -v socat >/dev/null 2>&1; then
	echo "peers.sh: rsyslog (in $RSYSLOG_ROOT), syslog-ng or socat missing:" >&2
	echo "  run $PEERS_DIR/setup.sh once as root (apt-get install + dpkg -x of rsyslog)" >&2
	exit 1
fi
case $BENCH_RESULTS in "$PEERS_DIR"*)
	echo "peers.sh: BENCH_RESULTS must be outside $PEERS_DIR" >&2; exit 1 ;;
esac

mkdir -p "$BENCH_DIR/run" "$BENCH_DIR/out" "$BENCH_RESULTS"
CONF=$BENCH_DIR/run/wmieventd-conf
SOCK=$BENCH_DIR/run/wmieventd.sock
OUT=$BENCH_DIR/out/wmieventd.out
python3 tests/bench/mkconf.py logfile "$CONF" --socket "$SOCK" --plugin-dir "$BABS/plugins" --out "$OUT"
"$BABS/bin/wmieventd" -n -f "$CONF/wmieventd.json"

BENCH_CMD="$BABS/bin/wmieventd -d -f $CONF/wmieventd.json" \
BENCH_TARGET=unix:$SOCK BENCH_OUT=$OUT BENCH_FORMAT=fields \
	"$PEERS_DIR/run_all.sh" "$N" "$ROUNDS" custom rsyslog-unix-tuned-fields \
	syslog-ng-unix-tuned-fields floor-jansson-fields "$@"
echo "peers.sh: table in $BENCH_RESULTS/table.md, machine in $BENCH_RESULTS/versions.txt"
