#!/bin/bash
# concurbench never hangs: against a server that accepts and never answers,
# the I/O timeout fires, each request ends as a "timeout" error, the run ends
# in bounded time and exits 75 (EX_TEMPFAIL).  A duration bounds a run whose
# requests never finish, and SIGINT ends a run with the results so far.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/silent.log" "$SRV" -m silent || exit 1
SILENT=$PORT

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# silent MODE ARGS...
silent() {
	local mode=$1 out rc start ms
	shift
	start=$(date +%s%N)
	out=$(timeout 30 "$CB" 127.0.0.1 "$SILENT" -m "$mode" --io-timeout 300ms --json "$@" 2>"$T/err")
	rc=$?
	ms=$(ms_since "$start")
	is "$rc" 75 "$mode $*: exit 75 when every request timed out"
	is "$(jq -r '.errors.total == .errors.timeout and .errors.timeout > 0' <<<"$out")" true "$mode $*: timeouts, and nothing else"
	# One timeout ends every request in flight on its connection: one
	# each, except in stream mode (a window of them).
	[ "$mode" = stream ] || is "$(jq -r '.errors.timeout' <<<"$out")" "$(jq -r '.issued' <<<"$out")" "$mode $*: every request is a timeout"
	is "$(jq -r '.requests' <<<"$out")" 0 "$mode $*: nothing counted as done"
	ok $(( ms >= 300 && ms < 5000 ? 0 : 1 )) "$mode $*: bounded by the timeout (${ms} ms)"
}

silent pingpong -n 4 -c 2
silent nbytes -n 2 -c 2 -s 100
silent connrate -n 3 -c 3
silent stream -n 10 -c 1 -s 1k

# A duration bounds the run even with a long I/O timeout.
start=$(date +%s%N)
out=$(timeout 30 "$CB" 127.0.0.1 "$SILENT" -d 500ms -c 4 --io-timeout 1h --json 2>/dev/null)
ms=$(ms_since "$start")
ok $(( ms >= 500 && ms < 4000 ? 0 : 1 )) "-d 500ms ends a run whose requests never finish (${ms} ms)"
is "$(jq -r '.errors.total' <<<"$out")" 0 "cut-off requests are not errors"
is "$(jq -r '.issued - .requests' <<<"$out")" 4 "the 4 unanswered requests are reported as begun, not done"

# SIGINT: results so far, promptly.
start_server "$T/echo.log" "$SRV" -m echo || exit 1
"$CB" 127.0.0.1 "$PORT" -d 1h -c 4 --json >"$T/int.json" 2>"$T/int.err" &
cb=$!
track "$cb"
sleep 1
start=$(date +%s%N)
kill -INT "$cb"
wait_gone "$cb" 5
ms=$(ms_since "$start")
wait "$cb"
rc=$?
ok $(( ms < 2000 ? 0 : 1 )) "SIGINT ends the run at once (${ms} ms)"
is "$rc" 130 "SIGINT: exit 130 (interrupted: part of the run)"
is "$(jq -r '.interrupted' "$T/int.json")" true "SIGINT: the report says interrupted"
ok $(( $(jq -r '.requests' "$T/int.json") > 0 ? 0 : 1 )) "SIGINT: the requests so far are reported"

done_testing
