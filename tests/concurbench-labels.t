#!/bin/bash
# The report says what was measured: connrate counts connections (conn/s),
# stream is windowed (not closed loop), requests that ended by errors are
# told from those cut off by the end, a run with no request done has no
# CPU per request, and -v says more (the target and the first error of
# each kind).
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"

start_server "$T/echo.log" "$SRV" -m echo || exit 1
ECHO=$PORT
start_server "$T/silent.log" "$SRV" -m silent || exit 1
SILENT=$PORT
start_server "$T/close.log" "$SRV" -m close || exit 1
CLOSE=$PORT

out=$("$CB" 127.0.0.1 "$ECHO" -m connrate -n 100 -c 2 --close reset 2>&1)
like "$out" '^connections +100 in [0-9.]+ s = [0-9.]+ conn/s' "connrate: 'connections ... conn/s'"
unlike "$out" '^requests ' "connrate: no 'requests' line"
like "$out" 'client CPU +[0-9.]+ us/connection' "connrate: CPU per connection"

out=$("$CB" 127.0.0.1 "$ECHO" -m stream -n 500 -c 2 -s 1k 2>&1)
like "$out" 'windowed \(64 messages in flight per connection\)' "stream: windowed, not closed loop"
unlike "$out" 'closed loop' "stream: never 'closed loop'"

# Cut off by the end, no errors: said as such.
out=$("$CB" 127.0.0.1 "$SILENT" -d 300ms -c 3 --io-timeout 1h 2>&1)
like "$out" '3 begun: 0 done, 3 cut off by the end of the run' "silent server: cut off, not 'ended by errors'"
like "$out" 'errors +none' "silent server: errors none"
like "$out" 'client CPU +n/a, no request was completed' "no request done: no CPU per request"
unlike "$out" '0\.00 us/request' "no request done: never '0.00 us/request'"
like "$out" 'latency \(us\) +none' "no request done: no percentiles"

# Ended by errors: said as such.
out=$("$CB" 127.0.0.1 "$CLOSE" -m connrate -n 20 -c 2 2>&1)
like "$out" '20 begun: 0 done, 20 ended by errors' "closing server: ended by errors"
unlike "$out" 'cut off' "closing server: nothing cut off"

# -v says more.
out=$("$CB" -v 127.0.0.1 "$CLOSE" -m connrate -n 5 -c 1 2>&1 >/dev/null)
like "$out" "target 127.0.0.1 port $CLOSE \(127\.0\.0\.1\) answers" "-v: the target"
like "$out" "127.0.0.1:$CLOSE: 1 connections over 1 threads" "-v: the layout"
like "$out" 'first error of kind (eof|reset): connection 0: ' "-v: the first error of its kind, described"
out=$("$CB" 127.0.0.1 "$CLOSE" -m connrate -n 5 -c 1 2>&1 >/dev/null)
unlike "$out" 'first error of kind (eof|reset)' "without -v: not"

done_testing
