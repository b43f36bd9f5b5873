#!/bin/bash
# TCPechod and SIGPIPE: a client sends a burst of several MiB without
# reading, then resets the connection while the server's child is still
# writing the echo.  Under each --sigpipe disposition the server survives,
# logs what its child met, and serves the next client.
#
# The burst must be more than the server's send buffer can hold (the
# kernel's tcp_wmem maximum) so that the child is still writing when the RST
# comes; lab_hostile makes sure our FIN got there first, which is what turns
# the RST into EPIPE + SIGPIPE rather than ECONNRESET.  Whether the FIN gets
# through depends on buffer autotuning: lab_hostile tries again itself, with
# a smaller burst, when the burst stalled or its FIN did not get in (one run
# of it provoked EPIPE 15 times in 16 under ASan here), and each case here
# gets 8 runs.
. "$(dirname "$0")/lib.sh"

wmax=$(awk '{print $3}' /proc/sys/net/ipv4/tcp_wmem 2>/dev/null)
burst=$(( ${wmax:-4194304} + 131072 ))
diag "burst of $burst bytes"

attempt() {	# LOG REGEX: up to 8 hostile clients until LOG matches
	local i
	for ((i = 0; i < 8; i++)); do
		timeout 20 "$HELP/lab_hostile" 127.0.0.1 "$PORT" "$burst" >>"$T/hostile" ||
			diag "lab_hostile failed"
		wait_for 2 grep -aqE "$2" "$1" && return 0
	done
	diag "$(tail -n 5 "$T/hostile")" "$(tail -n 5 "$1")"
	return 1
}
served() {
	[ "$(echo after | timeout 10 "$BIN/TCPecho" 127.0.0.1 "$PORT")" = after ]
}

for mode in handle ignore default; do
	case $mode in
	handle)	want='SIGPIPE caught by pid [0-9]+ \(1 so far in this process\), write: Broken pipe' ;;
	ignore)	want='write: Broken pipe' ;;
	default) want='killed by signal 13' ;;
	esac
	log=$T/log-$mode
	start_server "$log" "$BIN/TCPechod" -v --sigpipe=$mode 0 ||
		{ fail "server starts ($mode)"; continue; }
	check "--sigpipe=$mode: the child's EPIPE/SIGPIPE is logged" attempt "$log" "$want"
	check "--sigpipe=$mode: the server survives" kill -0 "$SERVER_PID"
	check "--sigpipe=$mode: and serves a new client" served
	stop_server
	is "$SERVER_STATUS" 0 "--sigpipe=$mode: exits 0 on SIGTERM"
done

# The lesson of --sigpipe=default: without a handler SIGPIPE kills.
unlike "$(cat "$T/log-handle")" 'killed by signal 13' "handle: no child was killed by SIGPIPE"

done_testing
