#!/bin/bash
# SIGPIPE (the lab, section 6: lab/assignment.md): when does the handler run?
#
# A process that writes to a TCP connection the peer has reset gets SIGPIPE
# (signal 13) and the write fails with EPIPE.  What happens then depends on
# the signal's disposition in that process:
#   default   the process dies, killed by signal 13 (a shell says 141);
#   handled   a handler runs, then write() returns -1 with errno EPIPE;
#   ignored   no signal, write() returns -1 with errno EPIPE.
# TCPechod --sigpipe=handle|ignore|default chooses it for its children.
#
# The occasions we provoke:
#  1. by hand: kill -PIPE PID, found with ss -tnp (or netstat -putan);
#  2. a server writing to a client that reset the connection: lab_hostile
#     sends a burst without reading, half-closes, then resets while the
#     server's child is still writing the echo;
#  3. a client writing to a server that died.
# Look for: the handler's log line with the pid of the child that caught it;
# the child killed by signal 13 under the default disposition; EPIPE alone
# when ignored; the server surviving all of it; SigCgt/SigIgn in
# /proc/PID/status; a client's handler running, or the client dying.
. "$(dirname "$0")/lib.sh"
need "$BIN/TCPechod" "$BIN/TCPecho" "$HELP/lab_hostile"
explain

part "The signals: kill -l"
show kill -l
show kill -l PIPE
expect_eq "$(kill -l PIPE)" 13 "SIGPIPE is signal 13"

# The disposition of SIG in PID, read from the masks in /proc/PID/status.
disposition() {	# PID SIGNUM
	local cgt ign
	cgt=$(awk '/^SigCgt:/ {print $2}' /proc/"$1"/status 2>/dev/null)
	ign=$(awk '/^SigIgn:/ {print $2}' /proc/"$1"/status 2>/dev/null)
	[ -n "$cgt" ] || { echo gone; return; }
	if (( (16#$cgt >> ($2 - 1)) & 1 )); then echo caught
	elif (( (16#$ign >> ($2 - 1)) & 1 )); then echo ignored
	else echo default; fi
}
roundtrip() {	# FD TEXT: one echo on an open connection
	local line
	{ echo "$2" >&"$1"; } 2>/dev/null || return 1
	IFS= read -r -t 5 line <&"$1" && [ "$line" = "$2" ]
}
served() { [ "$(echo after | timeout 10 "$BIN/TCPecho" 127.0.0.1 "$PORT" 2>/dev/null)" = after ]; }

# lab_hostile must outrun the server's send buffer: more than tcp_wmem's max.
wmax=$(awk '{print $3}' /proc/sys/net/ipv4/tcp_wmem 2>/dev/null)
burst=$(( ${wmax:-4194304} + 131072 ))
# Up to 8 hostile clients until LOG matches REGEX: the RST only turns into
# EPIPE if our FIN got there first, which buffer autotuning decides.
provoke() {	# LOG REGEX: only lines logged from now on count
	local i _log=$1 _re=$2 _from
	_from=$(( $(wc -l <"$1") + 1 ))
	for ((i = 1; i <= 8; i++)); do
		timeout 20 "$HELP/lab_hostile" 127.0.0.1 "$PORT" "$burst" >>"$W/hostile" 2>&1
		if wait_for 2 eval 'tail -n +$_from "$_log" | grep -aqE "$_re"'; then
			say "(provoked on attempt $i)"; return 0
		fi
	done
	return 1
}

for mode in handle default ignore; do
	case $mode in
	handle)  want='caught';  hand='survives: the handler ran and returned'
		 reset='SIGPIPE caught by pid [0-9]+' ;;
	default) want='default'; hand='is killed by signal 13'
		 reset='killed by signal 13' ;;
	ignore)  want='ignored'; hand='survives: the signal is discarded'
		 reset='write: Broken pipe' ;;
	esac
	part "TCPechod -v --sigpipe=$mode"
	log=$W/log-$mode
	start_server "$log" "$BIN/TCPechod" -v --sigpipe="$mode" 0 ||
		{ observe 1 "$mode: server starts"; continue; }
	exec {fd}<>/dev/tcp/127.0.0.1/"$PORT"
	roundtrip "$fd" hello
	wait_for 5 eval '[ -n "$(children_of $SERVER_PID)" ]'
	kid=$(children_of "$SERVER_PID" | head -n1)
	say "server $SERVER_PID, a client connected, served by child ${kid:-?}:"
	show_as "ss -tnp state established '( sport = :$PORT )'" \
		ss -tnp state established "( sport = :$PORT )"
	show_as "grep -E 'Sig(Ign|Cgt)' /proc/$kid/status" grep -E 'Sig(Ign|Cgt)' /proc/"$kid"/status
	expect_eq "$(disposition "$kid" 13)" "$want" \
		"$mode: bit 13 of the child's masks says SIGPIPE is $want"

	say "1. By hand: kill -PIPE $kid"
	kill -PIPE "$kid"
	if [ "$mode" = default ]; then
		expect "$mode: kill -PIPE: the child $hand" wait_gone "$kid" 5
		wait_for 2 grep -aq "child $kid reaped" "$log"
		shown "$(grep -a "child $kid reaped" "$log")"
		expect "$mode: TCPechod logs its child killed by signal 13" \
			grep -aq "child $kid reaped: killed by signal 13" "$log"
	else
		sleep 0.2
		expect "$mode: kill -PIPE: the child $hand, and still echoes" roundtrip "$fd" "still here"
		[ "$mode" = handle ] && say "(A handler may not print: TCPechod's only counts; the count shows" \
			"in the log the next time a write of that child fails with EPIPE.)"
	fi
	exec {fd}>&-

	say "2. The server writes to a client that reset: lab_hostile, burst of $burst bytes"
	from=$(( $(wc -l <"$log") + 1 ))
	expect "$mode: writing to the reset connection: $reset" provoke "$log" "$reset"
	shown "$(tail -n +$from "$log" | grep -aE 'connection from|SIGPIPE|Broken pipe|signal 13' | tail -n 4)"
	case $mode in
	handle)
		catcher=$(grep -aoE 'SIGPIPE caught by pid [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+$')
		expect "handle: the pid that caught it, $catcher, is a child the server forked" \
			grep -aqE "child pid $catcher\$" "$log"
		expect "handle: ... not the server itself ($SERVER_PID)" [ "$catcher" != "$SERVER_PID" ] ;;
	ignore)
		expect "ignore: write failed with EPIPE, no handler ran" \
			eval '! grep -aq "SIGPIPE caught" "$log"' ;;
	default)
		hostile=$(tail -n +$from "$log" | grep -aoE 'child pid [0-9]+$' | tail -n1 | grep -oE '[0-9]+$')
		expect "default: the child killed is the one serving lab_hostile ($hostile)" \
			grep -aq "child $hostile reaped: killed by signal 13" "$log"
		expect "default: no handler ran either" eval '! grep -aq "SIGPIPE caught" "$log"' ;;
	esac
	expect "$mode: the server survives (the parent never writes to clients)" kill -0 "$SERVER_PID"
	expect "$mode: and serves the next client" served
	stop_server "$SERVER_PID"
done

part "3. A client writes to a server that died"
say "The client connects, gets an echo, then the process serving it is killed" \
    "(SIGKILL).  Its kernel closes the socket: FIN.  The client's next write" \
    "is answered with an RST; the write after that raises SIGPIPE."
start_server "$W/log-client" "$BIN/TCPechod" -v 0 || { observe 1 "server starts"; finish; }
# A bash client on /dev/tcp: bash's `echo` is a write(2) on the socket.
bash_client() {
	local fd line
	exec {fd}<>/dev/tcp/127.0.0.1/"$PORT" || return 2
	echo hello >&"$fd"; IFS= read -r -t 5 line <&"$fd"
	kid=$(children_of "$SERVER_PID" | head -n1)
	kill -KILL "$kid"; sleep 0.3
	echo "write 1" >&"$fd" && echo "client: write 1 succeeded (the RST comes back)"
	sleep 0.3
	echo "write 2" >&"$fd" || echo "client: write 2 failed: EPIPE (exit status $?)"
	echo "client: still alive after the writes"
}
say "a) a client with a handler:  trap 'echo SIGPIPE handler ran in pid \$BASHPID' PIPE"
out=$( (trap 'echo "client: SIGPIPE handler ran in pid $BASHPID"' PIPE; bash_client) 2>&1 ); st=$?
shown "$out"
like() { printf '%s\n' "$1" | grep -Eq -- "$2"; }
expect "client handler: ran in the client's pid" like "$out" 'SIGPIPE handler ran in pid [0-9]+'
expect "client handler: then the write failed with EPIPE and the client lived on" \
	eval 'like "$out" "write 2 failed: EPIPE" && like "$out" "still alive"'
say "b) the same client with the default disposition"
out=$( (bash_client) 2>&1 ); st=$?
shown "$out" "exit status $st = 128 + $((st - 128)): killed by signal $(kill -l $((st - 128)) 2>/dev/null)"
expect_eq "$st" 141 "client default: killed by SIGPIPE (status 141 = 128 + 13)"
expect "client default: it never got past the write" eval '! like "$out" "still alive"'
say "c) TCPecho ignores SIGPIPE: a broken connection is an error it reports."
mkfifo "$W/in"
"$BIN/TCPecho" 127.0.0.1 "$PORT" <"$W/in" >"$W/out" 2>"$W/err" & cpid=$!
track "$cpid"
exec {in}>"$W/in"
echo hello >&"$in"
wait_for 5 grep -q hello "$W/out"
kill -KILL "$(children_of "$SERVER_PID" | head -n1)" 2>/dev/null
wait_gone "$cpid" 5
wait "$cpid"; st=$?
exec {in}>&-
shown "$(cat "$W/err")" "exit status $st"
say "(TCPecho reads and writes in one poll loop: here it saw the server's FIN" \
    "before writing again; a write into the reset connection would have failed" \
    "with EPIPE, reported with the same exit status.)"
expect_eq "$st" 74 "TCPecho is not killed: it reports the broken connection and exits 74"
stop_server "$SERVER_PID"

finish
