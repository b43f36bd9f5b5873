#!/bin/bash
# Concurrent versus sequential servers (the lab, sections 3 and 4:
# lab/assignment.md).
#
# An iterative (sequential) server serves one client at a time: while the
# first client stays connected, a second client can connect (the kernel
# completes its handshake and queues it on the listening socket) but nothing
# it sends is read or echoed until the first client leaves.  TCPechod forks
# a child per connection, so every client is served at once.
#
# Look for:
#  - iterative: the second client's echo does not come while the first is
#    connected; `ss -tln` shows it waiting in the listen queue (Recv-Q 1)
#    and its server-side socket owned by no process, its bytes unread;
#  - fork: each client echoed at once, one child process per client, each
#    child holding one ESTAB socket, while the LISTEN socket belongs to the
#    parent alone (the children closed their copy, msock);
#  - the ports: the server's fixed port on one side, a different ephemeral
#    port (chosen by the client's kernel) on the other for each client.
. "$(dirname "$0")/lib.sh"
need "$BIN/TCPechod" "$BIN/TCPecho" "$BIN/concurd"
explain

# A client is TCPecho reading from a FIFO we write to: client NAME starts it.
declare -A CIN CPID
client() {
	mkfifo "$W/in-$1"
	(	# the new client must not hold the other clients' FIFOs open
		for f in "${CIN[@]}"; do exec {f}>&-; done
		exec "$BIN/TCPecho" 127.0.0.1 "$PORT" <"$W/in-$1" >"$W/out-$1" 2>"$W/err-$1"
	) &
	CPID[$1]=$!
	track "${CPID[$1]}"
	exec {fd}>"$W/in-$1"
	CIN[$1]=$fd
}
send() { echo "hello from $1" >&"${CIN[$1]}"; }	# send NAME
echoed() { grep -qx "hello from $1" "$W/out-$1"; }	# echoed NAME
hangup() { local fd=${CIN[$1]}; exec {fd}>&-; }		# end NAME's input
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; }

# The sockets on the server's port: both ends, with their processes.
sockets() { ss -tanp "( sport = :$PORT or dport = :$PORT )"; }
listen_queue() { ss -Htln "sport = :$PORT" | awk '{print $2}'; }
# Pids owning ESTABLISHED server-side sockets, one per socket.
estab_owners() {
	ss -Htnp state established "( sport = :$PORT )" |
		grep -o 'pid=[0-9]*' | cut -d= -f2
}
listen_owners() { ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u; }
netstat_too() {
	if command -v netstat >/dev/null; then
		show_as "netstat -tanp | grep ':$PORT '" \
			eval "netstat -tanp 2>/dev/null | grep ':$PORT '"
	fi
}

part "1. The iterative server: concurd -m iterative"
start_server "$W/log-it" "$BIN/concurd" -m iterative -s echo -p 0 -v ||
	{ observe 1 "iterative server starts"; finish; }
say "server pid $SERVER_PID on port $PORT"
client A; send A
expect "client A is echoed" wait_for 5 echoed A
client B; t0=$(now); send B
wait_for 1 echoed B
observe $((! $?)) "iterative: client B, connected, gets no echo within 1 s while A stays connected"
show_as "ss -tanp '( sport = :$PORT or dport = :$PORT )'" sockets
netstat_too
expect_eq "$(listen_queue)" 1 "iterative: B waits in the listen queue, not accepted (LISTEN Recv-Q 1)"
expect_eq "$(estab_owners | count)" 1 "iterative: only A's server-side socket belongs to the server"
say "Now A ends its input (Ctrl-D): the server is free for B."
hangup A
expect "iterative: once A has left, B is echoed" wait_for 5 echoed B
say "B waited $(since "$t0") s for its echo."
hangup B
wait_for 5 eval '! kill -0 ${CPID[A]} 2>/dev/null && ! kill -0 ${CPID[B]} 2>/dev/null'
say "The server's log:"
shown "$(sed 's/^[^ ]* //' "$W/log-it")"
say "That is the sequential server's problem: one slow or idle client holds up" \
    "everyone.  Its connection is made by the kernel, not by the server, so" \
    "connect() succeeds; only accept() decides when it is served."
stop_server "$SERVER_PID"

part "2. The concurrent server: TCPechod, a process per client"
start_server "$W/log-fork" "$BIN/TCPechod" -v 0 ||
	{ observe 1 "TCPechod starts"; finish; }
say "server pid $SERVER_PID on port $PORT"
all=1
for c in C D E; do
	client "$c"; t0=$(now); send "$c"
	if wait_for 2 echoed "$c"; then say "client $c echoed after $(since "$t0") s"
	else all=0; fi
done
observe $((! all)) "fork: each of 3 clients is echoed at once (within 2 s), the others still connected"
wait_for 5 eval '[ "$(estab_owners | count)" = 3 ]'
show_as "ss -tanp '( sport = :$PORT or dport = :$PORT )'" sockets
netstat_too
show_as "ps -o pid,ppid,stat,args --ppid $SERVER_PID -p $SERVER_PID" \
	ps -o pid,ppid,stat,args --ppid "$SERVER_PID" -p "$SERVER_PID"
owners=$(estab_owners | sort)
kids=$(children_of "$SERVER_PID" | sort)
expect_eq "$(echo "$owners" | count)" 3 "fork: 3 ESTAB server-side sockets, each owned by a process"
expect_eq "$(echo "$owners" | sort -u | count)" 3 "fork: 3 different processes own them, one per client"
expect_eq "$owners" "$kids" "fork: those processes are exactly the server's children"
expect_eq "$(listen_owners)" "$SERVER_PID" "fork: the LISTEN socket belongs to the parent ($SERVER_PID) alone"
cports=$(ss -Htn state established "( dport = :$PORT )" | awk '{n = split($3, a, ":"); print a[n]}' | sort -u)
expect_eq "$(echo "$cports" | count)" 3 "each client has its own ephemeral port: ${cports//$'\n'/ }"
for c in C D E; do hangup "$c"; done
expect "fork: the children end with their clients" wait_for 5 eval '[ -z "$(children_of $SERVER_PID)" ]'
say "The problem is gone: a process per client, so a client that waits only" \
    "holds up its own process; the parent is back in accept() at once."
stop_server "$SERVER_PID"
expect_eq "$STATUS" 0 "TCPechod stops cleanly on SIGTERM"

finish
