#!/bin/bash
# The progress line: once a second on a terminal (run under script(1) for a
# pseudo-terminal), never when standard error is not a terminal; its rate
# is the last second's, so a server that stops answering shows 0 req/s at
# once, not a slowly falling average.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v script >/dev/null || skip_all "script(1) is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1

timeout 30 script -qec "$CB 127.0.0.1 $PORT -d 2500ms -c 4" "$T/tty" >/dev/null 2>&1
is "$?" 0 "run on a terminal: exit 0"
n=$(tr '\r' '\n' <"$T/tty" | grep -cE '^(.\[K)? *[0-9]+ s +[0-9]+ requests +[0-9]+ req/s +0 errors')
ok $(( n >= 2 && n <= 3 ? 0 : 1 )) "a progress line each second of a 2.5 s run ($n)"
grep -q 'requests  *[0-9]* in 2.5' "$T/tty"
ok $? "the report follows the progress lines"

"$CB" 127.0.0.1 "$PORT" -d 1500ms -c 4 >"$T/out" 2>"$T/err"
is "$(wc -c <"$T/err" | tr -d ' ')" 0 "no progress output when stderr is a file"

# A server that stalls after 1.2 s: the lines from the third second on say
# 0 req/s (an average since the start would still say thousands).
start_server "$T/stall.log" "$SRV" -m echo -S 1200 || exit 1
timeout 30 script -qec "$CB 127.0.0.1 $PORT -d 3500ms -c 4 --io-timeout 1h" "$T/tty2" >/dev/null 2>&1
tr '\r' '\n' <"$T/tty2" | grep -E '^(.\[K)? *[0-9]+ s +[0-9]+ requests' >"$T/lines"
first=$(head -n1 "$T/lines")
last=$(tail -n1 "$T/lines")
like "$first" ' [1-9][0-9]* req/s' "before the stall the rate is above 0 ($first)"
like "$last" '^(.\[K)? *3 s +[1-9][0-9]* requests +0 req/s' "after the stall the last second's rate is 0 ($last)"

done_testing
