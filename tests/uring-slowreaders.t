#!/bin/bash
# uring-slowreaders: peers that never read cannot pin the receive buffers
# a ring shares between its connections.
#
# One ring, whose pool has 128 buffers; 200 peers send 3000-byte messages
# one at a time and never read, so the server is stuck on a small send from
# a pool buffer for each of them.  The unsent rest must move to the
# connection's own buffer and the pool buffer go back: 8 other clients are
# then still echoed.  (With the send left waiting on the pool buffer, the
# pool runs dry and they are not: checked.)
#
# Input a peer sends while its reply is pending is held in the
# connection's own buffer; a multishot receive ends after 64 KiB, so no
# peer makes the server hold more than that, input and unsent output
# together, however much it pushed.  (Without that limit a peer here
# made it hold 79-102 KiB here, in three runs of four: checked.)
#
# The test runs in a network namespace of its own, whose TCP send buffers
# are capped at 16 KiB (net.ipv4.tcp_wmem): on the host's loopback the
# kernel grows a socket's send buffer to 4 MiB, and each peer would have to
# push that much before the server's send even waits.
if [ -z "${CONCURD_IN_NETNS:-}" ]; then
	if ! command -v unshare >/dev/null || ! command -v ip >/dev/null ||
	    ! unshare -n true 2>/dev/null; then
		echo "1..0 # SKIP no network namespace here (needs root, unshare and ip)"
		exit 0
	fi
	CONCURD_IN_NETNS=1 exec unshare -n "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

CONCURD=$BIN/concurd
CONFORM=$HELP/conform
[ -x "$CONCURD" ] || skip_all "bin/concurd is not built"
[ -x "$CONFORM" ] || skip_all "build/tests/conform is not built (make tools)"
ip link set lo up || skip_all "cannot bring up lo in the namespace"
echo "4096 16384 16384" >/proc/sys/net/ipv4/tcp_wmem ||
	skip_all "cannot set net.ipv4.tcp_wmem in the namespace"

LOG=$T/server.log
start_server "$LOG" "$CONCURD" -m uring -s echo -p 0 -b 127.0.0.1 -w 1 -v ||
{
	wait "$SERVER_PID" 2>/dev/null
	[ $? = 69 ] && skip_all "uring unavailable: $(tail -n 1 "$LOG")"
	echo "1..1"; echo "not ok 1 - uring starts"; cat "$LOG" >&2
	exit 1
}
summary_field() { sed -n "s/.*summary:.* $1=\([^ ]*\).*/\1/p" "$LOG" | tail -n 1; }

mkfifo "$T/slow.in"
"$CONFORM" hold 127.0.0.1 "$PORT" --idle 0 --busy 200 --msg 3000 \
    <"$T/slow.in" >"$T/slow.out" 2>&1 &
HOLD_PID=$!
track "$HOLD_PID"
exec 7>"$T/slow.in"
wait_for 20 grep -q ready "$T/slow.out"
ok $? "200 peers that never read are stuck mid-transfer"
out=$("$CONFORM" echo-many 127.0.0.1 "$PORT" --clients 8 --messages 4 \
    --timeout 10 2>&1)
rc=$?
ok $rc "others are still served: the pool is not pinned by slow readers"
[ $rc = 0 ] || diag "$out"
rss=$(awk '/^VmRSS/ {print $2}' /proc/"$SERVER_PID"/status)
[ "${rss:-999999}" -lt 65536 ]
ok $? "server RSS ${rss} KiB < 64 MiB"
stop_server
exec 7>&-
wait "$HOLD_PID"
rc=$?
ok $rc "every stuck connection is closed by the server at stop"
[ $rc = 0 ] || diag "$(cat "$T/slow.out")"
is "$SERVER_STATUS" 0 "exit 0 on SIGTERM"
held=$(( $(summary_field bytes_in) - $(summary_field bytes_out) ))
[ "$held" -ge 0 ] && [ "$held" -le $((200 * 65536)) ]
ok $? "$held bytes read but not sent back in all"
# Per connection, from -v's "closed, N bytes in, M out".
nclosed=$(grep -c "closed, [0-9]* bytes in" "$LOG")
most=$(sed -n 's/.*closed, \([0-9]*\) bytes in, \([0-9]*\) out.*/\1 \2/p' "$LOG" |
    awk '{ d = $1 - $2; if (d > m) m = d } END { print m + 0 }')
if grep -q "multishot receive at a byte limit\|byte limit on a multishot" "$LOG"; then
	skip "this kernel has no byte limit on a multishot receive ($most)"
else
	[ "$nclosed" -ge 208 ] && [ "$most" -le 65536 ]
	ok $? "no peer made the server hold more than 64 KiB: $most at most, $nclosed connections"
fi

done_testing
