#!/bin/bash
# --io: ping-pong moves its data through io_uring or epoll, and both end a
# run the same way: the exact request count (one thread or two), every
# wrong byte caught, a server that closes every connection or stops
# answering counted as such (the ring's operations on a dead socket are
# ended, the connection opened again), an open-loop schedule kept.  auto
# (the default) takes io_uring for verified ping-pong with the built-in
# messages where the kernel gives it, epoll for the other modes, big
# messages, --no-verify, other protocols, and where io_uring is refused (as
# in many containers).
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
NOU=$HELP/no_uring
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1
ECHO=$PORT
start_server "$T/flip.log" "$SRV" -m echo -f 5000 || exit 1
FLIP=$PORT
start_server "$T/close.log" "$SRV" -m close || exit 1
CLOSE=$PORT

# Does this kernel give the ring?  (exit 69 where it does not)
timeout 30 "$CB" 127.0.0.1 "$ECHO" -n 10 -c 1 --io uring >/dev/null 2>"$T/probe.err"
probe=$?
if [ "$probe" = 69 ]; then
	diag "io_uring is not available here: $(cat "$T/probe.err")"
	modes=epoll
else
	is "$probe" 0 "--io uring runs where the kernel has io_uring"
	modes="uring epoll"
fi

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

for io in $modes; do
	want=$([ "$io" = uring ] && echo io_uring || echo epoll)

	out=$(timeout 60 "$CB" 127.0.0.1 "$ECHO" -n 3000 -c 8 --io "$io" --json 2>"$T/err")
	is "$?" 0 "$io: a clean run exits 0"
	is "$(jq -r '.requests' <<<"$out")" 3000 "$io: exactly -n requests done"
	is "$(jq -r '.parameters.io' <<<"$out")" "$want" "$io: the JSON says $want"
	is "$(jq -r '.bytes_received' <<<"$out")" $((3000 * 64)) "$io: every byte came back and was counted"

	out=$(timeout 60 "$CB" 127.0.0.1 "$ECHO" -n 3000 -c 8 -t 2 --io "$io" --json 2>"$T/err")
	is "$(jq -r '.requests' <<<"$out")" 3000 "$io: -t 2: exactly -n requests across threads"

	out=$(timeout 60 "$CB" 127.0.0.1 "$ECHO" -n 500 -c 2 -s 4k --io "$io" --json 2>"$T/err")
	is "$(jq -r '.requests, .errors.total' <<<"$out" | tr '\n' ' ')" "500 0 " "$io: 4 KiB messages"

	out=$(timeout 60 "$CB" 127.0.0.1 "$FLIP" -n 2000 -c 4 --io "$io" --json 2>"$T/err")
	is "$?" 65 "$io: exit 65 on corrupted replies"
	ok $(( $(jq -r '.errors.verify' <<<"$out") > 0 ? 0 : 1 )) "$io: verify errors counted"
	like "$(cat "$T/err")" 'verify: connection [0-9]+, request [0-9]+, byte [0-9]+:' "$io: the first mismatch is described"

	# Every connection closed by the server at once: each ends as an
	# error and is opened again after a back-off, never a busy loop.
	start=$(date +%s%N)
	out=$(timeout 30 "$CB" 127.0.0.1 "$CLOSE" -d 1 -c 4 --io "$io" --json 2>"$T/err")
	rc=$?
	ms=$(ms_since "$start")
	is "$rc" 74 "$io: a server that closes every connection: exit 74"
	ok $(( $(jq -r '.errors.eof + .errors.reset' <<<"$out") > 0 ? 0 : 1 )) "$io: the closes are counted as eof or reset"
	n=$(jq -r '.connections_opened' <<<"$out")
	ok $(( n > 4 && n < 2000 ? 0 : 1 )) "$io: connections opened again, with a back-off ($n)"
	is "$(jq -r '.requests' <<<"$out")" 0 "$io: nothing counted as done"
	ok $(( ms < 5000 ? 0 : 1 )) "$io: the run ended on time (${ms} ms)"

	# A server that stops answering after 300 ms: the requests in flight
	# time out, their connections are closed with the ring's receives
	# still waiting on them, and the run ends on time.
	# A closed connection's socket is gone at once, not held by the
	# ring: at most -c are established at any time.
	start_server "$T/stall-$io.log" "$SRV" -m echo -S 300 || exit 1
	start=$(date +%s%N)
	timeout 30 "$CB" 127.0.0.1 "$PORT" -d 2 -c 4 --io-timeout 250ms --io "$io" --json >"$T/stall.json" 2>"$T/err" &
	cb=$!
	track "$cb"
	sleep 1.7
	est=$(ss -Htn state established "( dport = :$PORT )" | wc -l)
	wait "$cb"
	rc=$?
	out=$(cat "$T/stall.json")
	ms=$(ms_since "$start")
	stop_server
	ok $(( est <= 4 ? 0 : 1 )) "$io: after timeouts, at most 4 connections established ($est)"
	is "$rc" 75 "$io: a stalled server: exit 75"
	ok $(( $(jq -r '.requests' <<<"$out") > 0 ? 0 : 1 )) "$io: requests done before the stall"
	ok $(( $(jq -r '.errors.timeout' <<<"$out") >= 4 ? 0 : 1 )) "$io: every connection's request timed out"
	is "$(jq -r '.errors.total - .errors.timeout' <<<"$out")" 0 "$io: timeouts and nothing else"
	ok $(( ms < 6000 ? 0 : 1 )) "$io: the run ended on time (${ms} ms)"

	out=$(timeout 60 "$CB" 127.0.0.1 "$ECHO" -r 2000 -d 1 -c 8 --io "$io" --json 2>"$T/err")
	n=$(jq -r '.requests' <<<"$out")
	ok $(( n >= 1800 && n <= 2100 ? 0 : 1 )) "$io: open loop at 2000/s for 1 s: $n requests"

	out=$(timeout 60 "$CB" 127.0.0.1 "$ECHO" --connect-rate 40 -d 1 -c 8 --io "$io" --json 2>"$T/err")
	is "$(jq -r '.connections_opened, .errors.total' <<<"$out" | tr '\n' ' ')" "8 0 " "$io: --connect-rate opens the connections during the run"
	ok $(( $(jq -r '.requests' <<<"$out") > 0 ? 0 : 1 )) "$io: --connect-rate: requests done"
done

# auto: what each run uses.
io_of() { timeout 60 "$@" --json 2>/dev/null | jq -r '.parameters.io'; }
if [ "$probe" = 0 ]; then
	is "$(io_of "$CB" 127.0.0.1 "$ECHO" -n 100 -c 2)" io_uring "auto: ping-pong takes io_uring"
	like "$(timeout 60 "$CB" 127.0.0.1 "$ECHO" -n 100 -c 2 2>/dev/null)" 'closed loop, io_uring,' "auto: the report says io_uring"
fi
is "$(io_of "$CB" 127.0.0.1 "$ECHO" -n 100 -c 2 -s 8k)" epoll "auto: messages over 4 KiB take epoll"
is "$(io_of "$CB" 127.0.0.1 "$ECHO" -n 10 -c 1 -m stream)" epoll "auto: stream takes epoll"
is "$(io_of "$CB" 127.0.0.1 "$ECHO" -n 10 -c 1 -m connrate)" epoll "auto: connrate takes epoll"
is "$(io_of "$CB" 127.0.0.1 "$ECHO" -n 10 -c 1 --request 'hi\n')" epoll "auto: --request takes epoll"
is "$(io_of "$CB" 127.0.0.1 "$ECHO" -n 10 -c 1 --no-verify)" epoll "auto: --no-verify takes epoll (it notices answers too long)"

# Where io_uring is refused: auto goes on with epoll, --io uring says why.
if [ -x "$NOU" ]; then
	out=$(timeout 60 "$NOU" "$CB" 127.0.0.1 "$ECHO" -n 500 -c 4 --json 2>"$T/err")
	is "$?" 0 "io_uring refused: auto runs with epoll"
	is "$(jq -r '.parameters.io, .requests' <<<"$out" | tr '\n' ' ')" "epoll 500 " "io_uring refused: the JSON says epoll"
	timeout 60 "$NOU" "$CB" 127.0.0.1 "$ECHO" -n 10 -c 1 --io uring >/dev/null 2>"$T/err"
	is "$?" 69 "io_uring refused: --io uring exits 69"
	like "$(cat "$T/err")" 'io_uring .*not available here: Operation not permitted' "io_uring refused: --io uring says why"
else
	skip "build/tests/no_uring is not built"
fi

# Usage errors.
timeout 10 "$CB" 127.0.0.1 "$ECHO" -n 10 --io poll >/dev/null 2>"$T/err"
is "$?" 64 "--io poll: exit 64"
like "$(cat "$T/err")" "--io: 'poll' is not auto, epoll or uring" "--io poll: the message names the choices"
timeout 10 "$CB" 127.0.0.1 "$ECHO" -n 10 -m stream --io uring >/dev/null 2>"$T/err"
is "$?" 64 "--io uring -m stream: exit 64"
like "$(cat "$T/err")" 'only TCP pingpong' "--io uring -m stream: the message says what can use it"

done_testing
