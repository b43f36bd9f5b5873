#!/bin/bash
# TCPechod: the startup line, two clients served at once, a clean stop that
# takes the children along, --help and --version.
. "$(dirname "$0")/lib.sh"

# One echo round trip on an open descriptor: prints the line read back.
roundtrip() {	# FD TEXT
	printf '%s\n' "$2" >&"$1" || return 1
	local line
	IFS= read -r -t 5 line <&"$1" && printf '%s' "$line"
}

start_server "$T/log" "$BIN/TCPechod" -v 0 || { fail "server starts"; done_testing; exit; }
like "$(head -n1 "$T/log")" '^TCPechod: listening on :: port [0-9]+$' \
	"first line: listening on :: port N (dual stack)"

# The sequential server's problem is gone: an idle client does not block.
exec {idle}<>/dev/tcp/127.0.0.1/"$PORT"
is "$(roundtrip "$idle" first)" first "first client gets its echo"
out=$(echo second | timeout 10 "$BIN/TCPecho" 127.0.0.1 "$PORT")
is "$out" second "second client is served while the first stays connected"
is "$(roundtrip "$idle" again)" again "first client is still served"
n=$(children_of "$SERVER_PID" | count_lines)
is "$n" 1 "one child process for the one open connection"

# SIGTERM with a client connected: the child is stopped and reaped too.
kid=$(children_of "$SERVER_PID" | head -n1)
stop_server TERM
is "$SERVER_STATUS" 0 "SIGTERM: server exits 0"
check "SIGTERM: its child $kid is gone" wait_gone "$kid" 5
like "$(cat "$T/log")" "child $kid reaped: killed by signal 15" \
	"the server reaped its child before exiting"
exec {idle}>&-

out=$("$BIN/TCPechod" --help); st=$?
is "$st" 0 "--help exits 0"
like "$out" '^usage: TCPechod .*\[port\]' "--help prints the usage"
like "$out" 'no-reaper' "--help lists --no-reaper"
out=$("$BIN/TCPechod" --version); st=$?
is "$st" 0 "--version exits 0"
like "$out" '^TCPechod \(concurd\) [0-9]+\.[0-9]+' "--version prints the version"

done_testing
