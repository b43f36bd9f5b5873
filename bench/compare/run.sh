#!/bin/bash
# run.sh: the design-comparison report of issue 4 (`make compare`).
#
# UNP chapter 30 again, on today's kernel: concurd runs with every model
# under the same loads, one fresh server per measurement, and concurbench
# drives it from the same machine.  A measurement ("cell") is:
#
#   concurd -m MODEL -s SERVICE -b 127.0.0.1 -p 0 [-w N]   (read the port
#       from its "listening on" line)
#   concurbench ... --warmup W -d D --json                  (one run: the
#       warm-up is not measured, then D seconds are)
#   kill -TERM concurd; read its summary line               (server CPU of
#       the process and all its children, connections, bytes, spread)
#
# The server's CPU covers its whole life (start, warm-up, run, stop) and is
# divided by everything it served in that life, so both sides of the ratio
# count the same work.  Rounds alternate the order of the models (forward,
# then backward, each round starting elsewhere), so the slow drifts of a
# shared machine fall on all models alike; the report takes medians over
# rounds and shows their range.
#
# Raw rows go to build/compare/run-DATE/ (results.tsv, one JSON and one
# server log per cell, machine.tsv); bench/compare/report.pl turns them into
# docs/compare.md, docs/compare.csv and docs/compare.png/.svg (with --quick:
# into the run folder, leaving docs/ alone).
set -u

usage() {
	cat <<'USAGE'
usage: bench/compare/run.sh [options]     (normally: make compare [QUICK=1])
  --quick            smoke run (about 90 s): 1 round, 1 s runs with a
                     0.3 s warm-up; report in the run folder, not docs/
  --rounds N         rounds, the order of models alternating (default 3)
  --duration SECS    measured seconds per cell (default 4)
  --warmup SECS      unmeasured seconds before each (default 1)
  --models A,B,...   only these models (default: every model concurd -l lists)
  --loads A,B,...    only these loads: pingpong, connrate, nbytes
  --loops N          nbytes: UNP's fixed "#loops per child": every client
                     worker makes exactly N connections (instead of --duration)
  --quiet-wait SECS  before each cell, wait up to SECS while another
                     concurbench runs or the CPU is over 25% busy (default
                     60; 0: never wait; at most QUIET_BUDGET=900 s in all)
  --out DIR          where compare.md/.csv/.png/.svg go (default docs/)
  --list             print the models and loads and exit
  -h, --help         this text
USAGE
}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 71
B=${B:-build}
O=${O:-bin}
MAKE=${MAKE:-make}
BENCH=$ROOT/$O/concurbench
CONCURD=$ROOT/$O/concurd

QUICK=0 ROUNDS=3 DUR=4 WARM=1 LOOPS= QUIET_WAIT=60 OUT=docs
MODELS_OPT= LOADS_OPT= ARGS_GIVEN="$*"
ALL_LOADS="pingpong connrate nbytes"

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=${2:-}; shift ;;
	--duration) DUR=${2:-}; shift ;;
	--warmup) WARM=${2:-}; shift ;;
	--models) MODELS_OPT=${2//,/ }; shift ;;
	--loads) LOADS_OPT=${2//,/ }; shift ;;
	--loops) LOOPS=${2:-}; shift ;;
	--quiet-wait) QUIET_WAIT=${2:-} QW_SET=1; shift ;;
	--out) OUT=${2:-}; shift ;;
	--list) echo "models: " $("$CONCURD" -l | sed -n 's/^model //p'); echo "loads:  $ALL_LOADS"; exit 0 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 64 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then
	ROUNDS=1 DUR=1 WARM=0.3 QUIET_WAIT=${QW_SET:+$QUIET_WAIT}; QUIET_WAIT=${QUIET_WAIT:-0}
fi
case "$ROUNDS$DUR$QUIET_WAIT${LOOPS:-1}" in *[!0-9]*|'')
	echo "run.sh: --rounds, --duration, --loops and --quiet-wait take whole numbers" >&2
	exit 64 ;;
esac
case "$WARM" in ''|*[!0-9.]*|*.*.*) echo "run.sh: --warmup takes seconds, e.g. 1 or 0.5" >&2; exit 64 ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$DUR" -ge 1 ] && [ "${LOOPS:-1}" -ge 1 ] ||
	{ echo "run.sh: rounds, duration and loops must be at least 1" >&2; exit 64; }

say() { printf '%s compare: %s\n' "$(date +%T)" "$*" >&2; }

command -v gnuplot >/dev/null || {
	echo "run.sh: gnuplot is missing (Debian: apt-get install gnuplot-nox)" >&2; exit 69; }
$MAKE --no-print-directory -s B="$B" O="$O" all >&2 || { echo "run.sh: build failed" >&2; exit 70; }
for f in "$BENCH" "$CONCURD"; do
	[ -x "$f" ] || { echo "run.sh: $f was not built" >&2; exit 70; }
done

ALL_MODELS=$("$CONCURD" -l | sed -n 's/^model //p' | tr '\n' ' ')
MODELS=${MODELS_OPT:-$ALL_MODELS}
LOADS=${LOADS_OPT:-$ALL_LOADS}
for m in $MODELS; do
	case " $ALL_MODELS " in *" $m "*) ;; *) echo "run.sh: unknown model $m (see --list)" >&2; exit 64 ;; esac
done
for l in $LOADS; do
	case " $ALL_LOADS " in *" $l "*) ;; *) echo "run.sh: unknown load $l (see --list)" >&2; exit 64 ;; esac
done
# The iterative model is the baseline every other model is measured against.
case " $MODELS " in *" iterative "*) ;; *)
	say "without iterative there is no baseline: the process-control column stays empty" ;;
esac

RUN=$ROOT/$B/compare/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN/json" "$RUN/logs" "$RUN/bin" || exit 73
# Measure a snapshot: others working in the same tree may rebuild bin/
# while the run goes on, and one report must measure one binary.
cp "$CONCURD" "$BENCH" "$RUN/bin/" || exit 73
CONCURD=$RUN/bin/concurd BENCH=$RUN/bin/concurbench
[ "$QUICK" = 1 ] && OUT=$RUN
mkdir -p "$OUT" || exit 73

# --- loads -----------------------------------------------------------------
#
# pingpong: 64 persistent connections, 64-byte messages, echo.
# connrate: 16 client workers, each connect, one 64-byte echo, close.  The
#   close is a reset (SO_LINGER 0): at tens of thousands of connections per
#   second, normal closes leave the client's ports in TIME_WAIT and the
#   28,000 or so ephemeral ports run out within seconds.
# nbytes: UNP's load: 16 client workers, each connect, ask for 4,000 bytes,
#   read them, close (reset, for the same reason).
#
# Pools get a fixed starting size that covers the load (UNP's pools were
# fixed): 72 workers for 64 persistent connections, 32 for 16 workers (on 2
# cores a worker may hold a finished connection a while before it runs, so
# more than 16 can be busy).  concurd still grows a pool whose idle workers
# fall below 2; the summary's worker count says whether it did.  Event loops
# keep their default (one per CPU).  The iterative model serves one
# connection at a time, so its pingpong runs with 1 connection (the other
# 63 would wait for the end of the run) and is marked so in the report.

service_of() { case $1 in nbytes) echo nbytes ;; *) echo echo ;; esac; }
clients_of() {	# clients_of LOAD MODEL
	case $1 in
	pingpong) [ "$2" = iterative ] && echo 1 || echo 64 ;;
	*) echo 16 ;;
	esac
}
workers_of() {	# workers_of LOAD MODEL: concurd's -w, or nothing
	case $2 in
	prefork*|prethread*) [ "$1" = pingpong ] && echo 72 || echo 32 ;;
	esac
}
bench_args() {	# bench_args LOAD MODEL
	local c; c=$(clients_of "$1" "$2")
	case $1 in
	pingpong) echo "-m pingpong -c $c -s 64 -d $DUR" ;;
	connrate) echo "-m connrate -c $c -s 64 --close reset -d $DUR" ;;
	nbytes) if [ -n "$LOOPS" ]; then
			echo "-m nbytes -c $c -s 4000 --close reset --connections-per-worker $LOOPS"
		else
			echo "-m nbytes -c $c -s 4000 --close reset -d $DUR"
		fi ;;
	esac
}

# --- one cell ---------------------------------------------------------------

SPID=
cleanup() {
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null; sleep 0.5; kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# foreign: concurbench processes of somebody else (ours run in the
# foreground, so between cells any that exist are not ours).
foreign() { pgrep -x concurbench 2>/dev/null | wc -l; }

# busy: the share of the machine's CPU (percent of all cores) in use over
# half a second.  Between cells nothing of ours runs, so this is other
# people's work.
busy() {
	local a b
	a=$(head -n1 /proc/stat); sleep 0.5; b=$(head -n1 /proc/stat)
	echo "$a" "$b" | awk '{
		t0 = 0; for (i = 2; i <= 11; i++) t0 += $i; i0 = $5 + $6
		t1 = 0; for (i = 13; i <= 22; i++) t1 += $i; i1 = $16 + $17
		printf "%.0f\n", (t1 > t0) ? 100 * (1 - (i1 - i0) / (t1 - t0)) : 0 }'
}

# wait_quiet: the machine has 2 cores for everyone; a measurement taken
# while another benchmark or test suite runs measures both.  Before each
# cell wait (up to QUIET_WAIT seconds, and QUIET_BUDGET for the whole run)
# until no other concurbench runs and the CPU is mostly idle.  The figures
# at the start of each cell go into the results, so the report can say how
# quiet it was.
QUIET_BUDGET=${QUIET_BUDGET:-900} WAITED=0
wait_quiet() {
	local w=0 b
	BUSY=$(busy)
	[ "$QUIET_WAIT" -gt 0 ] || return 0
	while { [ "$(foreign)" -gt 0 ] || [ "$BUSY" -gt 25 ]; } &&
	      [ "$w" -lt "$QUIET_WAIT" ] && [ "$WAITED" -lt "$QUIET_BUDGET" ]; do
		[ "$w" = 0 ] && say "machine busy (${BUSY}% CPU, $(foreign) other concurbench); waiting up to ${QUIET_WAIT}s"
		sleep 1.5
		w=$((w + 2)) WAITED=$((WAITED + 2))
		BUSY=$(busy)
	done
	[ "$w" -gt 0 ] && say "went on after ${w}s: ${BUSY}% CPU busy, $(foreign) other concurbench"
	[ "$WAITED" -ge "$QUIET_BUDGET" ] && [ "$w" -gt 0 ] && say "waiting budget (${QUIET_BUDGET}s) spent: no more waiting"
	return 0
}

RESULTS=$RUN/results.tsv
printf 'round\tload\tmodel\tstatus\tclients\tworkers_opt\tbusy_pct\tforeign\tbench_rc\trequests\trate\tp50_us\tp99_us\tp999_us\tclient_errors\tclient_us_per_req\tsrv_conns\tsrv_bytes_in\tsrv_bytes_out\tsrv_errors\tsrv_cpu_s\tsrv_workers\tspread\tissued\tsrv_resets\n' >"$RESULTS"

row() { local IFS=$'\t'; echo "$*" >>"$RESULTS"; }

# cell ROUND LOAD MODEL: one measurement, one row of results.tsv.
cell() {
	local round=$1 load=$2 model=$3 svc w wopt c tag log json port i rc st summ la fg
	svc=$(service_of "$load")
	w=$(workers_of "$load" "$model")
	c=$(clients_of "$load" "$model")
	tag=$load-$model-r$round
	log=$RUN/logs/$tag.log
	json=$RUN/json/$tag.json
	wait_quiet
	la=$BUSY
	fg=$(foreign)
	wopt=${w:+-w $w}
	: >"$log"
	"$CONCURD" -m "$model" -s "$svc" -b 127.0.0.1 -p 0 $wopt 2>>"$log" &
	SPID=$!
	port=
	for i in $(seq 100); do
		port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\) .*/\1/p' "$log")
		[ -n "$port" ] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		kill -TERM "$SPID" 2>/dev/null
		for i in $(seq 20); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SPID" 2>/dev/null
		wait "$SPID"; rc=$?
		SPID=
		# 69: the model cannot run here (io_uring refused, or no liburing).
		[ "$rc" = 69 ] && st=unavailable || st=failed
		say "$tag: concurd exited $rc: $(tail -n1 "$log")"
		row "$round" "$load" "$model" "$st" "$c" "${w:--}" "$la" "$fg" "$rc"
		return
	fi
	# A generous timeout: a cell must never hang the run.
	timeout $((DUR + 120)) "$BENCH" 127.0.0.1 "$port" $(bench_args "$load" "$model") \
		--warmup "$WARM" --json >"$json" 2>>"$log"
	rc=$?
	kill -TERM "$SPID" 2>/dev/null
	for i in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$SPID" 2>/dev/null; then
		say "$tag: concurd still running 10 s after SIGTERM; killed"
		kill -KILL "$SPID" 2>/dev/null
	fi
	wait "$SPID" 2>/dev/null
	SPID=
	summ=$(grep 'summary:' "$log" | tail -n1)
	st=ok
	[ -z "$summ" ] && st=nosummary
	[ "$rc" != 0 ] && st=bench$rc
	perl -MJSON::PP -e '
		my ($json, $summ, @pre) = @ARGV;
		my %s = $summ =~ /(\w+)=(\S+)/g;
		my $j = eval { local $/; open(my $f, "<", $json) or die; decode_json(<$f>) } // {};
		my $l = $j->{latency_us} // {};
		my $v = sub { defined $_[0] ? $_[0] : "" };
		print join("\t", @pre,
		    $v->($j->{requests}), $v->($j->{requests_per_s}), $v->($l->{p50}),
		    $v->($l->{p99}), $v->($l->{"p99.9"}), $v->($j->{errors}{total}),
		    $v->($j->{cpu}{us_per_request}),
		    map({ $v->($s{$_}) } qw(connections bytes_in bytes_out errors cpu workers spread)),
		    $v->($j->{issued}), $v->($s{resets})),
		    "\n";
	' "$json" "$summ" "$round" "$load" "$model" "$st" "$c" "${w:--}" "$la" "$fg" "$rc" >>"$RESULTS"
	tail -n1 "$RESULTS" | awk -F'\t' '{
		n = ($2 == "pingpong") ? $18 / 64 : $17
		printf "  r%s %-8s %-16s %-6s %9.0f/s  p50 %7.1f  p99 %8.1f us  server %6.1f us/req  workers %s\n",
		    $1, $2, $3, $4, $11, $12, $13, (n > 0 ? $21 * 1e6 / n : 0), $22 }' >&2
}

# order ROUND LIST...: odd rounds forward, even rounds backward, each round
# starting one further along, so no model is always first or last.
order() {
	local r=$1; shift
	local a=("$@") k=$# i j
	for ((i = 0; i < k; i++)); do
		j=$(((i + r - 1) % k))
		[ $((r % 2)) = 0 ] && j=$((k - 1 - j))
		echo "${a[$j]}"
	done
}

# --- the machine and the run ---------------------------------------------

CMD="make compare"
[ "$QUICK" = 1 ] && CMD="$CMD QUICK=1"
CMD="$CMD  # bench/compare/run.sh${ARGS_GIVEN:+ $ARGS_GIVEN}"
{
	echo "command	$CMD"
	echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "cores	$(nproc)"
	echo "kernel	$(uname -sr)"
	echo "virt	$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p')"
	echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "load_before	$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rounds	$ROUNDS"
	echo "duration	$DUR"
	echo "warmup	$WARM"
	echo "loops	${LOOPS:-}"
	echo "models	$MODELS"
	echo "loads	$LOADS"
	echo "bench_threads	$(nproc)"
	echo "concurd	$(git -C "$ROOT" describe --always --dirty 2>/dev/null), $("$CONCURD" -V 2>&1 | head -n1), binary built $(date -u -r "$ROOT/$O/concurd" "+%H:%M:%S UTC") (sha256 $(sha256sum "$CONCURD" | cut -c1-12))"
	echo "gnuplot	$(gnuplot -V 2>/dev/null)"
	for l in $ALL_LOADS; do
		echo "load_$l	concurd -s $(service_of "$l") [-w $(workers_of "$l" prefork)]; concurbench $(bench_args "$l" epoll) --warmup $WARM --json"
	done
} >"$RUN/machine.tsv"
say "results in $RUN; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
START=$(date +%s)

for round in $(seq "$ROUNDS"); do
	say "round $round of $ROUNDS"
	mapfile -t set < <(order "$round" $MODELS)
	for load in $LOADS; do
		for m in "${set[@]}"; do cell "$round" "$load" "$m"; done
	done
done
{
	echo "load_after	$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "elapsed_s	$(( $(date +%s) - START ))"
} >>"$RUN/machine.tsv"

perl "$ROOT/bench/compare/report.pl" "$RUN" "$OUT" || exit 70
say "report: $OUT/compare.md (raw rows: $RESULTS)"
