#!/bin/bash
# concurbench does exactly what it is asked: -n N gives N requests (counted
# across threads, in every mode), --connections-per-worker N gives workers
# x N connections, and --no-verify says so.  Against bench_testsrv.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1
ECHO=$PORT
start_server "$T/nb.log" "$SRV" -m nbytes || exit 1
NB=$PORT

# exact MODE PORT N ARGS...: a run with -n N reports exactly N requests.
exact() {
	local mode=$1 port=$2 n=$3 out rc
	shift 3
	out=$(timeout 60 "$CB" 127.0.0.1 "$port" --mode "$mode" -n "$n" --json "$@" 2>"$T/err")
	rc=$?
	is "$rc" 0 "$mode -n $n $*: exit 0"
	is "$(jq -r '.requests' <<<"$out")" "$n" "$mode -n $n $*: requests = $n"
	is "$(jq -r '.issued' <<<"$out")" "$n" "$mode -n $n $*: issued = $n"
	is "$(jq -r '.errors.total' <<<"$out")" 0 "$mode -n $n $*: no errors"
	is "$(jq -r '.latency_us.count' <<<"$out")" "$n" "$mode -n $n $*: $n latencies"
}

exact pingpong "$ECHO" 1000 -c 8 -t 2
exact pingpong "$ECHO" 997 -c 13 -t 3 -s 1000
exact pingpong "$ECHO" 1 -c 4
exact stream "$ECHO" 5000 -c 4 -s 512
exact connrate "$ECHO" 300 -c 7 --close reset
exact nbytes "$NB" 200 -c 4 -s 4000 --close reset
exact pingpong "$ECHO" 500 -c 8 --warmup 200ms
exact pingpong "$ECHO" 300 -c 8 -r 3000

# Bytes: a pingpong request is S bytes each way.
out=$("$CB" 127.0.0.1 "$ECHO" -n 100 -c 2 -s 300 --json 2>/dev/null)
is "$(jq -r '.bytes_sent' <<<"$out")" 30000 "bytes sent = 100 x 300"
is "$(jq -r '.bytes_received' <<<"$out")" 30000 "bytes received = 100 x 300"

# UNP's loops per child.
out=$(timeout 60 "$CB" 127.0.0.1 "$NB" -m nbytes -s 4000 -c 5 --connections-per-worker 20 --close reset --json 2>/dev/null)
is "$(jq -r '.requests' <<<"$out")" 100 "nbytes: 5 workers x 20 connections = 100 requests"
is "$(jq -r '.connections_opened' <<<"$out")" 100 "nbytes: 100 connections opened"

# A big reply is read in pieces and still counted once.
out=$(timeout 60 "$CB" 127.0.0.1 "$NB" -m nbytes -s 1M -c 2 -n 6 --json 2>/dev/null)
is "$(jq -r '.requests' <<<"$out")" 6 "nbytes 1 MiB replies: 6 requests"
is "$(jq -r '.bytes_received' <<<"$out")" $((6 * 1048576)) "nbytes 1 MiB replies: every byte read"

# Duration: a 1 s run ends in about 1 s, and says what it measured.
start=$(date +%s%N)
out=$(timeout 30 "$CB" 127.0.0.1 "$ECHO" -d 1 -c 4 --json 2>/dev/null)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok $(( ms >= 1000 && ms < 5000 ? 0 : 1 )) "-d 1 ends after about 1 s (${ms} ms)"
# (The run ends at the first look at the clock past 1 s: on a loaded
# machine that look can come late.)
el=$(jq -r '.elapsed_s' <<<"$out")
check "-d 1: elapsed_s is about 1 (${el})" awk -v e="$el" 'BEGIN { exit !(e >= 0.99 && e < 1.5) }'
ok $(( $(jq -r '.requests' <<<"$out") > 0 ? 0 : 1 )) "-d 1: some requests"

# --no-verify is said out loud.
out=$("$CB" 127.0.0.1 "$ECHO" -n 10 -c 2 --no-verify 2>&1)
like "$out" 'verification OFF' "--no-verify: the text report says verification is off"
out=$("$CB" 127.0.0.1 "$ECHO" -n 10 -c 2 --no-verify --json 2>/dev/null)
is "$(jq -r '.parameters.verify' <<<"$out")" false "--no-verify: JSON verify false"

# The text report has the fields the man page lists.
out=$("$CB" 127.0.0.1 "$ECHO" -n 200 -c 4 2>&1)
like "$out" 'requests +200 in' "text: requests line"
like "$out" 'latency \(us\) +p50 [0-9.]+ p90 [0-9.]+ p99 [0-9.]+ p99\.9 [0-9.]+ p99\.99 [0-9.]+ max' "text: percentiles"
like "$out" 'errors +none' "text: errors none"
like "$out" 'client CPU +[0-9.]+ us/request' "text: CPU per request"
unlike "$out" $'\r' "no progress line when stderr is not a terminal"

# 10,000 connections where the descriptor limit allows (C10K on loopback).
if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 10100 ]; then
	out=$(timeout 120 "$CB" 127.0.0.1 "$ECHO" -c 10000 -n 20000 --json 2>"$T/c10k")
	is "$?" 0 "10,000 connections: exit 0"
	is "$(jq -r '.connections_opened' <<<"$out")" 10000 "10,000 connections opened"
	is "$(jq -r '.requests' <<<"$out")" 20000 "10,000 connections: 20000 requests"
else
	skip "hard descriptor limit $(ulimit -Hn) is below 10100"
	skip "C10K"
	skip "C10K"
fi

# A server that serves one connection at a time (concurd's iterative
# model): once -n is used up, a kept-alive connection with nothing on the
# way is closed, so the server gets to the next one.  (Kept open until
# the end of the run, the first held the server and the second waited for
# its answer until --io-timeout.)
if start_server "$T/iter.log" "$BIN/concurd" -m iterative -b 127.0.0.1 -p 0; then
	start=$(date +%s%N)
	out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 2 -n 100 --io-timeout 10s --json 2>/dev/null)
	rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))
	is "$rc/$(jq -r '.requests' <<<"$out")" 0/100 "iterative server, -c 2 -n 100: every request answered, exit 0"
	ok $(( ms < 5000 ? 0 : 1 )) "...without waiting for the I/O timeout (${ms} ms)"
	stop_server
else
	fail "concurd -m iterative starts"
fi

done_testing
