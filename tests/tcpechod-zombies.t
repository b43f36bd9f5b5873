#!/bin/bash
# TCPechod's reaper: 1,000 connections one after another leave no zombie;
# a hundred children ending at once (more than the reaper's ring holds) are
# all reaped; with --no-reaper the zombies stay until the server stops.
. "$(dirname "$0")/lib.sh"

# N echo round trips, one connection each.  Bash's /dev/tcp: no fork.
connections() {	# N
	local i fd line bad=0
	for ((i = 0; i < $1; i++)); do
		exec {fd}<>/dev/tcp/127.0.0.1/"$PORT" || return 1
		echo "ping $i" >&"$fd"
		IFS= read -r -t 5 line <&"$fd"
		[ "$line" = "ping $i" ] || bad=$((bad + 1))
		exec {fd}>&-
	done
	return "$bad"
}
nzombies() { zombies_of "$SERVER_PID" | count_lines; }
nreaped() { grep -ac 'reaped: exited with status 0' "$T/log"; }
no_kids() { [ "$(children_of "$SERVER_PID" | count_lines)" = 0 ]; }

start_server "$T/log" "$BIN/TCPechod" -v 0 || { fail "server starts"; done_testing; exit; }
check "1000 connections, one after another, all echoed" connections 1000
check "all 1000 children are gone" wait_for 10 no_kids
is "$(nzombies)" 0 "no zombie child remains"
wait_for 5 eval '[ "$(nreaped)" = 1000 ]'
is "$(nreaped)" 1000 "1000 children reaped with status 0 (-v log)"

# A hundred connections open at once, then all closed at once.
fds=()
for ((i = 0; i < 100; i++)); do
	exec {fd}<>/dev/tcp/127.0.0.1/"$PORT" && fds+=("$fd")
done
is "${#fds[@]}" 100 "100 connections open at once"
wait_for 10 eval '[ "$(children_of "$SERVER_PID" | count_lines)" = 100 ]'
is "$(children_of "$SERVER_PID" | count_lines)" 100 "100 children serve them"
for fd in "${fds[@]}"; do exec {fd}>&-; done
check "100 children ending together are all reaped" wait_for 10 no_kids
wait_for 5 eval '[ "$(nreaped)" = 1100 ]'
is "$(nreaped)" 1100 "each of them was logged"
stop_server
is "$SERVER_STATUS" 0 "server exits 0 on SIGTERM"

# Without the reaper, the zombies are there to see with ps x.
start_server "$T/log2" "$BIN/TCPechod" -v --no-reaper 0 || { fail "server starts"; done_testing; exit; }
check "20 connections without the reaper" connections 20
wait_for 10 eval '[ "$(nzombies)" = 20 ]'
is "$(nzombies)" 20 "--no-reaper: 20 zombie children remain"
like "$(ps x -o pid=,stat= | awk '$2 ~ /^Z/ {print $1}' | tr '\n' ' ')" \
	"$(zombies_of "$SERVER_PID" | head -n1)" "ps x shows them as Z"
zs=$(zombies_of "$SERVER_PID")
stop_server
is "$SERVER_STATUS" 0 "--no-reaper server exits 0 on SIGTERM"
left=0
for z in $zs; do kill -0 "$z" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "the server reaped its zombies before exiting"
is "$(grep -ac 'reaped: exited with status 0' "$T/log2")" 20 "and logged each"

done_testing
