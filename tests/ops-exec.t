#!/bin/bash
# ops-exec: the exec service runs a program per connection with the socket
# as its standard input and output, in the process models (iterative, fork,
# prefork*) only: /bin/cat echoes; tcpserver's environment variables arrive
# with the right values; a failing program's exit status (or signal) is
# logged with the connection id; exec is refused (exit 64) in the thread
# and event models and without a program.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"

ENVPROG='echo "PROTO=$PROTO TCPREMOTEIP=$TCPREMOTEIP TCPREMOTEPORT=$TCPREMOTEPORT TCPLOCALIP=$TCPLOCALIP TCPLOCALPORT=$TCPLOCALPORT"; exit 3'

for m in fork iterative prefork prefork-mutex prefork-fdpass; do
	if ! start_server "$T/log" "$BIN/concurd" -m "$m" -s exec -p 0 \
	    -b 127.0.0.1 -- /bin/cat; then
		fail "$m -s exec -- /bin/cat: server starts"; continue
	fi
	is "$("$CL" talk 127.0.0.1 "$PORT" -d $'hello exec\n')" "hello exec" \
		"$m -s exec -- /bin/cat: echoes"
	is "$("$CL" talk 127.0.0.1 "$PORT" -d $'twice\n')" "twice" \
		"$m -s exec -- /bin/cat: a second connection gets its own cat"
	stop_server
	is "$SERVER_STATUS" 0 "$m -s exec: stops with 0"
	like "$(grep summary: "$T/log")" ' connections=2 ' "$m -s exec: the summary counts 2 connections"

	if ! start_server "$T/log" "$BIN/concurd" -m "$m" -s exec -p 0 \
	    -b 127.0.0.1 -- sh -c "$ENVPROG"; then
		fail "$m -s exec -- sh: server starts"; continue
	fi
	rm -f "$T/local"
	out=$("$CL" talk 127.0.0.1 "$PORT" -L "$T/local")
	read -r _ lport <"$T/local"
	is "$out" "PROTO=TCP TCPREMOTEIP=127.0.0.1 TCPREMOTEPORT=$lport TCPLOCALIP=127.0.0.1 TCPLOCALPORT=$PORT" \
		"$m -s exec: PROTO, TCPREMOTEIP/PORT (our address), TCPLOCALIP/PORT (the server's) arrive"
	check "$m -s exec: the program's exit status 3 is logged with the connection id" \
		wait_for 5 grep -Eq '^concurd: conn [0-9]+: sh exited with status 3$' "$T/log"
	stop_server
done

# A dual-stack listener: an IPv4 client is named in IPv4, an IPv6 one in IPv6.
if start_server "$T/log" "$BIN/concurd" -m fork -s exec -p 0 -- \
    sh -c 'echo "$TCPREMOTEIP $TCPLOCALIP"'; then
	is "$("$CL" talk 127.0.0.1 "$PORT")" "127.0.0.1 127.0.0.1" \
		"dual-stack: an IPv4 client gets TCPREMOTEIP=127.0.0.1, not a mapped address"
	is "$("$CL" talk ::1 "$PORT" 2>/dev/null)" "::1 ::1" \
		"dual-stack: an IPv6 client gets TCPREMOTEIP=::1"
	stop_server
else
	fail "dual-stack exec server starts"
fi

# A program killed by a signal, and one that does not exist.
if start_server "$T/log" "$BIN/concurd" -m fork -s exec -p 0 -b 127.0.0.1 -- \
    sh -c 'kill -9 $$'; then
	"$CL" talk 127.0.0.1 "$PORT" -w 3000 >/dev/null 2>&1
	check "a program killed by SIGKILL: 'killed by signal 9' is logged" \
		wait_for 5 grep -Eq 'conn [0-9]+: sh killed by signal 9' "$T/log"
	stop_server
else
	fail "exec server (kill -9) starts"
fi
if start_server "$T/log" "$BIN/concurd" -m fork -s exec -p 0 -b 127.0.0.1 -- \
    /no/such/program; then
	out=$("$CL" talk 127.0.0.1 "$PORT" -d x -w 3000 2>/dev/null); st=$?
	is "$out:$([ $st = 0 ] || [ $st = 3 ]; echo $?)" ":0" \
		"a missing program: the client is closed at once, nothing sent"
	check "a missing program: the log names it and says why" \
		wait_for 5 grep -q 'exec /no/such/program: No such file or directory' "$T/log"
	check "a missing program: status 127 is logged" \
		wait_for 5 grep -Eq 'conn [0-9]+: /no/such/program exited with status 127' "$T/log"
	kill -0 "$SERVER_PID" 2>/dev/null
	ok $? "a missing program: the server goes on"
	stop_server
else
	fail "exec server (missing program) starts"
fi

# Where exec is refused: not a process model, or no program.
for m in $("$BIN/concurd" --list=threads | sed -n 's/^model //p'); do
	out=$(timeout 10 "$BIN/concurd" -m "$m" -s exec -p 0 -- /bin/cat 2>&1); st=$?
	is "$st" 64 "-m $m -s exec: exit 64"
	like "$out" "process models.*not in $m" "-m $m -s exec: the message says why"
done
out=$(timeout 10 "$BIN/concurd" -m fork -s exec -p 0 2>&1); st=$?
is "$st" 64 "-s exec without a program: exit 64"
like "$out" 'needs a program' "-s exec without a program: the message says so"
out=$(timeout 10 "$BIN/concurd" -m fork -s exec -p 0 -- 2>&1); st=$?
is "$st" 64 "-s exec -- (nothing after): exit 64"
out=$(timeout 10 "$BIN/concurd" -m fork -s exec -- /bin/cat 2>&1); st=$?
is "$st" 64 "-s exec without -p: exit 64 (no well-known port)"
out=$(timeout 10 "$BIN/concurd" -m fork -s echo -p 0 -- /bin/cat 2>&1); st=$?
is "$st" 64 "a program with -s echo: exit 64"

# A program that ignores SIGTERM does not outlive the server: the worker
# waiting for it is killed after the stop's 5 s, and the program dies with
# it (PR_SET_PDEATHSIG). 
start_server "$T/orphan.log" "$BIN/concurd" -m fork -s exec -p 0 -b 127.0.0.1 \
	-- sh -c 'trap "" TERM; exec sleep 60' ||
	fail "orphan: server starts"
exec {ofd}<>/dev/tcp/127.0.0.1/"$PORT"
wait_for 5 pgrep -f "^sleep 60\$" >/dev/null
prog=$(pgrep -f "^sleep 60\$" | while read -r p; do
	[ "$(ps -o ppid= -p "$(ps -o ppid= -p "$p" | tr -d ' ')" | tr -d ' ')" = "$SERVER_PID" ] && echo "$p"; done | head -n1)
ok $([ -n "$prog" ]; echo $?) "orphan: the program runs under a worker"
stop_server
is "$SERVER_STATUS" 0 "orphan: the server stops (exit 0)"
check "orphan: the program that ignored SIGTERM is gone too" wait_gone "${prog:-0}" 3
[ -n "$prog" ] && kill -KILL "$prog" 2>/dev/null
exec {ofd}>&-

done_testing
