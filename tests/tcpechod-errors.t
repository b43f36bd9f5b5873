#!/bin/bash
# TCPechod's bad input: each gets a clear message and its documented exit
# code.  Each run is bounded by timeout(1), whose 124 would fail the exact
# status check: a server that kept running would not go unnoticed.
. "$(dirname "$0")/lib.sh"

run() {	# expected-status regex description -- args...
	local want=$1 re=$2 what=$3 out st; shift 4
	out=$(timeout 10 "$BIN/TCPechod" "$@" 2>&1); st=$?
	is "$st" "$want" "$what: exit $want"
	like "$out" "$re" "$what: says why"
}

run 64 "invalid port '99999'" "port 99999" -- 99999
run 64 "invalid port 'no-such-service'" "unknown service name" -- no-such-service
run 64 'too many arguments' "two ports" -- 8007 8008
run 64 'usage: TCPechod' "unknown option" -- -x
run 64 'sigpipe=sometimes: expected handle, ignore or default' "bad --sigpipe" -- --sigpipe=sometimes 0

start_server "$T/log" "$BIN/TCPechod" 0 || { fail "server starts"; done_testing; exit; }
run 69 "port $PORT is already in use" "port in use" -- "$PORT"
stop_server

# A privileged port as an ordinary user (as nobody when we are root).
asuser=()
[ "$(id -u)" = 0 ] && asuser=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
out=$(timeout 10 "${asuser[@]}" "$BIN/TCPechod" 7 2>&1); st=$?
if [ "$st" = 126 ] || [ "$st" = 127 ] || [ "$st" = 124 ]; then
	skip "cannot run TCPechod as an unprivileged user here"
	skip "cannot run TCPechod as an unprivileged user here"
else
	is "$st" 77 "privileged port as a user: exit 77"
	like "$out" 'no permission to use port 7.*try a port like 8007' \
		"privileged port: says so and suggests 8007"
fi

done_testing
