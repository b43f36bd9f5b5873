#!/bin/bash
# The progress line: once a second on a terminal (run under script(1) for a
# pseudo-terminal), never when standard error is not a terminal.
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

done_testing
