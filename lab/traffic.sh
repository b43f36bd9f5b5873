#!/bin/bash
# Watching the traffic (the lab, section 2: lab/assignment.md): two clients
# on two hosts.
#
# We build a small network out of Linux network namespaces (each one a
# "host" with its own interfaces, addresses, ports and connection table):
#
#     host1 10.77.0.2 ---\
#                         br0 10.77.0.1  server (TCPechod 8007, daytime 8013)
#     host2 10.77.0.3 ---/
#
# joined by veth pairs (virtual cables) to a bridge in the server's
# namespace.  tcpdump captures the server's ports while a client on each host
# talks to TCPechod; host1 connects first and stays connected while host2
# does its whole exchange, then host1 finishes.
#
# Look for:
#  - two three-way handshakes, SYN, SYN-ACK, ACK, from two different
#    addresses, each from an ephemeral port its host's kernel chose;
#  - the data and its echo (PSH): each connection is told apart by its four
#    numbers (client address and port, server address and port);
#  - the close: FIN from one side, ACK, FIN from the other, ACK;
#  - TIME_WAIT: the side that closes first (sends the first FIN) keeps the
#    connection in TIME_WAIT for 60 s, seen with `ss -tan` in that host.
#    TCPecho half-closes first, so the client hosts hold it; with daytime
#    the server speaks and closes first, so the server holds it.
# Needs root (namespaces), iproute2 and tcpdump; skipped otherwise.
. "$(dirname "$0")/lib.sh"
need "$BIN/TCPechod" "$BIN/TCPecho" "$BIN/concurd"
explain

[ "$(id -u)" = 0 ] || skip_scenario "needs root to create network namespaces"
command -v ip >/dev/null || skip_scenario "ip (iproute2) is not installed"
command -v tcpdump >/dev/null || skip_scenario "tcpdump is not installed (Debian: apt install tcpdump)"

SRV=concurd-lab-$$-srv H1=concurd-lab-$$-host1 H2=concurd-lab-$$-host2
S=10.77.0.1 A1=10.77.0.2 A2=10.77.0.3
for ns in $SRV $H1 $H2; do
	ip netns add "$ns" 2>"$W/netns.err" ||
		skip_scenario "cannot create network namespaces: $(cat "$W/netns.err")"
	at_exit "ip netns del $ns 2>/dev/null"
done
# on NS COMMAND...: run a command in a namespace.  (Background processes
# are started with `ip netns exec` itself, so that $! is their own pid.)
on() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
net() {
	set -e
	ip -n $SRV link set lo up
	ip -n $SRV link add br0 type bridge
	ip -n $SRV addr add $S/24 dev br0
	ip -n $SRV link set br0 up
	local i ns
	for i in 1 2; do
		eval ns=\$H$i
		ip -n "$ns" link set lo up
		ip -n $SRV link add host$i type veth peer name eth0 netns "$ns"
		ip -n $SRV link set host$i master br0 up
		ip -n "$ns" addr add 10.77.0.$((i + 1))/24 dev eth0
		ip -n "$ns" link set eth0 up
	done
}
( net ) 2>"$W/net.err" || skip_scenario "cannot build the network: $(cat "$W/net.err")"
say "namespaces $SRV, $H1, $H2:"
show_as "ip -n $SRV -br addr" ip -n "$SRV" -br addr

# The capture: tcpdump in the server's namespace, on the bridge.
ip netns exec "$SRV" tcpdump -i br0 -nn -U --immediate-mode -Z root -w "$W/cap.pcap" 'tcp port 8007 or tcp port 8013' \
	2>"$W/tcpdump.err" &
DUMP=$!; track "$DUMP"
wait_for 10 grep -q 'listening on' "$W/tcpdump.err" ||
	skip_scenario "tcpdump cannot capture here: $(cat "$W/tcpdump.err")"

log=$W/log
: >"$log"
ip netns exec "$SRV" "$BIN/TCPechod" -v 8007 2>"$log" & SERVER_PID=$!; track "$SERVER_PID"
ip netns exec "$SRV" "$BIN/concurd" -m fork -s daytime -p 8013 2>"$W/log-daytime" & DAYTIME=$!; track "$DAYTIME"
wait_for 10 grep -q 'listening' "$log" && wait_for 10 grep -q 'listening' "$W/log-daytime" ||
	{ observe 1 "the servers start in $SRV"; finish; }

part "The exchange: host1 connects, host2 comes and goes, host1 leaves"
mkfifo "$W/in1"
ip netns exec "$H1" "$BIN/TCPecho" $S 8007 <"$W/in1" >"$W/out1" 2>&1 & C1=$!; track "$C1"
exec {in1}>"$W/in1"
echo "hello from host1" >&"$in1"
wait_for 5 grep -q 'hello from host1' "$W/out1"
out2=$(echo "hello from host2" | on "$H2" timeout 10 "$BIN/TCPecho" $S 8007 2>&1)
exec {in1}>&-
wait_gone "$C1" 10
expect_eq "$(cat "$W/out1")" "hello from host1" "host1's TCPecho got its echo"
expect_eq "$out2" "hello from host2" "host2's TCPecho got its echo"
# daytime: the server speaks first and closes first.
day=$(on "$H1" timeout 10 bash -c "exec 3<>/dev/tcp/$S/8013 && cat <&3")
sleep 0.5	# the last ACKs
kill -TERM "$DUMP"	# (a background job ignores SIGINT, tcpdump's usual stop)
expect "tcpdump stops and reports its capture" wait_gone "$DUMP" 5
shown "$(grep packets "$W/tcpdump.err")"

# tcpdump's lines, options cut, each followed by what it means.
annotate() {
	awk -v s=$S -v a1=$A1 -v a2=$A2 '
	function who(ip) { return ip == s ? "server" : ip == a1 ? "host1" : ip == a2 ? "host2" : ip }
	{
		d = $5; sub(/:$/, "", d)
		split($3, src, "."); split(d, dst, ".")
		sip = src[1] "." src[2] "." src[3] "." src[4]
		dip = dst[1] "." dst[2] "." dst[3] "." dst[4]
		from = who(sip); to = who(dip)
		match($0, /Flags \[[^]]*\]/); fl = substr($0, RSTART + 7, RLENGTH - 8)
		len = $NF + 0
		c = sip < dip ? sip src[5] dip dst[5] : dip dst[5] sip src[5]	# the connection
		if (fl == "S") note = "SYN: " from " (port " src[5] ") asks to connect      [handshake 1/3]"
		else if (fl == "S.") note = "SYN-ACK: " from " accepts                        [handshake 2/3]"
		else if (fl ~ /F/) {
			note = "FIN: " from " closes its direction" (len ? ", with " len " bytes" : "")
			nfin[c]++
		}
		else if (fl ~ /R/) note = "RST: " from " resets the connection"
		else if (len > 0) note = "data: " len " bytes, " from " -> " to
		else if (!(sip dip src[5] dst[5] in acked) && from != "server") {
			note = "ACK: connection established                [handshake 3/3]"
			acked[sip dip src[5] dst[5]] = 1
		} else if (nfin[c] == 2) note = "ACK of the second FIN: connection closed"
		else note = "ACK"
		line = $0; sub(/, options \[[^]]*\]/, "", line)
		printf "%s\n          ^ %s\n", line, note
	}'
}
cap=$(tcpdump -r "$W/cap.pcap" -nn -ttttt 2>/dev/null)
shown "$(tcpdump -r "$W/cap.pcap" -nn -ttttt 'tcp port 8007' 2>/dev/null | annotate)"

for h in 1 2; do
	eval a=\$A$h
	port=$(grep -oE " $a\.[0-9]+ > $S\.8007: Flags \[S\]" <<<"$cap" | head -n1 | sed "s/ $a\.\([0-9]*\) .*/\1/")
	eval port$h=\$port
	c="$a\.$port > $S\.8007: Flags" r="$S\.8007 > $a\.$port: Flags"
	expect "host$h ($a) sends SYN from ephemeral port ${port:-?}" test -n "$port"
	expect "host$h: the server answers SYN-ACK" grep -qE "$r \[S\.\]" <<<"$cap"
	expect "host$h: and the ACK completes the handshake" grep -qE "$c \[\.\], ack 1," <<<"$cap"
	expect "host$h: data from the client" grep -qE "$c \[P\.\].* length [1-9]" <<<"$cap"
	expect "host$h: its echo from the server" grep -qE "$r \[P\.\].* length [1-9]" <<<"$cap"
	expect "host$h: FIN from the client" grep -qE "$c \[F" <<<"$cap"
	expect "host$h: FIN from the server" grep -qE "$r \[F" <<<"$cap"
done
expect "two different client addresses, two ephemeral ports: $A1:${port1:-?}, $A2:${port2:-?}" \
	test -n "${port1:-}" -a -n "${port2:-}"

part "Who is left in TIME_WAIT"
tw() { on "$1" ss -Htan state time-wait "( $2 )"; }
for ns in $H1 $H2 $SRV; do
	show_as "ip netns exec ${ns#concurd-lab-$$-} ss -tan state time-wait" on "$ns" ss -tan state time-wait
done
expect "echo: host1 closed first (TCPecho half-closes), host1 holds TIME_WAIT" \
	test -n "$(tw "$H1" "dport = :8007")"
expect "echo: host2 closed first too, host2 holds TIME_WAIT" test -n "$(tw "$H2" "dport = :8007")"
expect "echo: the server, which closed second, holds none" test -z "$(tw "$SRV" "sport = :8007")"
say "daytime from host1: $day"
shown "$(tcpdump -r "$W/cap.pcap" -nn -ttttt 'tcp port 8013' 2>/dev/null | annotate | grep -B1 'FIN')"
expect "daytime: the server spoke and closed first" grep -qE "$S\.8013 > $A1\.[0-9]+: Flags \[F" <<<"$cap"
expect "daytime: so the server holds TIME_WAIT" test -n "$(tw "$SRV" "sport = :8013")"
expect "daytime: and host1 none" test -z "$(tw "$H1" "dport = :8013")"

finish
