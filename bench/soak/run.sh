#!/bin/bash
# bench/soak/run.sh [--secs S] [--models "epoll uring prefork prethread"]
#                   [--out DIR] [--report DIR]
#
# A long soak: for each model, three servers as shipped (no tuning flags)
# -- echo, nbytes and file -- under mixed load for S seconds (default one
# hour), all models at once:
#   echo    long connections (concurbench pingpong, 16 connections, open
#           loop at 1,000 requests/s), short connections closed normally
#           and by reset (connrate, 100/s each), and hostile clients
#           (build/tests/rel_hostile: resets mid-transfer, never-readers,
#           slow readers, silent and huge clients, every normal echo
#           checked byte-exact, the server's descriptors, threads and
#           memory back to baseline after it)
#   nbytes  4 KiB replies, a connection each (200/s)
#   file    HTTP keep-alive downloads of 64 KiB and 1 MiB files (200/s)
#           and plain Gopher requests, a connection each (50/s), every
#           byte checked against the files
# Every 10 s each server's resident memory (itself and its children),
# descriptors, threads and children are sampled, and once more after the
# load has ended.  At the end each server
# gets SIGTERM and must exit 0 with its summary; each load generator's
# exit status and error line are kept.  The rows go to OUT (default
# build/soak-long) and, through bench/soak/report.pl, to docs/soak.md,
# docs/soak.csv and the charts docs/soak.png and .svg (--report DIR to
# write them elsewhere).  The rates are modest on purpose: this is about
# what a server keeps over time, not about how fast it goes, and it runs
# on the same 2 cores as its clients.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
SECS=3600 MODELS="epoll uring prefork prethread" OUT=$TOP/build/soak-long
REPORT=$TOP/docs
while [ $# -gt 0 ]; do
	case $1 in
	--secs) SECS=$2; shift 2 ;;
	--models) MODELS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--report) REPORT=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1' (--help)" >&2; exit 64 ;;
	esac
done
case $SECS in ''|*[!0-9]*) echo "run.sh: --secs: a number of seconds" >&2; exit 64 ;; esac
[ "$SECS" -ge 30 ] && [ "$SECS" -le 86400 ] ||
	{ echo "run.sh: --secs: from 30 to 86400" >&2; exit 64; }
BIN=$TOP/bin HELP=$TOP/build/tests
for p in "$BIN/concurd" "$BIN/concurbench" "$HELP/rel_hostile"; do
	[ -x "$p" ] || { echo "run.sh: $p is not built (make all tools)" >&2; exit 69; }
done
ulimit -n 20000 2>/dev/null || true

rm -rf "$OUT" && mkdir -p "$OUT/logs" "$OUT/files" || exit 73
head -c 65536 /dev/urandom >"$OUT/files/small.bin"
head -c 1048576 /dev/urandom >"$OUT/files/large.bin"

PIDS=() SERVERS=() LOADS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# serve MODEL SERVICE ARGS...: start a server; sets PORT.
serve() {
	local m=$1 s=$2 log=$OUT/logs/$1.$2.server i; shift 2
	"$BIN/concurd" -m "$m" -s "$s" -b 127.0.0.1 -p 0 "$@" 2>"$log" &
	local pid=$!
	PIDS+=("$pid")
	PORT=
	for ((i = 0; i < 100; i++)); do
		PORT=$(sed -n 's/.*listening on .* port \([0-9]*\) .*/\1/p' "$log" | head -n1)
		[ -n "$PORT" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$PORT" ]; then
		echo "run.sh: $m/$s did not start: $(tail -n 2 "$log")" >&2
		exit 70
	fi
	SERVERS+=("$m $s $pid")
}

# load MODEL SERVICE NAME CMD...: a load generator in the background.
load() {
	local m=$1 s=$2 n=$3; shift 3
	"$@" >"$OUT/logs/$m.$s.$n.out" 2>&1 &
	PIDS+=("$!")
	LOADS+=("$m $s $n $!")
}

CB=("$BIN/concurbench" 127.0.0.1)
D=${SECS}s
for m in $MODELS; do
	serve "$m" echo
	load "$m" echo long "${CB[@]}" "$PORT" -c 16 -r 1000 -d "$D" -t 1
	load "$m" echo short "${CB[@]}" "$PORT" -m connrate -c 2 -r 100 -d "$D" -t 1
	load "$m" echo reset "${CB[@]}" "$PORT" -m connrate -c 2 -r 100 --close reset -d "$D" -t 1
	load "$m" echo hostile "$HELP/rel_hostile" 127.0.0.1 "$PORT" --secs "$SECS" \
	    --hostile 2 --normal 1 --huge 4 --pid "${SERVERS[-1]##* }" --settle 60
	serve "$m" nbytes
	load "$m" nbytes short "${CB[@]}" "$PORT" -m nbytes -s 4k -c 2 -r 200 -d "$D" -t 1
	serve "$m" file --root "$OUT/files"
	load "$m" file http "${CB[@]}" "$PORT" -m file --http --path /small.bin \
	    --path /large.bin --root "$OUT/files" -c 4 -r 200 -d "$D" -t 1
	load "$m" file plain "${CB[@]}" "$PORT" -m file --path /small.bin \
	    --root "$OUT/files" -c 2 -r 50 -d "$D" -t 1
done

# The samples: seconds since the start, then for each server.
sample() {
	local pid=$1 rss=0 crss=0 fds=0 thr=0 kids=0 c v
	[ -r "/proc/$pid/status" ] || return 1
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
	thr=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
	fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
	for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		kids=$((kids + 1))
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$c/status" 2>/dev/null)
		crss=$((crss + ${v:-0}))
		fds=$((fds + $(ls "/proc/$c/fd" 2>/dev/null | wc -l)))
	done
	printf '%s\t%s\t%s\t%s\t%s\n' "${rss:-0}" "$crss" "$fds" "${thr:-0}" "$kids"
}
{
	printf 'machine\t%s\n' "$(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n1)"
	printf 'cpus\t%s\n' "$(nproc)"
	printf 'kernel\t%s\n' "$(uname -r)"
	printf 'secs\t%s\n' "$SECS"
	printf 'date\t%s\n' "$(date -u +%Y-%m-%d)"
	printf 'commit\t%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$OUT/machine.tsv"
printf 't\tmodel\tservice\trss_kb\tchildren_rss_kb\tfds\tthreads\tchildren\n' >"$OUT/samples.tsv"
start=$(date +%s)
while :; do
	t=$(( $(date +%s) - start ))
	for s in "${SERVERS[@]}"; do
		set -- $s
		if row=$(sample "$3"); then
			printf '%s\t%s\t%s\t%s\n' "$t" "$1" "$2" "$row" >>"$OUT/samples.tsv"
		fi
	done
	[ $((t + 10)) -ge "$SECS" ] && break
	sleep 10
done

# The load generators end on their own (-d, --secs); rel_hostile then
# waits for the server to settle.
printf 'model\tservice\tload\tstatus\trequests\terrors\n' >"$OUT/loads.tsv"
for l in "${LOADS[@]}"; do
	set -- $l
	deadline=$(( $(date +%s) + 300 ))
	while kill -0 "$4" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
	kill -KILL "$4" 2>/dev/null
	wait "$4"; st=$?
	f=$OUT/logs/$1.$2.$3.out
	req=$(sed -n 's/^requests *\([0-9]*\) .*/\1/p; s/^connections *\([0-9]*\) .*/\1/p' "$f" | head -n1)
	[ "$3" = hostile ] && req=$(sed -n 's/^rel_hostile: normal: \([0-9]*\) sessions.*/\1/p' "$f" | head -n1)
	err=$(sed -n 's/^errors *//p' "$f" | head -n1)
	[ "$3" = hostile ] && err=$(grep -c 'FAIL' "$f")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$st" "${req:-}" "${err:-}" >>"$OUT/loads.tsv"
done
# Once the load is gone (and rel_hostile's settle time): one more sample.
t=$(( $(date +%s) - start ))
[ "$t" -ge "$SECS" ] || t=$SECS
for s in "${SERVERS[@]}"; do
	set -- $s
	if row=$(sample "$3"); then
		printf '%s\t%s\t%s\t%s\n' "$t" "$1" "$2" "$row" >>"$OUT/samples.tsv"
	fi
done
printf 'model\tservice\tstatus\tsummary\n' >"$OUT/servers.tsv"
for s in "${SERVERS[@]}"; do
	set -- $s
	kill -TERM "$3" 2>/dev/null
	deadline=$(( $(date +%s) + 30 ))
	while kill -0 "$3" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
	kill -KILL "$3" 2>/dev/null
	wait "$3"; st=$?
	sum=$(sed -n 's/.*concurd: summary: //p' "$OUT/logs/$1.$2.server" | tail -n1)
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$st" "$sum" >>"$OUT/servers.tsv"
done
trap - EXIT
perl bench/soak/report.pl "$OUT" "$REPORT"
