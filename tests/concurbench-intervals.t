#!/bin/bash
# Results over time: -i prints a line per interval while the run goes on,
# the JSON "intervals" array has them always, they add up to the run, a
# stall in the middle of a run is visible in them, and the histogram file
# carries them into --merge, interval by interval.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1
ECHO=$PORT

out=$(timeout 30 "$CB" 127.0.0.1 "$ECHO" -d 1 -c 4 -i 250ms 2>&1)
is "$(grep -cE '^\[ *[0-9.]+- *[0-9.]+ s\] +[0-9.]+ req/s +p50 [0-9.]+ p99 [0-9.]+ max [0-9.]+ us +errors 0$' <<<"$out")" 4 \
    "-d 1 -i 250ms: four interval lines"
like "$(grep -m1 '^\[' <<<"$out")" '^\[ *0\.00- *0\.25 s\]' "the first covers 0 to 0.25 s"
out=$(timeout 30 "$CB" 127.0.0.1 "$ECHO" -d 1 -c 4 2>&1)
unlike "$out" '^\[' "without -i: no interval lines in the text"

timeout 30 "$CB" 127.0.0.1 "$ECHO" -d 2 -c 4 --warmup 300ms --json --histogram "$T/a.hist" >"$T/a.json" 2>/dev/null
is "$(jq '.intervals | length' "$T/a.json")" 2 "JSON: -d 2 has two 1 s intervals"
is "$(jq '.parameters.interval_s' "$T/a.json")" 1 "JSON: interval_s is 1 by default"
is "$(jq '[.intervals[].requests] | add' "$T/a.json")" "$(jq .requests "$T/a.json")" "the intervals' requests add up to the run's"
is "$(jq '[.intervals[].issued] | add' "$T/a.json")" "$(jq .issued "$T/a.json")" "... and the requests begun"
is "$(jq '[.intervals[].bytes_sent] | add' "$T/a.json")" "$(jq .bytes_sent "$T/a.json")" "... and the bytes"
is "$(jq '[.intervals[].errors] | add' "$T/a.json")" 0 "... and no errors (the warmup's are not in them)"
is "$(jq -r '[.intervals[] | .latency_us.max] | max' "$T/a.json")" "$(jq -r .latency_us.max "$T/a.json")" "the largest interval max is the run's max"

# A stall at 1.5 s: the intervals after it are empty, those before are not.
start_server "$T/stall.log" "$SRV" -m echo -S 1500 || exit 1
timeout 30 "$CB" 127.0.0.1 "$PORT" -d 3 -c 4 --io-timeout 1h --json >"$T/s.json" 2>/dev/null
is "$(jq -r '[.intervals[].requests > 0] | map(tostring) | join(" ")' "$T/s.json")" "true true false" \
    "a stall at 1.5 s: requests in seconds 1 and 2, none in 3"
is "$(jq -r '.intervals[2].latency_us.p50' "$T/s.json")" null "the empty interval has no percentiles"
timeout 30 "$CB" 127.0.0.1 "$PORT" -d 1 -c 4 -i 500ms --io-timeout 1h >"$T/s.txt" 2>/dev/null
like "$(tail -n +2 "$T/s.txt" | grep -m1 '^\[')" 'no request completed' "text: an empty interval says so"

# Merge: interval k of each file added together.
"$CB" --merge "$T/a.hist" "$T/a.hist" --json >"$T/m.json" 2>/dev/null
is "$(jq -c '[.intervals[].requests]' "$T/m.json")" "$(jq -c '[.intervals[].requests * 2]' "$T/a.json")" "merged intervals: each one's requests doubled"
is "$(jq -c '[.intervals[].latency_us.p99]' "$T/m.json")" "$(jq -c '[.intervals[].latency_us.p99]' "$T/a.json")" "merged intervals: a file with itself keeps its percentiles"

done_testing
