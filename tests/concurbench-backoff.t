#!/bin/bash
# Against a server that accepts and closes at once, a daytime server (it
# answers, but not the echo) and concurd --deny (it refuses after the
# accept), concurbench backs off: a few tries a second per slot instead of
# thousands, counts every failure by kind and says what happened.  A clean
# server right after shows the back-off does not slow a healthy run.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

# Each of 4 slots waits 1, 2, 4 ... 64 ms, then 100 ms: in 1 s at most
# about 16 tries each, 64 in all; say 200, not the 20,000+ of a busy loop.
MAX=200

# bounded NAME PORT ARGS...: a 1 s run that fails everything, bounded.
bounded() {
	local name=$1 port=$2 out rc n
	shift 2
	out=$(timeout 30 "$CB" 127.0.0.1 "$port" -d 1 -c 4 -t 1 --json "$@" 2>"$T/err")
	rc=$?
	n=$(jq -r '.connections_opened' <<<"$out")
	ok $(( n > 4 && n <= MAX ? 0 : 1 )) "$name: $n connections in 1 s, not a busy loop"
	is "$(jq -r '.requests' <<<"$out")" 0 "$name: nothing done"
	ok $(( $(jq -r '.errors.total' <<<"$out") >= n - 4 ? 0 : 1 )) "$name: every failure counted"
	like "$(cat "$T/err")" 'each failing slot waited before trying again' "$name: says it backed off"
	RC=$rc
}

start_server "$T/close.log" "$SRV" -m close || exit 1
bounded "a server that closes at once" "$PORT"
is "$RC" 74 "closes at once: exit 74"
like "$(cat "$T/err")" 'closed by the server before the answer was complete|reset by the server' "closes at once: says what the server did"
bounded "... connrate" "$PORT" -m connrate
stop_server

start_server "$T/day.log" "$BIN/concurd" -s daytime -p 0 -b 127.0.0.1 || exit 1
bounded "daytime (a wrong answer)" "$PORT"
is "$RC" 65 "daytime: exit 65"
like "$(cat "$T/err")" 'answered wrongly' "daytime: says the answers were wrong"
stop_server

start_server "$T/deny.log" "$BIN/concurd" -p 0 -b 127.0.0.1 --deny 127.0.0.0/8 || exit 1
bounded "concurd --deny 127.0.0.0/8" "$PORT" -m connrate
stop_server

start_server "$T/echo.log" "$SRV" -m echo || exit 1
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -n 2000 -c 4 --json 2>/dev/null)
is "$?" 0 "a clean server after: exit 0"
is "$(jq -r '.requests' <<<"$out")" 2000 "a clean server after: all done"

done_testing
