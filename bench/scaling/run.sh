#!/bin/bash
# scaling/run.sh: how each model's cost grows with the connections it
# holds (`make scaling`).  The lab's part 3, answered with numbers:
# select and poll hand the kernel every descriptor at every wait, epoll and
# io_uring only the ready ones; a thread or a process per connection costs
# memory per connection; and every design stops somewhere.
#
# For each model and each count N (1, 16, 256, 1024, 10000): a fresh
# concurd (default options); up to 64 connections are all active; past
# that, N - 64 connections sit idle (concurbench, open loop, one 64-byte
# echo on each every 4 s) while 64 active ones ping-pong 64 bytes for the
# measured run.  Recorded: the server's CPU per request (its process tree,
# from /proc, over the measured run, divided by every request it served
# then), the active connections' p99 latency, the server's memory per
# connection (RSS growth with the idle ones, over N), and how many of the N
# connections were established (where a model stops: FD_SETSIZE, a pool's
# --max-workers, memory).
#
#   make scaling                 writes docs/scaling.md, .png, .svg
#   make scaling QUICK=1         1 round, counts up to 1024, in build/
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 71
B=${B:-build}
O=${O:-bin}
QUICK=0 ROUNDS=2 DUR=3 OUT=docs
MODELS="select poll epoll uring thread prethread fork prefork"
COUNTS="1 16 256 1024 10000"
PERIOD=4
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--models) MODELS=${2//,/ }; shift ;;
	--counts) COUNTS=${2//,/ }; shift ;;
	--out) OUT=$2; shift ;;
	-h|--help) sed -n '2,22s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "usage: bench/scaling/run.sh [--quick] [--rounds N] [--duration S] [--models A,B] [--counts 1,16,...] [--out DIR]" >&2; exit 64 ;;
	esac
	shift
done
[ "$QUICK" = 1 ] && ROUNDS=1 COUNTS="1 16 256 1024"
command -v gnuplot >/dev/null || { echo "scaling: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 69; }
make --no-print-directory -s B="$B" O="$O" all >&2 || exit 70
CONCURD=$ROOT/$O/concurd BENCH=$ROOT/$O/concurbench
RUN=$ROOT/$B/scaling/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN/logs" "$RUN/bin" || exit 73
cp "$CONCURD" "$BENCH" "$RUN/bin/" || exit 73
CONCURD=$RUN/bin/concurd BENCH=$RUN/bin/concurbench
[ "$QUICK" = 1 ] && OUT=$RUN
mkdir -p "$OUT" || exit 73
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
TICK=$(getconf CLK_TCK)

say() { printf '%s scaling: %s\n' "$(date +%T)" "$*" >&2; }
SPID= IPID=
cleanup() {
	[ -n "$IPID" ] && kill "$IPID" 2>/dev/null
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null; sleep 1; kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tree() { perl "$ROOT/bench/peers/proctree.pl" "$1"; }	# cpu_s nprocs rss_kb
established() { ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l; }

RES=$RUN/results.tsv
printf 'round\tmodel\tconns\testablished\trequests\tsrv_cpu_us_per_req\tp99_us\trss_per_conn_b\terrors\n' >"$RES"

cell() {	# ROUND MODEL N
	local round=$1 m=$2 n=$3 idle=0 act=$3 log port i t0 t1 r0 r1 est json w=
	[ "$n" -gt 64 ] && idle=$((n - 64)) act=64
	case $m in prefork*|prethread*) [ "$n" -gt 256 ] && w="--max-workers 1024" ;; esac
	log=$RUN/logs/$m-$n-r$round.log
	json=$RUN/logs/$m-$n-r$round.json
	"$CONCURD" -m "$m" -b 127.0.0.1 -p 0 -q $w 2>"$log" &
	SPID=$!
	port=
	for i in $(seq 100); do
		port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\) .*/\1/p' "$log")
		[ -n "$port" ] && break; sleep 0.05
	done
	[ -n "$port" ] || { say "$m: did not start"; cleanup; SPID=; return; }
	r0=$(tree "$SPID" | cut -d' ' -f3)
	if [ "$idle" -gt 0 ]; then
		"$BENCH" 127.0.0.1 "$port" -c "$idle" -s 64 -r $(( (idle + PERIOD - 1) / PERIOD )) \
		    -d $((DUR + 60)) --connect-timeout 20s -t 1 >/dev/null 2>&1 &
		IPID=$!
		for i in $(seq 300); do	# connecting 10,000 takes a while
			[ "$(established "$port")" -ge "$idle" ] && break
			kill -0 "$IPID" 2>/dev/null || break
			sleep 0.1
		done
		sleep "$PERIOD"		# each idle one has talked once
	fi
	est=$(( $(established "$port") + act ))
	r1=$(tree "$SPID" | cut -d' ' -f3)
	t0=$(tree "$SPID" | cut -d' ' -f1)
	timeout $((DUR + 60)) "$BENCH" 127.0.0.1 "$port" -c "$act" -s 64 -d "$DUR" \
	    --connect-timeout 10s --json >"$json" 2>>"$log"
	t1=$(tree "$SPID" | cut -d' ' -f1)
	[ -n "$IPID" ] && { kill -INT "$IPID" 2>/dev/null; wait "$IPID" 2>/dev/null; IPID=; }
	kill -TERM "$SPID" 2>/dev/null
	for i in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
	perl -MJSON::PP -e '
		my ($json, $round, $m, $n, $est, $t0, $t1, $r0, $r1, $idle, $dur, $period, $tick) = @ARGV;
		my $j = eval { local $/; open(my $f, "<", $json) or die; decode_json(<$f>) } // {};
		my $req = $j->{requests} // 0;
		# the idle connections served a message each PERIOD meanwhile
		my $all = $req + $idle * $dur / $period;
		my $p99 = ($j->{latency_us} // {})->{p99} // "";
		printf "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%.0f\t%s\n", $round, $m, $n, $est, $req,
		    $all > 0 ? ($t1 - $t0) / $tick * 1e6 / $all : 0, $p99,
		    $n > 64 ? ($r1 - $r0) * 1024 / $n : 0, ($j->{errors} // {})->{total} // "";
	' "$json" "$round" "$m" "$n" "$est" "$t0" "$t1" "$r0" "$r1" "$idle" "$DUR" "$PERIOD" "$TICK" >>"$RES"
	tail -n1 "$RES" | awk -F'\t' '{ printf "  %-9s %6d conns (%6d up)  %8.2f us/req  p99 %9s us  %6s B/conn\n", $2, $3, $4, $6, $7, $8 }' >&2
}

{
	echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "cores	$(nproc)"
	echo "kernel	$(uname -sr)"
	echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "load_before	$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rounds	$ROUNDS"
	echo "duration	$DUR"
	echo "concurd	$(git -C "$ROOT" describe --always --dirty 2>/dev/null)"
	echo "command	make scaling$([ "$QUICK" = 1 ] && echo ' QUICK=1')"
} >"$RUN/machine.tsv"
say "results in $RUN"
for round in $(seq "$ROUNDS"); do
	for n in $COUNTS; do
		for m in $MODELS; do cell "$round" "$m" "$n"; done
	done
done
echo "load_after	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUN/machine.tsv"
perl "$ROOT/bench/scaling/report.pl" "$RUN" "$OUT" || exit 70
say "report: $OUT/scaling.md"
