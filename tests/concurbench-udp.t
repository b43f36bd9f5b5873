#!/bin/bash
# UDP: ping-pong and open loop against concurd's UDP echo, and sequence
# numbers that count loss, duplicates and reordering exactly, against
# bench_udpsrv, which drops, repeats, holds back or corrupts every K-th
# datagram.  (Its first datagram is concurbench's probe, so datagram i of
# the run is the server's i + 1.)
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
USRV=$HELP/bench_udpsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$USRV" ] || skip_all "build/tests/bench_udpsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/cd.log" "$BIN/concurd" --udp -s echo -p 0 -b 127.0.0.1 || exit 1
ECHO=$PORT

out=$(timeout 60 "$CB" -u 127.0.0.1 "$ECHO" -n 2000 -c 4 --json 2>"$T/err")
is "$?" 0 "ping-pong against concurd --udp -s echo: exit 0"
is "$(jq -r '[.protocol, .requests, .issued, .datagrams.sent, .datagrams.answered, .datagrams.lost, .errors.total] | @tsv' <<<"$out")" \
    "udp	2000	2000	2000	2000	0	0" "2000 datagrams sent and answered, none lost"
is "$(jq -r '.latency_us.count' <<<"$out")" 2000 "every answer timed"
is "$(jq -r '.bytes_sent == .bytes_received and .bytes_sent == 2000 * 64' <<<"$out")" true "bytes: 2000 x 64 each way"

out=$(timeout 60 "$CB" -u 127.0.0.1 "$ECHO" -r 2000 -d 1 -c 4 -i 250ms --json 2>"$T/err")
is "$?" 0 "open loop at 2000/s: exit 0"
ok $(( $(jq -r '.datagrams.sent' <<<"$out") >= 1900 ? 0 : 1 )) "open loop: about 2000 sent in 1 s ($(jq -r '.datagrams.sent' <<<"$out"))"
is "$(jq -r '.rate_target_met' <<<"$out")" true "open loop: the target was met"
is "$(jq -r '.intervals | length' <<<"$out")" 4 "open loop: four 250 ms intervals"

# Long enough for the loss sweeps (10 a second) to run among the sends:
# a datagram sent after the loop last read the clock is not old.
out=$(timeout 60 "$CB" -u 127.0.0.1 "$ECHO" -c 1 -t 1 -d 2 --json 2>"$T/err")
is "$?" 0 "2 s of ping-pong on one socket: exit 0"
is "$(jq -r '[.datagrams.lost, .datagrams.late] | @tsv' <<<"$out")" "0	0" "2 s of ping-pong: nothing lost, nothing late"

out=$("$CB" -u 127.0.0.1 "$ECHO" -n 300 -c 2 2>&1)
like "$out" 'datagrams +300 sent, 300 answered, 0 lost \(0\.000%\), 0 duplicate, 0 reordered, 0 late' "text: the datagrams line"

# udp MODE-ARGS -- CONCURBENCH-ARGS: a run against a fresh bench_udpsrv.
udp() {
	local sargs=() a
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	start_server "$T/u.log" "$USRV" "${sargs[@]}" || return 1
	out=$(timeout 60 "$CB" -u 127.0.0.1 "$PORT" --json "$@" 2>"$T/err")
	rc=$?
	stop_server
}

udp -l 10 -- -n 200 -c 4 --io-timeout 100ms
is "$rc" 75 "every 10th dropped: exit 75 (datagrams lost)"
is "$(jq -r '[.datagrams.sent, .datagrams.answered, .datagrams.lost, .datagrams.duplicate] | @tsv' <<<"$out")" "200	180	20	0" \
    "every 10th dropped: 20 of 200 lost, 180 answered"
is "$(jq -r '.latency_us.count' <<<"$out")" 180 "a lost datagram is not a latency"
like "$(cat "$T/err")" '20 datagrams lost' "loss is said on stderr"

udp -D 10 -- -n 195 -c 1
is "$rc" 0 "every 10th answered twice: exit 0 (nothing lost)"
is "$(jq -r '[.datagrams.answered, .datagrams.duplicate, .datagrams.lost] | @tsv' <<<"$out")" "195	19	0" \
    "every 10th answered twice: 19 duplicates, each datagram timed once"

udp -R 10 -- -n 195 -c 1 -r 1000
is "$rc" 0 "every 10th held back: exit 0"
is "$(jq -r '[.datagrams.answered, .datagrams.reordered, .datagrams.lost] | @tsv' <<<"$out")" "195	19	0" \
    "every 10th held back: 19 reordered, none lost"

udp -f 10 -- -n 100 -c 2
is "$rc" 65 "every 10th corrupted: exit 65"
is "$(jq -r '.errors.verify' <<<"$out")" 10 "10 verify errors"
like "$(cat "$T/err")" 'verify: socket [0-9]+, datagram [0-9]+, byte [0-9]+: expected 0x' "the first mismatch is described"

# Nobody there: the probe says so before any run.
stopped=$PORT
out=$(timeout 20 "$CB" -u 127.0.0.1 "$stopped" -n 5 2>&1 >/dev/null)
is "$?" 69 "no UDP server: exit 69"
like "$out" "UDP port $stopped: connection refused" "no UDP server: says so"

# Usage.
out=$("$CB" -u -m stream 127.0.0.1 "$ECHO" 2>&1); is "$?" 64 "-u with stream: exit 64"
like "$out" 'UDP runs ping-pong' "-u with stream: says what UDP runs"
out=$("$CB" -u -s 8 127.0.0.1 "$ECHO" 2>&1); is "$?" 64 "-u -s 8: exit 64"
like "$out" '16-byte header' "-u -s 8: says why"

done_testing
