#!/bin/bash
# A bad network, in network namespaces of the test's own: a client
# namespace and a server namespace, joined by veth.  Each direction loses
# 5% of the packets, duplicates 1%, sends 5% at once ahead of the others
# (netem's reorder) and holds the rest 50 ms +- 20 ms (which reorders too);
# for a while mid-transfer the link drops to 64 kbit/s.  With the kernel's
# netem qdisc where it has one; else with build/tests/net_impair, a user
# space stand-in in a third namespace between the two (it needs ethtool, to
# turn the veths' offloads off).
#
#   1. Every TCP model echoes REL_BADNET_BYTES (default 4M; make badnet:
#      64M) byte-exact, all at once, one connection each (rel_soak), while
#      the link drops to 64 kbit/s for REL_BADNET_SLOW_SECS (5; 20).
#   2. concurbench -u, open loop, 2,000 datagrams against concurd --udp:
#      sent = answered + lost (every datagram settled), and the counts are
#      what the network did -- exactly, with net_impair, whose log says
#      which datagram and which answer went through, in which order; within
#      the statistics of the rates given, with netem.
#   3. On a clean 64 kbit/s link, a chargen client for REL_BADNET_IDLE_SECS
#      (8) under --idle-timeout 2: the connection is slow but moving, and
#      the server does not time it out (stats: timeouts=0), for every model in
#      REL_BADNET_IDLE_MODELS (default: one per driver; make badnet: all).
#   4. The file service sends REL_BADNET_FILE_BYTES (4M; make badnet:
#      256M) byte-exact to an HTTP client (curl) and a plain one at once,
#      under each model of REL_BADNET_FILE_MODELS (one per driver; make
#      badnet: all), while the link drops to 64 kbit/s as in 1.
# REL_BADNET_PARTS (default "1 2 3 4") runs some of them.
. "$(dirname "$0")/rel.sh"

[ "$(id -u)" = 0 ] || skip_all "network namespaces need root"
command -v ip >/dev/null || skip_all "no ip(8) (iproute2)"
for h in rel_soak net_impair; do
	[ -x "$HELP/$h" ] || skip_all "$HELP/$h is not built (make tools)"
done
CB=$BIN/concurbench
command -v jq >/dev/null || skip_all "jq is not installed"
command -v curl >/dev/null || skip_all "curl is not installed"

BYTES=${REL_BADNET_BYTES:-4M}
SLOW_SECS=${REL_BADNET_SLOW_SECS:-5}
IDLE_SECS=${REL_BADNET_IDLE_SECS:-8}
P=bn$$
NC=${P}c NS=${P}s NM=${P}m
SRV=10.18.0.2 CLI=10.18.0.1
BAD=(5 1 5 50 20)	# loss %, duplicate %, reorder %, delay ms, jitter ms

netns_cleanup() {
	ip netns del "$NC" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NM" 2>/dev/null
}
trap '_cleanup; netns_cleanup' EXIT
ip netns add "$NC" && ip netns add "$NS" || skip_all "cannot make network namespaces"
for n in "$NC" "$NS"; do ip -n "$n" link set lo up; done

# The kernel's netem, on a veth pair between the two; or the stand-in in a
# third namespace, bridging the inner ends of two veth pairs.
if ip link add "${P}c0" netns "$NC" type veth peer name "${P}s0" netns "$NS" &&
    ip netns exec "$NC" tc qdisc add dev "${P}c0" root netem delay 1ms 2>/dev/null; then
	BACKEND=netem
	ip netns exec "$NC" tc qdisc del dev "${P}c0" root
	LINKS=("$NC ${P}c0" "$NS ${P}s0")
else
	command -v ethtool >/dev/null ||
		skip_all "no netem qdisc in this kernel, and no ethtool for net_impair (turning offloads off)"
	BACKEND=net_impair
	ip -n "$NC" link del "${P}c0" 2>/dev/null
	ip netns add "$NM" || skip_all "cannot make network namespaces"
	ip link add "${P}c0" netns "$NC" type veth peer name "${P}c1" netns "$NM" &&
	    ip link add "${P}s0" netns "$NS" type veth peer name "${P}s1" netns "$NM" ||
		skip_all "cannot make veth pairs"
	LINKS=("$NC ${P}c0" "$NS ${P}s0" "$NM ${P}c1" "$NM ${P}s1")
fi
for l in "${LINKS[@]}"; do
	set -- $l
	# Segments of the MTU, checksums in software: what a real link
	# carries, and what net_impair can forward.
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off sg off >/dev/null 2>&1
	ip -n "$1" link set "$2" up
done
ip -n "$NC" addr add "$CLI/24" dev "${P}c0"
ip -n "$NS" addr add "$SRV/24" dev "${P}s0"
diag "impairment: $BACKEND"

IMP_PID=
# impair [--log FILE] LOSS DUP REORDER DELAY JITTER [RATE_KBIT LIMIT]
impair() {
	local log=() q
	if [ "$1" = --log ]; then log=(--log "$2"); shift 2; fi
	local loss=$1 dup=$2 ro=$3 delay=$4 jit=$5 rate=${6:-0} limit=${7:-1000}
	if [ "$BACKEND" = netem ]; then
		q=(limit "$limit" delay "${delay}ms" "${jit}ms" loss "$loss%"
		    duplicate "$dup%")
		[ "$ro" != 0 ] && q+=(reorder "$ro%")
		[ "$rate" != 0 ] && q+=(rate "${rate}kbit")
		ip netns exec "$NC" tc qdisc replace dev "${P}c0" root netem "${q[@]}" &&
		    ip netns exec "$NS" tc qdisc replace dev "${P}s0" root netem "${q[@]}"
		NETEM=("${q[@]}")
		return
	fi
	unimpair
	ip netns exec "$NM" "$HELP/net_impair" "${P}c1" "${P}s1" --loss "$loss" \
	    --dup "$dup" --reorder "$ro" --delay "$delay" --jitter "$jit" \
	    --rate "$rate" --slow 64 --limit "$limit" "${log[@]}" >"$T/imp.out" 2>&1 &
	IMP_PID=$!
	track "$IMP_PID"
	wait_for 5 grep -q '^net_impair:' "$T/imp.out"
}
# The stand-in's counts (on stdout when it ends).
unimpair() {
	[ -n "$IMP_PID" ] || return 0
	kill -TERM "$IMP_PID" 2>/dev/null
	wait "$IMP_PID" 2>/dev/null
	IMP_PID=
	sed 's/^/# net_impair: /' "$T/imp.out" >&2
}
# The link drops to 64 kbit/s, and comes back.
slow() {
	if [ "$BACKEND" = net_impair ]; then
		kill -USR1 "$IMP_PID"
	else
		ip netns exec "$NC" tc qdisc change dev "${P}c0" root netem "${NETEM[@]}" rate 64kbit
		ip netns exec "$NS" tc qdisc change dev "${P}s0" root netem "${NETEM[@]}" rate 64kbit
	fi
}
fast() {
	if [ "$BACKEND" = net_impair ]; then
		kill -USR2 "$IMP_PID"
	else
		ip netns exec "$NC" tc qdisc replace dev "${P}c0" root netem "${NETEM[@]}"
		ip netns exec "$NS" tc qdisc replace dev "${P}s0" root netem "${NETEM[@]}"
	fi
}

# Mid-transfer: 5 s in, the link drops to 64 kbit/s for SLOW_SECS.
drop_link() {
	sleep 5
	slow
	diag "the link is at 64 kbit/s for $SLOW_SECS s"
	sleep "$SLOW_SECS"
	fast
}

REL_WRAP=(ip netns exec "$NS")
tcp_models=$(rel_models)

part() { [[ " ${REL_BADNET_PARTS:-1 2 3 4} " == *" $1 "* ]]; }

# --- 1. every TCP model, REL_BADNET_BYTES echoed byte-exact -------------
part 1 && {
impair "${BAD[@]}" 0 1000
declare -A spid slog sport cpid
for m in $tcp_models; do
	rel_serve "$m" -m "$m" -s echo -b "$SRV" || continue
	spid[$m]=$SERVER_PID slog[$m]=$LOG sport[$m]=$PORT
	ip netns exec "$NC" "$HELP/rel_soak" "$SRV" "$PORT" --bytes "$BYTES" \
	    --conns 1 --timeout 300 >"$T/soak.$m" 2>&1 &
	cpid[$m]=$!
	track "${cpid[$m]}"
done
drop_link
for m in "${!cpid[@]}"; do
	# rel_soak gives up on its own after 300 s without a byte.
	wait "${cpid[$m]}"
	st=$?
	if [ "$st" = 0 ]; then
		pass "$m: $BYTES echoed byte-exact through the bad network"
	else
		fail "$m: $BYTES echoed byte-exact through the bad network" "$(tail -n 3 "$T/soak.$m")"
	fi
	sed -n "s/^rel_soak: \([0-9].*\)/# $m: \1/p" "$T/soak.$m" >&2
done
for m in "${!spid[@]}"; do
	SERVER_PID=${spid[$m]} LOG=${slog[$m]}
	rel_finish "$m"
done
unimpair
}

# --- 2. concurbench -u counts what the network did ----------------------
part 2 && {
if [ "$BACKEND" = net_impair ]; then
	impair --log "$T/imp.log" "${BAD[@]}"
else
	impair "${BAD[@]}"
fi
if rel_serve "udp" --udp -s echo -b "$SRV"; then
	out=$(ip netns exec "$NC" "$CB" -u "$SRV" "$PORT" -r 400 -n 2000 -c 4 --json 2>"$T/cb.err")
	st=$?
	rel_finish "udp"
	unimpair
	diag "concurbench: $(jq -c .datagrams <<<"$out")"
	# 75: some datagram was lost, as it should be here.
	ok $(( st == 0 || st == 75 ? 0 : 1 )) "udp: concurbench ran (exit $st: $(tail -n 1 "$T/cb.err"))"
	read -r sent ans lost dupl reord late <<<"$(jq -r '.datagrams | [.sent, .answered, .lost, .duplicate, .reordered, .late] | @tsv' <<<"$out")"
	is "$sent" 2000 "udp: 2000 datagrams sent"
	is "$((ans + lost + late))" "$sent" "udp: every datagram settled (answered $ans + lost $lost + late $late)"
	if [ "$BACKEND" = net_impair ]; then
		# What came back, in the order it came: first answers, repeats,
		# and first answers older than the newest one so far, per socket.
		read -r x_ans x_dup x_reord <<<"$(awk '$1 == "rev" {
			k = $2 " " $3
			if (k in seen) { dup++; next }
			seen[k] = 1; ans++
			if ($2 in max && $3 + 0 < max[$2]) reord++
			else max[$2] = $3 + 0
		} END { print ans + 0, dup + 0, reord + 0 }' "$T/imp.log")"
		is "$ans" "$x_ans" "udp: answered is what came back (net_impair's log)"
		is "$lost" "$((sent - x_ans))" "udp: lost is what never came back"
		is "$reord" "$x_reord" "udp: reordered is what came back behind a newer one"
		# A repeat that comes after the last answer is not waited for.
		ok $(( dupl <= x_dup && x_dup - dupl <= 2 ? 0 : 1 )) \
		    "udp: duplicates are the repeats that came back ($dupl counted, $x_dup in the log)"
	else
		# Each way loses 5% and repeats 1%: about 9.75% of the
		# datagrams get no answer, about 1.9% a second one.
		ok $(( lost * 1000 >= sent * 50 && lost * 1000 <= sent * 150 ? 0 : 1 )) \
		    "udp: lost $lost of $sent (netem: about 9.75%)"
		ok $(( dupl * 1000 >= sent * 5 && dupl * 1000 <= sent * 40 ? 0 : 1 )) \
		    "udp: $dupl duplicates of $sent (netem: about 1.9%)"
		ok $(( reord > 0 ? 0 : 1 )) "udp: $reord reordered (netem reorders 5%, and its jitter)"
	fi
else
	unimpair
fi
}

# --- 3. --idle-timeout on a slow link: slow but moving is not idle ------
part 3 && {
impair 0 0 0 0 0 64 20
idle_models=${REL_BADNET_IDLE_MODELS:-"epoll uring fork thread"}
for m in $idle_models; do
	rel_serve "$m, 64 kbit/s" -m "$m" -s chargen -b "$SRV" --idle-timeout 2 || continue
	# The client reads for IDLE_SECS and is killed; the server must not
	# have timed it out meanwhile.  (Its stats line: the iterative
	# model writes one only between connections.)
	ip netns exec "$NC" timeout "$IDLE_SECS" bash -c "exec cat </dev/tcp/$SRV/$PORT" >"$T/chargen.$m" 2>/dev/null
	for ((i = 0; i < 20; i++)); do	# until the server has seen it end
		n=$(grep -c ' stats: ' "$LOG")
		kill -USR1 "$SERVER_PID"
		wait_for 5 test "$(grep -c ' stats: ' "$LOG")" -gt "$n"
		stats=$(grep ' stats: ' "$LOG" | tail -n 1)
		[[ $stats == *" served=1 "* ]] && break
		sleep 0.5
	done
	like "$stats" ' served=1 .* timeouts=0 ' \
	    "$m: a chargen client on a 64 kbit/s link is not cut by --idle-timeout 2 ($(wc -c <"$T/chargen.$m") bytes in $IDLE_SECS s)"
	rel_finish "$m, 64 kbit/s"
done
unimpair
}

# --- 4. the file service sends REL_BADNET_FILE_BYTES byte-exact ---------
part 4 && {
FBYTES=${REL_BADNET_FILE_BYTES:-4M}
file_models=${REL_BADNET_FILE_MODELS:-"epoll uring fork prethread"}
mkdir -p "$T/www"
head -c "$FBYTES" /dev/urandom >"$T/www/big.bin"
chmod -R a+rX "$T/www"
impair "${BAD[@]}" 0 1000
declare -A fpid flog fcl
for m in $file_models; do
	rel_serve "$m, file" -m "$m" -s file --root "$T/www" -b "$SRV" || continue
	fpid[$m]=$SERVER_PID flog[$m]=$LOG
	# Both framings at once: HTTP (curl) and the plain one (a path and
	# CRLF, the file back until the server closes).  curl gives up after
	# 300 s without a byte.
	ip netns exec "$NC" curl -sS --speed-time 300 --speed-limit 1 \
	    -o "$T/http.$m" "http://$SRV:$PORT/big.bin" 2>"$T/http.$m.err" &
	fcl[$m.http]=$!
	ip netns exec "$NC" timeout 3600 bash -c \
	    'exec 3<>"/dev/tcp/$0/$1" && printf "big.bin\r\n" >&3 && exec cat <&3' \
	    "$SRV" "$PORT" >"$T/plain.$m" 2>"$T/plain.$m.err" &
	fcl[$m.plain]=$!
	track "${fcl[$m.http]}"; track "${fcl[$m.plain]}"
done
drop_link
for k in "${!fcl[@]}"; do
	m=${k%.*} how=${k##*.}
	wait "${fcl[$k]}"
	st=$?
	if [ "$st" = 0 ] && cmp -s "$T/www/big.bin" "$T/$how.$m"; then
		pass "$m: the file service sends $FBYTES byte-exact through the bad network ($how)"
	else
		fail "$m: the file service sends $FBYTES byte-exact through the bad network ($how)" \
		    "client exit $st, $(wc -c <"$T/$how.$m") bytes: $(tail -n 2 "$T/$how.$m.err")"
	fi
done
for m in "${!fpid[@]}"; do
	SERVER_PID=${fpid[$m]} LOG=${flog[$m]}
	rel_finish "$m, file"
done
unimpair
}

done_testing
