#!/bin/bash
# A script can tell a good run from a bad one: an interrupted run exits
# 130 and says so, a run that missed its -r target exits 75 and says so
# (JSON: rate_target_met false), and a run that met it exits 0 (true).
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1

# A target no single connection can reach: 10 million requests a second.
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 1 -t 1 -r 10000000 -d 1 --json 2>"$T/err")
is "$?" 75 "-r 10000000 on one connection: exit 75"
is "$(jq -r '.rate_target_met' <<<"$out")" false "JSON: rate_target_met false"
like "$(cat "$T/err")" 'target rate was missed: [0-9.]+ of 10000000 req/s' "stderr says the target was missed, by how much"
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 1 -t 1 -r 10000000 -d 1 2>/dev/null)
like "$out" 'rate +target 10000000 req/s, achieved [0-9.]+ req/s -- MISSED' "text: the rate line says MISSED"

# A target that is easy: met, exit 0.
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 4 -r 2000 -d 1 --json 2>"$T/err")
is "$?" 0 "-r 2000: exit 0"
is "$(jq -r '.rate_target_met' <<<"$out")" true "JSON: rate_target_met true"
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 4 -n 300 --json 2>"$T/err")
is "$(jq -r '.rate_target_met' <<<"$out")" null "closed loop: rate_target_met null"

# Interrupted: the results so far, and 130.
for sig in INT TERM; do
	"$CB" 127.0.0.1 "$PORT" -d 1h -c 4 --json >"$T/int.json" 2>"$T/int.err" &
	cb=$!
	track "$cb"
	sleep 1
	kill -"$sig" "$cb"
	wait_gone "$cb" 5
	wait "$cb"
	is "$?" 130 "SIG$sig: exit 130"
	is "$(jq -r '.interrupted' "$T/int.json")" true "SIG$sig: JSON interrupted"
	is "$(jq -r '.exit_code' "$T/int.json")" 130 "SIG$sig: JSON exit_code 130"
	like "$(cat "$T/int.err")" 'interrupted: the results are of part of the run' "SIG$sig: said on stderr"
done

done_testing
