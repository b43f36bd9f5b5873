#!/bin/bash
# Several hosts, one result: three generators, each in a network namespace
# of its own standing in for a host, started by GNU parallel with one
# --start-at, load one concurd in a fourth namespace; --merge makes one
# report of their histogram files.  The server's log shows each
# generator's connections coming from its own address, the runs began
# within a few milliseconds of the time given, and the merge adds them.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
command -v jq >/dev/null || skip_all "jq is not installed"
command -v parallel >/dev/null || skip_all "GNU parallel is not installed (Debian: parallel)"
[ "$(id -u)" = 0 ] || skip_all "needs root to create network namespaces"
command -v ip >/dev/null || skip_all "ip (iproute2) is not installed"

NS=cbmh-$$
SRV=$NS-srv
NSS=("$SRV" "$NS-g1" "$NS-g2" "$NS-g3")
cleanup_ns() { local n; for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done; }
trap 'cleanup_ns; _cleanup' EXIT
for n in "${NSS[@]}"; do
	ip netns add "$n" 2>"$T/ns.err" || skip_all "cannot create network namespaces: $(cat "$T/ns.err")"
done
net() {
	set -e
	ip -n "$SRV" link set lo up
	ip -n "$SRV" link add br0 type bridge
	ip -n "$SRV" addr add 10.79.0.1/24 dev br0
	ip -n "$SRV" link set br0 up
	local i
	for i in 1 2 3; do
		ip -n "$NS-g$i" link set lo up
		ip -n "$SRV" link add gen$i type veth peer name eth0 netns "$NS-g$i"
		ip -n "$SRV" link set gen$i master br0 up
		ip -n "$NS-g$i" addr add 10.79.0.$((i + 1))/24 dev eth0
		ip -n "$NS-g$i" link set eth0 up
	done
}
( net ) 2>"$T/net.err" || skip_all "cannot build the network: $(cat "$T/net.err")"

start_server "$T/srv.log" ip netns exec "$SRV" "$BIN/concurd" -p 0 -b 10.79.0.1 -v || exit 1

# Two seconds from now, to the nanosecond.
start=$(date +%s.%N | awk '{ printf "%.3f", $1 + 2 }')
timeout 60 parallel -j3 "ip netns exec $NS-g{} $CB 10.79.0.1 $PORT -c 4 -t 1 -d 1 --start-at $start --histogram $T/gen{}.hist --json > $T/gen{}.json 2> $T/gen{}.err" ::: 1 2 3
is "$?" 0 "parallel: all three generators exit 0"
for i in 1 2 3; do
	is "$(jq -r '[.requests > 0, .errors.total] | @tsv' "$T/gen$i.json")" "true	0" "generator $i: requests, no errors"
	awk -v s="$(jq -r .start_unix_s "$T/gen$i.json")" -v want="$start" 'BEGIN { d = s - want; exit !(d >= 0 && d < 0.1) }'
	ok $? "generator $i began measuring at the --start-at time ($(jq -r .start_unix_s "$T/gen$i.json") for $start)"
done

# Each generator's connections came from its own namespace's address.
from=$(sed -n 's/.* conn [0-9]* from \([0-9.]*\) port .*: open.*/\1/p' "$T/srv.log" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
is "$from" "10.79.0.2=5 10.79.0.3=5 10.79.0.4=5 " "the server saw 4 connections (and a probe) from each generator's address"

"$CB" --merge "$T"/gen1.hist "$T"/gen2.hist "$T"/gen3.hist --json >"$T/m.json" 2>"$T/m.err"
is "$?" 0 "--merge of the three: exit 0"
is "$(jq -r .runs "$T/m.json")" 3 "merged: 3 runs"
is "$(jq -r .requests "$T/m.json")" "$(jq -s 'map(.requests) | add' "$T"/gen?.json)" "merged: requests are the sum"
is "$(jq -r .parameters.connections "$T/m.json")" 12 "merged: 12 connections"
awk -v s="$(jq -r .start_spread_s "$T/m.json")" 'BEGIN { exit !(s < 0.1) }'
ok $? "merged: started within 0.1 s of each other ($(jq -r .start_spread_s "$T/m.json") s)"
is "$(jq -r '.intervals[0].requests' "$T/m.json")" "$(jq -s 'map(.intervals[0].requests) | add' "$T"/gen?.json)" "merged: the first second of all three"
out=$("$CB" --merge "$T"/gen1.hist "$T"/gen2.hist "$T"/gen3.hist 2>&1)
like "$out" 'merged from 3 runs, started within 0\.0[0-9]+ s' "text: merged, and how close the starts were"

done_testing
