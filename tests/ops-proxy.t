#!/usr/bin/env bash
# ops-proxy.t: --proxy-protocol, with a client that speaks as a load
# balancer would (tests/helpers/proxy_send: PROXY v1 text, v2 binary, v2
# LOCAL, TLVs, a byte at a time).  tests/docs-haproxy.t does it with the
# real HAProxy.
#
# In each kind of driver (readiness: epoll; completion: uring; blocking: a
# forked child and a thread):
#   - v1, v2 (IPv4 and IPv6), v2 with TLVs longer than the parser looks at,
#     v2 LOCAL: served, and the log names the client, via the balancer;
#     the header is not counted as the client's bytes;
#   - --per-ip and --allow see the header's client, not the balancer;
#   - no header, a malformed one, or one slower than --proxy-timeout:
#     refused, counted (proxy=), logged with why, and the slow one within
#     about the deadline;
#   - a server-first service (chargen) with data in the header's segment.
# Then: --proxy-from (a header only from the balancers), the exec
# service's TCPREMOTEIP, a unix socket behind a balancer, and the options
# it refuses.
. "$(dirname "$0")/lib.sh"

PS=$HELP/proxy_send
[ -x "$PS" ] || skip_all "$PS is not built (make tools)"

stat_of() {	# stat_of FIELD: from a fresh SIGUSR1 stats line
	local n
	n=$(grep -c 'stats:' "$LOG")
	kill -USR1 "$SERVER_PID"
	wait_for 5 eval '[ "$(grep -c "stats:" "$LOG")" -gt '"$n"' ]'
	grep 'stats:' "$LOG" | tail -n1 | sed -n "s/.*[ (]$1=\([0-9]*\).*/\1/p"
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }

for m in epoll uring fork prethread; do
	LOG=$T/$m.log
	if ! start_server "$LOG" "$BIN/concurd" -m "$m" -w 2 -b 127.0.0.1 -p 0 -v \
		--proxy-protocol --proxy-timeout 1 --per-ip 1 --allow 203.0.113.0/24 \
		--allow 2001:db8::/32 --allow 127.0.0.1; then
		wait "$SERVER_PID" 2>/dev/null
		if [ $? = 69 ]; then skip "$m: not available here"; continue; fi
		fail "$m: starts"; continue
	fi
	is "$("$PS" 127.0.0.1 "$PORT" -v 1 -m 'hello v1\n')" "hello v1" "$m: v1 header, then echo"
	is "$("$PS" 127.0.0.1 "$PORT" -v 2 -S 5001 -m 'hello v2\n')" "hello v2" "$m: v2 header, then echo"
	is "$("$PS" 127.0.0.1 "$PORT" -v 2 -s 2001:db8::7 -d 2001:db8::1 -S 5002 -m 'six\n')" six "$m: v2 IPv6"
	is "$("$PS" 127.0.0.1 "$PORT" -v 2 -T 600 -S 5003 -m 'after tlv\n')" "after tlv" \
		"$m: v2 with a 600-byte TLV: skipped, the data after it intact"
	is "$("$PS" 127.0.0.1 "$PORT" -v local -m 'check\n')" check "$m: v2 LOCAL (a health check): served"
	wait_for 5 eval '[ "$(grep -c ": closed, " "$LOG")" -ge 5 ]'
	like "$(cat "$LOG")" "conn [0-9]+ from 203\.0\.113\.7 port 5000: open \(fd [0-9]+, worker -?[0-9]+, pid [0-9]+, via 127\.0\.0\.1 port [0-9]+\)" \
		"$m: -v: the open line names the client, via the balancer"
	like "$(cat "$LOG")" "conn [0-9]+ from 203\.0\.113\.7 port 5000: closed, 9 bytes in, 9 out," \
		"$m: the close line counts the client's bytes, not the header's"
	like "$(cat "$LOG")" "conn [0-9]+ from 2001:db8::7 port 5002: open" "$m: an IPv6 client"
	like "$(cat "$LOG")" "conn [0-9]+ from 127\.0\.0\.1 port [0-9]+: open \(.*PROXY v2 LOCAL\)" \
		"$m: LOCAL keeps the connection's own address"

	# --per-ip 1 counts the header's client: a second connection of
	# 203.0.113.9 is refused while the first is open, another client is not.
	"$PS" 127.0.0.1 "$PORT" -s 203.0.113.9 -m 'held\n' -k -w 20000 >"$T/held" &
	held=$!
	wait_for 15 grep -q held "$T/held"
	is "$(cat "$T/held")" held "$m: a first connection of 203.0.113.9, held open"
	if ! grep -q held "$T/held"; then	# rare: say what the server saw
		diag "the server's log:" "$(tail -n 25 "$LOG")"
		diag "its sockets:" "$(ss -tanp 2>/dev/null | grep -F "pid=$SERVER_PID," | head -n 20)"
	fi
	"$PS" 127.0.0.1 "$PORT" -s 203.0.113.9 -m 'second\n' >"$T/second" 2>&1
	is "$(cat "$T/second")" "" "$m --per-ip 1: a second connection of the same client is refused"
	is "$("$PS" 127.0.0.1 "$PORT" -s 203.0.113.10 -m 'other\n')" other \
		"$m --per-ip 1: another client behind the same balancer is served"
	kill "$held" 2>/dev/null; wait "$held" 2>/dev/null
	is "$("$PS" 127.0.0.1 "$PORT" -s 198.51.100.1 -m 'denied\n' 2>&1)" "" \
		"$m --allow: a client outside the blocks is refused (the balancer's own address is allowed)"
	like "$(cat "$LOG")" "conn [0-9]+ from 198\.51\.100\.1 port 5000 refused: address not allowed \(via 127\.0\.0\.1 port" \
		"$m: the refusal names the client and the balancer"

	# Refusals: none, malformed, slow.
	is "$("$PS" 127.0.0.1 "$PORT" -v none -m 'no header\n' 2>/dev/null)" "" "$m: no header: nothing served"
	is "$("$PS" 127.0.0.1 "$PORT" -r 'PROXY TCP4 203.0.113.7 192.0.2.1 05000 7\r\n' -m 'x\n' 2>/dev/null)" "" \
		"$m: a malformed header (port with a leading zero): nothing served"
	t0=$(ms)
	out=$("$PS" 127.0.0.1 "$PORT" -b 150 -m 'slow\n' 2>/dev/null)
	dt=$(( $(ms) - t0 ))
	is "$out" "" "$m: a header a byte every 150 ms (--proxy-timeout 1): nothing served"
	check "$m: and the connection was ended at about the deadline (${dt} ms)" \
		test "$dt" -ge 900 -a "$dt" -lt 3500
	is "$("$PS" 127.0.0.1 "$PORT" -b 5 -S 5004 -m 'steady\n')" steady \
		"$m: a header a byte every 5 ms, within the deadline: served"
	is "$(stat_of proxy)" 3 "$m: the three refusals counted as proxy=3"
	log=$(cat "$LOG")
	like "$log" "refused: no PROXY header$" "$m: logged: no PROXY header"
	like "$log" "refused: PROXY v1: a port is not 0-65535" "$m: logged: what is wrong with the malformed one"
	like "$log" "refused: no complete PROXY header within 1 s$" "$m: logged: the deadline"
	stop_server
	is "$SERVER_STATUS" 0 "$m: stops with 0"
	like "$(grep summary: "$LOG")" "refused=5 " "$m: the summary counts every refusal (per-ip, acl, 3 proxy)"
done

# A server-first service with data in the header's segment.
for m in epoll fork; do
	LOG=$T/cg-$m.log
	start_server "$LOG" "$BIN/concurd" -m "$m" -s chargen -b 127.0.0.1 -p 0 --proxy-protocol ||
		{ fail "$m chargen: starts"; continue; }
	line=$("$PS" 127.0.0.1 "$PORT" -v 2 -m 'ignored\n' -k -w 300 | head -c 74 | head -n1 | tr -d '\r')
	is "$line" ' !"#$%&'"'"'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefg' \
		"$m chargen: its first line after a header that came with data"
	stop_server
done

# --proxy-from: a header only from the balancers' blocks.
LOG=$T/from.log
start_server "$LOG" "$BIN/concurd" -b 127.0.0.1 -p 0 -v --proxy-from 127.0.0.2 || fail "--proxy-from: starts"
is "$("$PS" 127.0.0.1 "$PORT" -f 127.0.0.2 -m 'via lb\n')" "via lb" "--proxy-from 127.0.0.2: a header from it is read"
is "$("$PS" 127.0.0.1 "$PORT" -f 127.0.0.3 -v none -m 'direct\n')" direct \
	"--proxy-from: a client elsewhere is served without one"
out=$("$PS" 127.0.0.1 "$PORT" -f 127.0.0.3 -v 1 -m 'x\n')
like "$out" '^PROXY TCP4 203\.0\.113\.7 ' "--proxy-from: a header from elsewhere is just data (echoed), not believed"
stop_server
like "$(cat "$LOG")" "from 203\.0\.113\.7 port 5000: open .*via 127\.0\.0\.2 port" "--proxy-from: the balancer's client is logged"
unlike "$(grep 'via 127.0.0.3' "$LOG")" . "--proxy-from: nothing is believed from 127.0.0.3"

# exec: the program sees the client and where it connected.
LOG=$T/exec.log
start_server "$LOG" "$BIN/concurd" -m fork -s exec -b 127.0.0.1 -p 0 --proxy-protocol -- \
	sh -c 'echo "$TCPREMOTEIP $TCPREMOTEPORT $TCPLOCALIP $TCPLOCALPORT"; cat' || fail "exec: starts"
is "$("$PS" 127.0.0.1 "$PORT" -v 2 -s 203.0.113.44 -S 4444 -d 192.0.2.8 -D 7007 -m 'data after\n')" \
	"203.0.113.44 4444 192.0.2.8 7007
data after" "exec: TCPREMOTEIP/PORT and TCPLOCALIP/PORT from the header; the data after it reaches the program"
stop_server

# A unix socket behind a balancer: --per-ip on the headers' clients.
LOG=$T/unix.log
"$BIN/concurd" -b "unix:$T/lb.sock" --proxy-protocol --per-ip 1 -v 2>"$LOG" &
SERVER_PID=$!; track "$SERVER_PID"
if wait_for 10 grep -q "listening on unix:" "$LOG"; then
	"$PS" "unix:$T/lb.sock" - -s 203.0.113.9 -m 'held\n' -k -w 20000 >"$T/uheld" &
	held=$!
	wait_for 15 grep -q held "$T/uheld"
	is "$("$PS" "unix:$T/lb.sock" - -s 203.0.113.9 -m 'second\n' 2>&1)" "" \
		"unix socket: --per-ip 1 refuses the header's client's second connection"
	is "$("$PS" "unix:$T/lb.sock" - -s 203.0.113.10 -m 'other\n')" other "unix socket: another client is served"
	kill "$held" 2>/dev/null; wait "$held" 2>/dev/null
	stop_server
else
	fail "unix socket with --proxy-protocol: starts" "$(cat "$LOG")"
fi

# --inetd: the connection inetd passed begins with the header too.
SP=$HELP/ops_socketpair
if [ -x "$SP" ]; then
	out=$("$SP" -d $'PROXY TCP4 203.0.113.77 192.0.2.1 7777 7\r\nvia inetd\n' -- \
		"$BIN/concurd" --inetd --proxy-protocol -s exec -- sh -c 'echo "$TCPREMOTEIP $TCPREMOTEPORT"; cat' 2>&1); st=$?
	is "$st:$out" "0:203.0.113.77 7777
via inetd" "--inetd --proxy-protocol: the program sees the header's client, then the data"
	out=$("$SP" -d $'no header\n' -- "$BIN/concurd" --inetd --proxy-protocol 2>&1); st=$?
	is "$st:$out" "0:" "--inetd --proxy-protocol without a header: nothing served"
else
	skip "$SP is not built"
fi

for o in "-u --proxy-protocol" "-b unix:$T/x.sock --proxy-from 10.0.0.1" "--proxy-from 10.0.0.999" \
	"--proxy-protocol --proxy-timeout 0" "-b unix:$T/x.sock --per-ip 2"; do
	# shellcheck disable=SC2086
	out=$("$BIN/concurd" $o 2>&1); st=$?
	is "$st" 64 "refused: $o"
done
done_testing
