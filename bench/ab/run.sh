#!/bin/bash
# ab/run.sh: two builds of concurd, A and B, on the same loads, side by
# side: does a change make any model slower or more expensive?
#
#   make bench-ab A=/path/to/old/concurd [B=bin/concurd] [AB_ARGS="..."]
#
# For every model and load, each round runs A and B one after the other
# (which goes first alternates), with one fresh server per run and the
# same concurbench.  A run is a compare.mk cell: concurd on 127.0.0.1 port
# 0, concurbench --warmup W -d D --json, SIGTERM, the summary line.  The
# report gives, per model and load, the median request rate and server CPU
# per operation of A and of B over the rounds, and B/A with the range of
# the per-round ratios: a ratio inside that range is the run's noise.
#
# Loads (compare.mk's): pingpong (64 connections x 64 B echoes; iterative:
# 1 connection), connrate (16 clients, connect, one 64 B echo, reset
# close), nbytes (16 clients, ask 4,000 bytes, reset close).  Pools start
# at a size that covers the load (72 or 32 workers), as in compare.mk.
set -u

usage() {
	cat <<'USAGE'
usage: bench/ab/run.sh -a CONCURD_A [-b CONCURD_B] [options]
  -a, --a PATH        the first build (the baseline)
  -b, --b PATH        the second (default: bin/concurd)
  --bench PATH        the load generator for both (default: bin/concurbench)
  --rounds N          rounds (default 3)
  --duration SECS     measured seconds per run (default 3)
  --warmup SECS       unmeasured seconds first (default 0.5)
  --models A,B,...    only these models (default: every model B lists)
  --loads A,B,...     pingpong, connrate, nbytes (default: all three)
  --loops N           event models (select, poll, epoll, uring): -w N on
                      both builds, so a change of their default loop count
                      does not weigh in
  --out DIR           where ab.md and results.tsv go (default
                      build/ab/run-DATE)
  -h, --help          this text
USAGE
}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
A= B=$ROOT/bin/concurd BENCH=$ROOT/bin/concurbench
ROUNDS=3 DUR=3 WARM=0.5 MODELS= LOADS="pingpong connrate nbytes" OUT= LOOPS=
while [ $# -gt 0 ]; do
	case $1 in
	-a|--a) A=${2:-}; shift ;;
	-b|--b) B=${2:-}; shift ;;
	--bench) BENCH=${2:-}; shift ;;
	--rounds) ROUNDS=${2:-}; shift ;;
	--duration) DUR=${2:-}; shift ;;
	--warmup) WARM=${2:-}; shift ;;
	--models) MODELS=${2//,/ }; shift ;;
	--loads) LOADS=${2//,/ }; shift ;;
	--out) OUT=${2:-}; shift ;;
	--loops) LOOPS=${2:-}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 64 ;;
	esac
	shift
done
[ -n "$A" ] || { usage >&2; exit 64; }
case "$ROUNDS$DUR" in *[!0-9]*|'') echo "ab: --rounds and --duration take whole numbers" >&2; exit 64 ;; esac
for f in "$A" "$B" "$BENCH"; do
	[ -x "$f" ] || { echo "ab: $f is not an executable" >&2; exit 66; }
done
OUT=${OUT:-$ROOT/build/ab/run-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/logs" "$OUT/bin" || exit 73
# Snapshots: the tree may be rebuilt while the run goes on.
cp "$A" "$OUT/bin/concurd-a" && cp "$B" "$OUT/bin/concurd-b" &&
    cp "$BENCH" "$OUT/bin/concurbench" || exit 73
A=$OUT/bin/concurd-a B=$OUT/bin/concurd-b BENCH=$OUT/bin/concurbench
MODELS=${MODELS:-$("$B" --list | sed -n 's/^model //p' | tr '\n' ' ')}

say() { printf '%s ab: %s\n' "$(date +%T)" "$*" >&2; }

workers_of() {
	case $2 in
	prefork*|prethread*) [ "$1" = pingpong ] && echo 72 || echo 32 ;;
	select|poll|epoll|uring) echo "$LOOPS" ;;
	esac
}
bench_args() {	# LOAD MODEL
	case $1 in
	pingpong) [ "$2" = iterative ] && c=1 || c=64
		echo "-m pingpong -c $c -s 64 -d $DUR" ;;
	connrate) echo "-m connrate -c 16 -s 64 --close reset -d $DUR" ;;
	nbytes) echo "-m nbytes -c 16 -s 4000 --close reset -d $DUR" ;;
	esac
}

SPID=
cleanup() {
	[ -n "$SPID" ] || return
	kill -TERM "$SPID" 2>/dev/null; sleep 0.5; kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RESULTS=$OUT/results.tsv
printf 'round\tload\tmodel\tbuild\trate\tops\tsrv_cpu_s\tus_per_op\n' >"$RESULTS"

# run ROUND LOAD MODEL BUILD: one measurement, one row.
run() {
	local round=$1 load=$2 model=$3 build=$4 exe svc w log json port i summ
	[ "$build" = a ] && exe=$A || exe=$B
	[ "$load" = nbytes ] && svc=nbytes || svc=echo
	w=$(workers_of "$load" "$model")
	log=$OUT/logs/$load-$model-r$round-$build.log
	json=${log%.log}.json
	"$exe" -m "$model" -s "$svc" -b 127.0.0.1 -p 0 ${w:+-w $w} 2>"$log" &
	SPID=$!
	port=
	for i in $(seq 100); do
		port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\) .*/\1/p' "$log")
		[ -n "$port" ] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -n "$port" ]; then
		timeout $((DUR + 60)) "$BENCH" 127.0.0.1 "$port" \
		    $(bench_args "$load" "$model") --warmup "$WARM" --json \
		    >"$json" 2>>"$log"
	fi
	kill -TERM "$SPID" 2>/dev/null
	for i in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
	summ=$(grep 'summary:' "$log" | tail -n1)
	perl -MJSON::PP -e '
		my ($json, $summ, $load, @pre) = @ARGV;
		my %s = $summ =~ /(\w+)=(\S+)/g;
		my $j = eval { local $/; open(my $f, "<", $json) or die; decode_json(<$f>) } // {};
		# Operations the server did: echoes (bytes / 64) or connections.
		my $ops = $load eq "pingpong" ? ($s{bytes_in} // 0) / 64 : ($s{connections} // 0);
		my $cpu = $s{cpu} // 0;
		printf "%s\t%s\t%.0f\t%s\t%.2f\n", $pre[0],
		    $j->{requests_per_s} // 0, $ops, $cpu, $ops > 0 ? $cpu * 1e6 / $ops : 0;
	' "$json" "$summ" "$load" "$round	$load	$model	$build" >>"$RESULTS"
	tail -n1 "$RESULTS" | awk -F'\t' '{ printf "  r%s %-8s %-16s %s %10.0f/s %8.2f us/op\n", $1, $2, $3, $4, $5, $8 }' >&2
}

{
	echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "cores	$(nproc)"
	echo "kernel	$(uname -sr)"
	echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "load_before	$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "a	$(sha256sum "$A" | cut -c1-12)"
	echo "b	$(sha256sum "$B" | cut -c1-12)"
	echo "rounds	$ROUNDS"
	echo "duration	$DUR"
	echo "warmup	$WARM"
} >"$OUT/machine.tsv"
say "results in $OUT"
for round in $(seq "$ROUNDS"); do
	say "round $round of $ROUNDS"
	for load in $LOADS; do
		for m in $MODELS; do
			if [ $(( (round + ${#m}) % 2 )) = 0 ]; then
				run "$round" "$load" "$m" a; run "$round" "$load" "$m" b
			else
				run "$round" "$load" "$m" b; run "$round" "$load" "$m" a
			fi
		done
	done
done
echo "load_after	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.tsv"
perl "$ROOT/bench/ab/report.pl" "$OUT" >"$OUT/ab.md" || exit 70
cat "$OUT/ab.md"
