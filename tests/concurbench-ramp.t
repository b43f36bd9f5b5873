#!/bin/bash
# Ramp-up: --connect-rate opens the connections at that rate during the
# run (the intervals show them arrive), and --ramp raises the request rate
# from nothing to -r (the intervals show it rise; the target it is judged
# by is the ramp's schedule, so a ramped run that keeps it is not "missed").
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1

# 40 connections at 40/s: about 10 in each 250 ms interval, all by 1 s.
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 40 -t 2 --connect-rate 40 -d 1500ms -i 250ms --json 2>"$T/err")
is "$?" 0 "--connect-rate 40: exit 0"
is "$(jq -r '.connections_opened' <<<"$out")" 40 "all 40 opened"
c=$(jq -r '[.intervals[].connections_opened] | map(tostring) | join(" ")' <<<"$out")
first=$(jq -r '.intervals[0].connections_opened' <<<"$out")
ok $(( first >= 7 && first <= 13 ? 0 : 1 )) "about 10 in the first 250 ms, not 40 at once ($c)"
is "$(jq -r '[.intervals[0:4][].connections_opened] | add' <<<"$out")" 40 "all of them within the first second"
is "$(jq -r '.intervals[4].connections_opened' <<<"$out")" 0 "none after"
r0=$(jq -r '.intervals[0].requests' <<<"$out")
ok $(( r0 > 0 ? 0 : 1 )) "requests start on the first connections, before the others are up ($r0)"

# Open loop: each connection's share of -r starts when it is up, so the
# rate grows with the connections (10 a second each, at 40/s), and the
# target is what that schedule asks for.
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 40 -t 2 --connect-rate 40 -r 400 -d 1500ms -i 250ms --json 2>"$T/err")
is "$?" 0 "--connect-rate 40 -r 400: exit 0"
is "$(jq -r '.rate_target_met' <<<"$out")" true "... its schedule kept"
q=$(jq -r '[.intervals[].requests] | map(tostring) | join(" ")' <<<"$out")
set -- $q
ok $(( $1 <= 25 && $4 > 2 * $1 && $6 >= 85 && $6 <= 115 ? 0 : 1 )) "requests per 250 ms grow with the connections, then hold at 100 ($q)"

# Closed loop, no --connect-rate: all up before the clock.
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 40 -t 2 -d 500ms -i 250ms --json 2>/dev/null)
is "$(jq -r '.intervals[0].connections_opened' <<<"$out")" 0 "without it: all opened before the clock starts"

# -r 2000 reached over 1 s, then held for 1 s: the first quarter second
# gets about 1/16 of a full one (t^2), the last ones the full 500.
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 4 -r 2000 --ramp 1s -d 2 -i 250ms --json 2>"$T/err")
is "$?" 0 "--ramp 1s: exit 0"
is "$(jq -r '.rate_target_met' <<<"$out")" true "the ramp's schedule was kept"
q=$(jq -r '[.intervals[].requests] | map(tostring) | join(" ")' <<<"$out")
set -- $q
ok $(( $1 < 100 && $2 > $1 && $3 > $2 && $4 > $3 && $6 >= 450 && $6 <= 550 ? 0 : 1 )) \
    "requests per 250 ms rise, then hold at about 500 ($q)"
tot=$(jq -r '.requests' <<<"$out")
ok $(( tot >= 2800 && tot <= 3200 ? 0 : 1 )) "about 3000 in all: half a second's worth lost to the ramp ($tot)"

done_testing
