#!/bin/bash
# Zombies (the lab, section 5: lab/assignment.md): why TCPechod installs a
# SIGCHLD handler.
#
# When a child process ends, the kernel keeps a small record of it (its pid
# and exit status) until the parent collects it with wait().  Until then the
# child is a zombie: state Z in `ps x`, shown as <defunct>.  TCPechod's
# reaper is a SIGCHLD handler that calls waitpid(-1, &status, WNOHANG) in a
# loop, so every child is collected as soon as it ends.
#
# We run TCPechod twice, with the reaper and with --no-reaper, connect three
# clients to each, let them close, and look at the process table.
# Look for: <defunct> children of the server without the reaper, none with
# it; and the reaped children logged by TCPechod -v.
. "$(dirname "$0")/lib.sh"
need "$BIN/TCPechod"
explain

CLIENTS=3

clients() {	# three clients, one after another: echo a line, close
	local i fd line ok=0
	for ((i = 1; i <= CLIENTS; i++)); do
		exec {fd}<>/dev/tcp/127.0.0.1/"$PORT" || continue
		echo "hello $i" >&"$fd"
		IFS= read -r -t 5 line <&"$fd" && [ "$line" = "hello $i" ] && ok=$((ok + 1))
		exec {fd}>&-
	done
	[ "$ok" = "$CLIENTS" ]
}
nzombies() { zombies_of "$SERVER_PID" | count; }
nchildren() { children_of "$SERVER_PID" | count; }
# The lines of `ps x` for the server and its children.
ps_excerpt() {
	ps x -o pid,ppid,stat,args | awk -v s="$SERVER_PID" \
		'NR == 1 || $1 == s || $2 == s'
}

for mode in no-reaper reaper; do
	if [ "$mode" = reaper ]; then
		part "TCPechod with its reaper (the lab's server)"
		args=(-v 0)
	else
		part "TCPechod --no-reaper: no SIGCHLD handler"
		args=(-v --no-reaper 0)
	fi
	start_server "$W/log-$mode" "$BIN/TCPechod" "${args[@]}" || { observe 1 "$mode: server starts"; continue; }
	say "server pid $SERVER_PID, port $PORT; $CLIENTS clients connect, echo a line, close"
	expect "$mode: $CLIENTS clients were echoed" clients
	if [ "$mode" = reaper ]; then
		wait_for 5 eval '[ "$(nchildren)" = 0 ]'
	else
		wait_for 5 eval '[ "$(nzombies)" = "$CLIENTS" ]'
	fi
	show_as 'ps x -o pid,ppid,stat,args    # the server and its children' ps_excerpt
	defunct=$(ps_excerpt | grep -c '<defunct>')
	if [ "$mode" = reaper ]; then
		expect_eq "$(nchildren)" 0 "reaper: every child is gone: no process left behind"
		expect_eq "$defunct" 0 "reaper: ps x shows no <defunct> child"
		say "TCPechod -v logged each reaping:"
		shown "$(grep -a reaped "$W/log-$mode")"
		expect_eq "$(grep -ac 'reaped: exited with status 0' "$W/log-$mode")" "$CLIENTS" \
			"reaper: $CLIENTS children reaped with status 0 as soon as they ended"
	else
		expect_eq "$(nzombies)" "$CLIENTS" "no reaper: $CLIENTS children stay zombies (state Z)"
		expect_eq "$defunct" "$CLIENTS" "no reaper: ps x shows them as <defunct>"
		zs=$(zombies_of "$SERVER_PID")
	fi
	stop_server "$SERVER_PID"
	expect_eq "$STATUS" 0 "$mode: the server stops cleanly on SIGTERM"
done

part "What became of the zombies"
left=0
for z in $zs; do kill -0 "$z" 2>/dev/null && left=$((left + 1)); done
say "A zombie goes when its parent waits for it, or when the parent dies (init,"
say "or the nearest subreaper, adopts and reaps it).  TCPechod --no-reaper still"
say "waits for its children when it stops:"
expect_eq "$left" 0 "no reaper: the zombies were collected when the server stopped"

finish
