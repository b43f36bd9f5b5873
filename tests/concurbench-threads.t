#!/usr/bin/env bash
# concurbench-threads.t: without -t, a thread per CPU, halved when every
# target is on this machine (the server needs the other half); -t wins;
# never more threads than connections.  A target on another host is
# stood in for by an address in a network namespace of the test's own.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
[ -x "$CB" ] || skip_all "$CB not built"
NCPU=$(getconf _NPROCESSORS_ONLN)
threads() { sed -n 's/.*connections [0-9]*, threads \([0-9]*\),.*/\1/p'; }

start_server "$T/s.log" "$BIN/concurd" -p 0 -b 127.0.0.1 || exit 1
is "$("$CB" 127.0.0.1 "$PORT" -d 0.2 2>&1 | threads)" $(( NCPU > 1 ? (NCPU + 1) / 2 : 1 )) \
    "loopback, no -t: half the $NCPU CPUs"
is "$("$CB" 127.0.0.1 "$PORT" -d 0.2 -t 3 2>&1 | threads)" 3 "-t 3: 3"
is "$("$CB" 127.0.0.1 "$PORT" -d 0.2 -c 1 -t 4 2>&1 | threads)" 1 \
    "never more threads than connections"
stop_concurd

NS=cbth-$$
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "$NS" 2>/dev/null; then
	trap 'ip netns del "$NS" 2>/dev/null; _cleanup' EXIT
	ip -n "$NS" link set lo up
	ip -n "$NS" addr add 10.80.0.1/32 dev lo
	start_server "$T/r.log" ip netns exec "$NS" "$BIN/concurd" -p 0 -b 10.80.0.1 || exit 1
	is "$(ip netns exec "$NS" "$CB" 10.80.0.1 "$PORT" -d 0.2 -c 64 2>&1 | threads)" "$NCPU" \
	    "another host (an address that is not loopback), no -t: a thread per CPU"
	stop_concurd
else
	skip "no network namespace here: the remote case is not checked"
fi

done_testing
