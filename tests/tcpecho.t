#!/bin/bash
# TCPecho: 16 MiB of random bytes come back byte-identical over IPv4 and
# IPv6 loopback; lines typed one by one; the I/O timeout fires only while
# echoes are due; bad input gives its documented exit code.
. "$(dirname "$0")/lib.sh"

head -c 16M /dev/urandom >"$T/in" || { fail "random input"; done_testing; exit; }
start_server "$T/log" "$BIN/TCPechod" 0 || { fail "server starts"; done_testing; exit; }

for host in 127.0.0.1 ::1 localhost; do
	timeout 60 "$BIN/TCPecho" "$host" "$PORT" <"$T/in" >"$T/out" 2>"$T/err"
	is "$?" 0 "16 MiB via $host: exit 0"
	check "16 MiB via $host: byte-identical" cmp -s "$T/in" "$T/out"
done

# Line by line, as typed: each line is echoed before the next is written.
mkfifo "$T/fifo"
timeout 20 "$BIN/TCPecho" -T 5 127.0.0.1 "$PORT" <"$T/fifo" >"$T/lines" &
cpid=$!; track "$cpid"
exec {w}>"$T/fifo"
ok=0
for l in one two three; do
	echo "$l" >&"$w"
	wait_for 5 grep -qx "$l" "$T/lines" || ok=1
done
sleep 1.5	# idle longer than -T 1 would allow, nothing outstanding
echo four >&"$w"
exec {w}>&-
wait "$cpid"; st=$?
is "$ok" 0 "interactive: each line echoed before the next"
is "$st" 0 "interactive: exit 0 at end of input"
is "$(tr '\n' ' ' <"$T/lines")" "one two three four " "interactive: all lines back"
stop_server

# A server that never echoes: -T gives up, with exit 75.
start_server "$T/sink" "$HELP/lab_sink" || { fail "sink starts"; done_testing; exit; }
out=$(echo hello | timeout 10 "$BIN/TCPecho" -T 1 127.0.0.1 "$PORT" 2>&1); st=$?
is "$st" 75 "no echo within -T 1: exit 75"
like "$out" 'timed out after 1 s waiting for the server \(6 bytes not echoed yet\)' \
	"no echo: says how many bytes are outstanding"
# Idle with nothing sent: no timeout, however long.
(sleep 2.5) | timeout 10 "$BIN/TCPecho" -T 1 127.0.0.1 "$PORT" >/dev/null 2>"$T/idle" &
ipid=$!; track "$ipid"
sleep 2
check "idle with nothing outstanding: still connected after 2 s (-T 1)" kill -0 "$ipid"
wait "$ipid"; st=$?
is "$st" 75 "after the half-close the server's close is due: exit 75"
stop_server

# Bad input.
err() {	# status regex what -- args
	local want=$1 re=$2 what=$3 out st; shift 4
	out=$(timeout 20 "$BIN/TCPecho" "$@" </dev/null 2>&1); st=$?
	is "$st" "$want" "$what: exit $want"
	like "$out" "$re" "$what: says why"
}
err 68 "unknown host 'no-such-host.invalid'" "unknown host" -- no-such-host.invalid 7
err 64 "invalid port '99999'" "invalid port" -- localhost 99999
err 64 "invalid port '0'" "port 0" -- localhost 0
err 64 'too many arguments' "too many arguments" -- localhost 7 8
err 64 '-t x: expected seconds' "bad -t" -- -t x localhost 7
# A port nobody listens on: the one the sink had, now closed.
err 69 "connect to 127.0.0.1 port $PORT: connection refused" "refused" -- 127.0.0.1 "$PORT"

out=$("$BIN/TCPecho" --help); st=$?
is "$st" 0 "--help exits 0"
like "$out" '^usage: TCPecho .*\[host \[port\]\]' "--help prints the usage"
like "$("$BIN/TCPecho" --version)" '^TCPecho \(concurd\) [0-9]+\.' "--version"

done_testing
