#!/bin/bash
# floor.sh: where an echo server's CPU goes, per request or connection, and
# so how cheap any server on this kernel could be.
#
#   make compare-floor [FLOOR_ARGS="--rounds 5 --servers epoll-ref,concurd"]
#
# For each round, load and server (which goes first alternates), a fresh
# server is warmed up, then sampled with `perf record -e cpu-clock -g` for
# the whole of one concurbench run; its CPU time is read from /proc before
# and after, its operations from concurbench's JSON.  perf's call graphs
# split that CPU time by the kernel functions that do the work:
#
#   send      tcp_sendmsg: the reply, and on loopback also its delivery
#             to the client's socket (softirq, in the sender's context)
#   receive   tcp_recvmsg
#   accept    do_accept: the new socket, its file and descriptor
#   close     __fput: the socket's teardown
#   sleep     __schedule: going to sleep for want of work, waking up
#   server    the server's own code (user space)
#   events    the rest: system call entry and exit, epoll or io_uring's
#             bookkeeping, descriptor tables, timers
#
# send + receive + accept + close is the socket work every server does for
# the same load; the report gives it as a ratio to the reference server's
# whole cost, the least CPU any server could cost against it.  perf's
# sampling adds a little to every figure alike.  Needs perf (Debian's
# linux-perf) and root, or kernel.perf_event_paranoid <= 1.
set -u

usage() {
	cat <<'USAGE'
usage: bench/peers/floor.sh [options]
  --servers A,B,...  epoll-ref, concurd (as shipped), concurd-MODEL,
                     concurd-MODEL-wN, for the models that serve in one
                     process (default: epoll-ref,concurd,concurd-epoll-w1)
  --loads A,B,...    pp64 (64 connections, 64 B ping-pong), conn-reset
                     (16 clients, a connection each, reset close)
                     (default: both)
  --rounds N         rounds (default 3)
  --duration SECS    sampled seconds per run (default 4)
  --out DIR          where floor.md and floor.tsv go (default
                     build/bench/floor/run-DATE)
  -h, --help         this text
USAGE
}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build} O=${O:-bin}
SERVERS="epoll-ref concurd concurd-epoll-w1" LOADS="pp64 conn-reset"
ROUNDS=3 DUR=4 OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--servers) SERVERS=${2//,/ }; shift ;;
	--loads) LOADS=${2//,/ }; shift ;;
	--rounds) ROUNDS=${2:-}; shift ;;
	--duration) DUR=${2:-}; shift ;;
	--out) OUT=${2:-}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 64 ;;
	esac
	shift
done
case $ROUNDS in ''|*[!0-9]*|0) echo "floor.sh: --rounds: a positive number" >&2; exit 64 ;; esac
case $DUR in ''|*[!0-9]*|0) echo "floor.sh: --duration: whole seconds, at least 1" >&2; exit 64 ;; esac
for l in $LOADS; do
	case $l in pp64|conn-reset) ;; *) echo "floor.sh: unknown load $l" >&2; exit 64 ;; esac
done
for s in $SERVERS; do
	case $s in
	concurd-fork*|concurd-prefork*)	# perf -p follows no child started later
		echo "floor.sh: $s serves in processes of its own, which perf cannot follow here" >&2; exit 64 ;;
	epoll-ref|concurd|concurd-*) ;;
	*) echo "floor.sh: unknown server $s" >&2; exit 64 ;;
	esac
done
command -v perf >/dev/null || { echo "floor.sh: perf is missing (as root: apt-get install linux-perf)" >&2; exit 69; }
command -v jq >/dev/null || { echo "floor.sh: jq is missing (as root: apt-get install jq)" >&2; exit 69; }
probe=$(mktemp "${TMPDIR:-/tmp}/floor-probe.XXXXXX") || exit 73
if ! perf record -q -e cpu-clock -o "$probe" -- true >/dev/null 2>&1; then
	rm -f "$probe"
	echo "floor.sh: perf cannot sample here: run as root, or set kernel.perf_event_paranoid to 1 or less" >&2
	exit 69
fi
rm -f "$probe"

CONCURD=$ROOT/$O/concurd BENCH=$ROOT/$O/concurbench REF=$ROOT/$B/bench/peers/epoll-echo
${MAKE:-make} -C "$ROOT" --no-print-directory -s B="$B" O="$O" all "$B/bench/peers/epoll-echo" >&2 ||
	{ echo "floor.sh: build failed" >&2; exit 70; }
[ -n "$OUT" ] || OUT=$ROOT/$B/bench/floor/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/perf" || exit 73
TSV=$OUT/floor.tsv
printf 'round\tload\tserver\tops\tcpu_us_per_op\tsend\treceive\taccept\tclose\tsleep\tserver_code\n' >"$TSV"
# What a system call costs here, in ns (empty if perl cannot tell).
SYSCALL_NS=$(perl "$ROOT/bench/peers/syscall-ns.pl" 2>/dev/null)

SPID=
cleanup() {
	[ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
	SPID=
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

load_args() {
	case $1 in
	pp64) echo "-c 64 -s 64" ;;
	conn-reset) echo "-m connrate -c 16 -s 64 --close reset" ;;
	esac
}

start_server() {	# NAME PORT LOG
	case $1 in
	epoll-ref) "$REF" "$2" 127.0.0.1 >>"$3" 2>&1 & ;;
	concurd) "$CONCURD" -b 127.0.0.1 -p "$2" -q >>"$3" 2>&1 & ;;
	concurd-*-w*) m=${1#concurd-}
		"$CONCURD" -m "${m%-w*}" -w "${m##*-w}" -b 127.0.0.1 -p "$2" -q >>"$3" 2>&1 & ;;
	concurd-*) "$CONCURD" -m "${1#concurd-}" -b 127.0.0.1 -p "$2" -q >>"$3" 2>&1 & ;;
	esac
	SPID=$!
	for _ in $(seq 1 50); do
		"$BENCH" 127.0.0.1 "$2" -c 1 -n 1 >/dev/null 2>&1 && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "floor.sh: $1 did not answer on port $2 (see $3)" >&2
	return 1
}

ticks() { perl "$ROOT/bench/peers/proctree.pl" "$1" | cut -d' ' -f1; }

# Children share (%) of each category's kernel function, then the server's
# own code: the share of samples outside the kernel.
shares() {	# PERF_DATA
	perf report -i "$1" --children --sort sym --stdio -g none 2>/dev/null |
	awk '$3 == "[k]" { c[$4] = $1 + 0 }
	    END { printf "%.2f %.2f %.2f %.2f %.2f", c["tcp_sendmsg"], c["tcp_recvmsg"],
	        c["do_accept"], c["__fput"], c["__schedule"] }'
	perf report -i "$1" --no-children --sort dso --stdio -g none 2>/dev/null |
	awk '/%/ && $2 != "[kernel.kallsyms]" { u += $1 + 0 } END { printf " %.2f\n", u }'
}

HZ=$(getconf CLK_TCK)
port=$((20000 + RANDOM % 20000))
nserv=$(wc -w <<<"$SERVERS")
echo "floor.sh: $ROUNDS rounds x $(echo $LOADS | wc -w) loads x $nserv servers x ${DUR}s; $OUT" >&2
for r in $(seq 1 "$ROUNDS"); do
	order=$SERVERS
	[ $((r % 2)) = 0 ] && order=$(echo $SERVERS | tr ' ' '\n' | tac | tr '\n' ' ')
	for l in $LOADS; do
		for s in $order; do
			port=$((port + 1))
			log=$OUT/$s.log data=$OUT/perf/$r-$l-$s.data json=$OUT/perf/$r-$l-$s.json
			start_server "$s" "$port" "$log" || exit 1
			# shellcheck disable=SC2046
			"$BENCH" 127.0.0.1 "$port" $(load_args "$l") -d 1 >/dev/null 2>&1
			t0=$(ticks "$SPID")
			# shellcheck disable=SC2046
			perf record -q -e cpu-clock -g -p "$SPID" -o "$data" -- \
				"$BENCH" 127.0.0.1 "$port" $(load_args "$l") -d "$DUR" --json >"$json" 2>>"$log"
			st=$?
			t1=$(ticks "$SPID")
			if [ "$st" != 0 ]; then
				echo "floor.sh: round $r $l $s: perf record or concurbench failed, exit $st (see $log)" >&2
				exit 1
			fi
			cleanup
			ops=$(jq -r '.requests // 0' "$json" 2>/dev/null)
			errs=$(jq -r '.errors.total // 0' "$json" 2>/dev/null)
			if [ -z "$ops" ] || [ "$ops" = 0 ] || [ "$errs" != 0 ]; then
				echo "floor.sh: round $r $l $s: $ops operations, $errs errors (see $json)" >&2
				exit 1
			fi
			cpu=$(awk -v t="$((t1 - t0))" -v hz="$HZ" -v n="$ops" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$l" "$s" "$ops" "$cpu" "$(shares "$data" | tr ' ' '\t')" >>"$TSV"
			echo "floor.sh: round $r $l $s: $cpu us per op" >&2
		done
	done
done

perl "$ROOT/bench/peers/floor-report.pl" "$TSV" ${SYSCALL_NS:+"$SYSCALL_NS"} >"$OUT/floor.md" || exit 1
cat "$OUT/floor.md"
