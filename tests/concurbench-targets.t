#!/bin/bash
# Many addresses: --source spreads the connections over local addresses
# (ranges and lists), several HOST:PORT targets each get their share, and
# an IPv6 target in brackets works.  The servers' own logs (concurd -v)
# say where each connection came from and how many each served.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/a.log" "$BIN/concurd" -p 0 -b 127.0.0.1 -v || exit 1
A=$PORT A_PID=$SERVER_PID
start_server "$T/b.log" "$BIN/concurd" -p 0 -b 127.0.0.1 -v || exit 1
B=$PORT B_PID=$SERVER_PID

# from LOG: the client addresses of the connections LOG saw, counted.
from() { sed -n 's/.* conn [0-9]* from \([0-9.]*\) port .*: open.*/\1/p' "$1" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '; }

out=$(timeout 30 "$CB" 127.0.0.1 "$A" -c 8 -n 400 --source 127.0.0.2-127.0.0.4,127.0.0.9 --json 2>"$T/err")
is "$?" 0 "--source 127.0.0.2-127.0.0.4,127.0.0.9: exit 0"
is "$(jq -r '.parameters.sources' <<<"$out")" 4 "JSON: 4 sources"
# 8 connections over 4 addresses, 2 each (and the probe from the first).
is "$(from "$T/a.log")" "127.0.0.2=3 127.0.0.3=2 127.0.0.4=2 127.0.0.9=2 " "the server saw 2 connections from each source"

: >"$T/a.log"
out=$(timeout 30 "$CB" 127.0.0.1:"$A" 127.0.0.1:"$B" -c 6 -n 300 --json 2>"$T/err")
is "$?" 0 "two HOST:PORT targets: exit 0"
is "$(jq -r '.targets | join(" ")' <<<"$out")" "127.0.0.1:$A 127.0.0.1:$B" "JSON: both targets"
is "$(jq -r '.requests' <<<"$out")" 300 "two targets: 300 requests"
na=$(grep -c ': open' "$T/a.log"); nb=$(grep -c ': open' "$T/b.log")
is "$na $nb" "4 4" "each target got 3 connections (and a probe)"
out=$("$CB" 127.0.0.1:"$A" 127.0.0.1:"$B" -c 2 -n 10 2>&1)
like "$out" "2 targets: 127.0.0.1:$A 127.0.0.1:$B" "text: the targets"

# Both at once: the pairs (source, target) take turns.
out=$(timeout 60 "$CB" -m connrate 127.0.0.1:"$A" 127.0.0.1:"$B" --source 127.0.0.5-127.0.0.6 -c 4 -n 200 --close reset --json 2>"$T/err")
is "$?" 0 "connrate, 2 sources x 2 targets: exit 0"
is "$(jq -r '.connections_opened' <<<"$out")" 200 "200 connections"

if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	start_server "$T/v6.log" "$BIN/concurd" -p 0 -b ::1 || exit 1
	out=$(timeout 30 "$CB" "[::1]:$PORT" -c 2 -n 50 --source ::1 --json 2>"$T/err")
	is "$?" 0 "[::1]:PORT with --source ::1: exit 0"
	is "$(jq -r '.requests' <<<"$out")" 50 "IPv6: 50 requests"
else
	skip "no IPv6 loopback"
	skip "no IPv6 loopback"
fi

# An IPv4 target with only IPv6 sources: said before anything runs.
out=$("$CB" 127.0.0.1 "$A" --source ::1 2>&1)
is "$?" 64 "IPv4 target, IPv6 sources: exit 64"
like "$out" '127.0.0.1 is IPv4 and no --source is' "... and says so"

done_testing
