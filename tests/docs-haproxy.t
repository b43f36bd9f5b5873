#!/usr/bin/env bash
# docs-haproxy.t: docs/operations.md's scale-out recipe, for real.
#
# HAProxy (Debian's haproxy) runs in the foreground with
# contrib/haproxy/haproxy.cfg, copied into the test's directory and pointed
# by its environment variables at three concurd on loopback, with fast
# health checks (inter 200ms fall 2 rise 1).  Checks that the connections
# are spread over all three, and that once one concurd is stopped and the
# health check has marked it down, no new connection fails.
#
# Client connections are told from health checks by their size: a client
# sends "via-haproxy\n" (12 bytes), the check "concurd-health-check\n"
# (21), and each concurd logs every close with the bytes it received (-v).
#
# The PROXY protocol: HAProxy sends a v2 header (send-proxy-v2) and the
# concurd run with --proxy-protocol --per-ip 2.  A client connecting from
# 127.0.0.5 (HAProxy itself connects from 127.0.0.1) is logged as
# 127.0.0.5; six connections of it held through HAProxy (two per concurd,
# leastconn) leave a seventh refused by --per-ip, while 127.0.0.6 is still
# served: the limit sees the client, not HAProxy.  The health checks (v2
# LOCAL) keep every concurd up.
. "$(dirname "$0")/lib.sh"

# Debian installs haproxy in /usr/sbin, which a user's PATH does not have.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
command -v haproxy >/dev/null || skip_all "haproxy is not installed (contrib/debian-deps.sh --tests)"
plan 19

# free_port: a TCP port nothing listens on now (haproxy's bind is retried
# below if someone takes it meanwhile).
free_port() {
	local p i
	# Below the ephemeral range: a client's local port there blocks bind().
	local lo
	lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	lo=${lo:-32768}
	for ((i = 0; i < 50; i++)); do
		p=$((lo - 12000 + RANDOM % 12000))
		[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	return 1
}

declare -a CPID CPORT
for i in 1 2 3; do
	start_server "$T/concurd$i.log" "$BIN/concurd" -m epoll -w 1 -b 127.0.0.1 -p 0 -v \
		--proxy-protocol --per-ip 2 || {
		fail "concurd $i starts"; exit 1; }
	CPID[$i]=$SERVER_PID CPORT[$i]=$PORT
done
pass "three concurd listening on ${CPORT[1]}, ${CPORT[2]}, ${CPORT[3]}"

cp "$TOP/contrib/haproxy/haproxy.cfg" "$T/haproxy.cfg"
HPID=
for attempt in 1 2 3; do
	LB_PORT=$(free_port) && STATS_PORT=$(free_port) || break
	CONCURD1=127.0.0.1:${CPORT[1]} CONCURD2=127.0.0.1:${CPORT[2]} \
	CONCURD3=127.0.0.1:${CPORT[3]} LB_BIND=127.0.0.1:$LB_PORT \
	LB_STATS=ipv4@127.0.0.1:$STATS_PORT LB_LOG=stdout LB_MAXCONN=1000 \
	CHECK_INTER=200ms CHECK_FALL=2 CHECK_RISE=1 \
		haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	HPID=$!
	track "$HPID"
	wait_for 5 eval '[ -n "$(ss -Htln "sport = :$LB_PORT")" ] || ! kill -0 $HPID 2>/dev/null'
	kill -0 "$HPID" 2>/dev/null && [ -n "$(ss -Htln "sport = :$LB_PORT")" ] && break
	diag "haproxy attempt $attempt:" "$(tail -n 5 "$T/haproxy.log")"
	kill -TERM "$HPID" 2>/dev/null; wait_gone "$HPID" 3; HPID=
done
if [ -z "$HPID" ]; then
	fail "haproxy starts with contrib/haproxy/haproxy.cfg" "$(cat "$T/haproxy.log")"
	exit 1
fi
pass "haproxy -db -f haproxy.cfg listens on $LB_PORT (stats on $STATS_PORT)"

# stat: the admin socket's `show stat` CSV (field 18 is the status).
stat() {
	local out
	exec 7<>"/dev/tcp/127.0.0.1/$STATS_PORT" || return 1
	printf 'show stat\n' >&7
	out=$(timeout 2 cat <&7)
	exec 7<&- 7>&-
	printf '%s\n' "$out"
}
status_of() { stat | awk -F, -v s="$1" '$1 == "concurd" && $2 == s { print $18 }'; }
all_up() { [ "$(status_of concurd1)$(status_of concurd2)$(status_of concurd3)" = UPUPUP ]; }
wait_for 10 all_up
is "$(status_of concurd1) $(status_of concurd2) $(status_of concurd3)" "UP UP UP" \
	"the health checks (send a line, expect it back) mark all three up"

# through N: N sequential echo sessions through haproxy; prints how many
# came back exact.
through() {
	local n=$1 i good=0 out
	for ((i = 0; i < n; i++)); do
		out=$(printf 'via-haproxy\n' | timeout 10 "$BIN/TCPecho" -t 2 -T 5 127.0.0.1 "$LB_PORT" 2>>"$T/clients.err") &&
			[ "$out" = via-haproxy ] && good=$((good + 1))
	done
	echo "$good"
}
# clients_of I: client sessions concurd I has closed (12 bytes in).
clients_of() { grep -c 'closed, 12 bytes in, 12 out' "$T/concurd$1.log"; }

is "$(through 30)" 30 "30 sessions through haproxy: every one echoed exactly"
wait_for 5 eval '[ $(( $(clients_of 1) + $(clients_of 2) + $(clients_of 3) )) -ge 30 ]'
n1=$(clients_of 1) n2=$(clients_of 2) n3=$(clients_of 3)
diag "sessions per concurd: $n1 $n2 $n3"
check "every concurd served some of them ($n1, $n2, $n3)" \
	test "$n1" -gt 0 -a "$n2" -gt 0 -a "$n3" -gt 0
is "$((n1 + n2 + n3))" 30 "and together exactly the 30"
check "the health checks reached every concurd too" \
	grep -q 'closed, 21 bytes in, 21 out' "$T/concurd1.log" "$T/concurd2.log" "$T/concurd3.log"

# The PROXY header: the client's address reaches concurd.
CL=$HELP/ops_client
out=$("$CL" talk 127.0.0.1 "$LB_PORT" -f 127.0.0.5 -d $'from five\n' 2>&1)
is "$out" "from five" "a client from 127.0.0.5 through haproxy is echoed"
wait_for 5 eval 'grep -q "from 127\.0\.0\.5 port" "$T"/concurd?.log'
like "$(cat "$T"/concurd?.log)" "conn [0-9]+ from 127\.0\.0\.5 port [0-9]+: open \(.*via 127\.0\.0\.1 port [0-9]+\)" \
	"concurd logs the client (127.0.0.5), via haproxy (127.0.0.1)"
like "$(cat "$T"/concurd?.log)" "from 127\.0\.0\.1 port [0-9]+: open \(.*PROXY v2 LOCAL\)" \
	"haproxy's health checks come with a v2 LOCAL header"
# --per-ip 2 on each of three: six held from 127.0.0.5, the seventh refused.
coproc HOLD { "$CL" conns 127.0.0.1 "$LB_PORT" 6 -f 127.0.0.5 -w 3000 -H; }
track "$HOLD_PID"
read -r -t 10 held <&"${HOLD[0]}"
like "$held" "^connected=6 failed=0 echo=6 " "six connections from 127.0.0.5 through haproxy, held ($held)"
out=$("$CL" conns 127.0.0.1 "$LB_PORT" 1 -f 127.0.0.5 -w 2000 2>/dev/null)
like "$out" "echo=0 eof=1 |echo=0 eof=0 reset=1 " "a seventh from 127.0.0.5: refused by concurd's --per-ip ($out)"
out=$("$CL" conns 127.0.0.1 "$LB_PORT" 1 -f 127.0.0.6 -w 2000 2>/dev/null)
like "$out" "echo=1 " "one from 127.0.0.6 meanwhile: served ($out)"
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null
like "$(cat "$T"/concurd?.log)" "from 127\.0\.0\.5 port [0-9]+ refused: over --per-ip \(via 127\.0\.0\.1 port" \
	"the refusal is logged with the client and haproxy"

# Stop concurd2 the way an operator would: SIGTERM, it stops listening.
SERVER_PID=${CPID[2]}
stop_server
is "$SERVER_STATUS" 0 "concurd2 stops on SIGTERM, exit 0"
like "$(cat "$T/concurd2.log")" 'summary: .*connections=[1-9]' "its summary line counts its connections"

wait_for 10 eval '[ "$(status_of concurd2)" = DOWN ]'
like "$(status_of concurd2)" '^DOWN' "haproxy's health check marks it down"

before1=$(clients_of 1) before3=$(clients_of 3)
is "$(through 30)" 30 "30 more sessions after it is down: none fails"
wait_for 5 eval '[ $(( $(clients_of 1) + $(clients_of 3) - before1 - before3 )) -ge 30 ]'
is "$(( $(clients_of 1) - before1 + $(clients_of 3) - before3 ))" 30 \
	"the remaining two served all of them"
[ -s "$T/clients.err" ] && diag "client errors:" "$(head -n 5 "$T/clients.err")"
done_testing
