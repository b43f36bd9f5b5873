#!/bin/bash
# ops-signals: what concurd(8) says its signals and run-time options do.
#   SIGTERM with --grace 3: an active client is still served for a while,
#     new connections are refused, after the grace the client is closed and
#     the server exits 0 (every model at once, so the waits overlap);
#   a second SIGTERM closes at once; SIGINT stops like SIGTERM;
#   SIGUSR1 logs a stats line; --stats-interval logs one periodically;
#   --log-file + SIGHUP reopens the file (log rotation);
#   --pid-file is written and removed; --daemon detaches.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"

TODO=
ok() {	# lib.sh's ok, plus TODO for bugs reported and not fixed yet
	_tap_n=$((_tap_n + 1))
	local t=${TODO:+ # TODO $TODO}
	if [ "$1" = 0 ]; then echo "ok $_tap_n - $2$t"
	else echo "not ok $_tap_n - $2$t"; [ -n "$TODO" ] || _tap_fail=$((_tap_fail + 1)); fi
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
roundtrip() {	# FD TEXT: one echo on an open descriptor, prints the answer
	printf '%s\n' "$2" >&"$1" 2>/dev/null || return 1
	local line
	IFS= read -r -t 3 line <&"$1" && printf '%s' "$line"
}
eof_within() {	# FD SECONDS: true if the server closes FD within SECONDS
	local line
	IFS= read -r -t "$2" line <&"$1"
	[ $? = 1 ]	# 1: EOF; >128: timed out
}

declare -A SP PP SL FD
start_all() {	# MODELS -- ARGS...: a server per model (uring: if it runs)
	local m models=$1; shift
	SP=() PP=() SL=()
	for m in $models; do
		if start_server "$T/log.$m" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 "$@"; then
			SP[$m]=$SERVER_PID PP[$m]=$PORT SL[$m]=$T/log.$m
		else
			wait "$SERVER_PID" 2>/dev/null
			if [ $? = 69 ]; then skip "$m: not available here"
			else fail "$m $*: server starts"; fi
		fi
	done
}
exit_status() {	# PID SECONDS: wait for PID to exit on its own; EXIT=its status
	local i
	EXIT="still running"
	for ((i = 0; i < $2 * 20; i++)); do
		if ! kill -0 "$1" 2>/dev/null ||
		    [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" = Z ]; then
			wait "$1" 2>/dev/null; EXIT=$?
			return
		fi
		sleep 0.05
	done
}

# --- --grace 3 ---------------------------------------------------------
MODELS="iterative fork thread prefork prethread epoll uring"
start_all "$MODELS" --grace 3
for m in "${!SP[@]}"; do
	exec {fd}<>/dev/tcp/127.0.0.1/"${PP[$m]}"
	FD[$m]=$fd
	[ "$(roundtrip "$fd" one)" = one ] || fail "$m: echo before the stop"
done
t0=$(ms)
for m in "${!SP[@]}"; do kill -TERM "${SP[$m]}"; done
sleep 0.5
for m in $MODELS; do
	[ -n "${SP[$m]:-}" ] || continue
	is "$(roundtrip "${FD[$m]}" two)" two "$m --grace 3: 0.5 s after SIGTERM the active client is still echoed"
	out=$("$CL" talk 127.0.0.1 "${PP[$m]}" -d x -w 1500 2>&1); st=$?
	is "$st:$out" "2:ops_client: connect: Connection refused" \
		"$m --grace 3: a new connection during the grace is refused (connect fails)"
done
while [ $(( $(ms) - t0 )) -lt 2000 ]; do sleep 0.05; done
for m in "${!SP[@]}"; do printf 'three\n' >&"${FD[$m]}" 2>/dev/null; done
for m in $MODELS; do
	[ -n "${SP[$m]:-}" ] || continue
	line=; IFS= read -r -t 2 line <&"${FD[$m]}"
	is "$line" three "$m --grace 3: 2 s after SIGTERM still echoed"
done
# The grace runs from the signal: whatever the client did since, it is
# closed about 3 s after SIGTERM.
for m in $MODELS; do
	[ -n "${SP[$m]:-}" ] || continue
	left=$(( (4000 - ($(ms) - t0)) ))
	[ $left -lt 100 ] && left=100
	check "$m --grace 3: the client is closed by 4 s after SIGTERM" \
		eof_within "${FD[$m]}" "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	TODO=
	exec {FD[$m]}>&-
	exit_status "${SP[$m]}" 3
	is "$EXIT" 0 "$m --grace 3: the server exits 0 after the grace"
	[ "$m" = iterative ] && continue	# busy with the client, it logs later
	like "$(cat "${SL[$m]}")" 'stopping: no new connections; 3 s grace for 1 active' \
		"$m --grace 3: the stop is logged with the grace and the active count"
done

# --- a second SIGTERM closes at once; SIGINT stops too ----------------------
MODELS="iterative fork thread prefork prethread epoll uring"
start_all "$MODELS" --grace 20
for m in "${!SP[@]}"; do
	exec {fd}<>/dev/tcp/127.0.0.1/"${PP[$m]}"
	FD[$m]=$fd
	roundtrip "$fd" one >/dev/null
	kill -TERM "${SP[$m]}"
done
sleep 0.3
for m in $MODELS; do
	[ -n "${SP[$m]:-}" ] || continue
	is "$(roundtrip "${FD[$m]}" two)" two "$m --grace 20: echoed after the first SIGTERM"
done
t0=$(ms)
for m in "${!SP[@]}"; do kill -TERM "${SP[$m]}"; done
for m in $MODELS; do
	[ -n "${SP[$m]:-}" ] || continue
	check "$m: a second SIGTERM closes the client at once (within 1.5 s)" \
		eof_within "${FD[$m]}" 1.5
	exec {FD[$m]}>&-
	exit_status "${SP[$m]}" 2
	is "$EXIT" 0 "$m: after the second SIGTERM, exit 0 within 2 s"
done
for m in fork epoll; do
	if start_server "$T/log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1; then
		exec {fd}<>/dev/tcp/127.0.0.1/"$PORT"
		roundtrip "$fd" x >/dev/null
		kill -INT "$SERVER_PID"
		check "$m: SIGINT without --grace closes the client at once" eof_within "$fd" 2
		exec {fd}>&-
		exit_status "$SERVER_PID" 3
	is "$EXIT" 0 "$m: SIGINT, exit 0"
		like "$(cat "$T/log")" 'summary: .*connections=1 ' "$m: SIGINT, the summary is printed"
	else
		fail "$m: server starts"
	fi
done

# --- SIGUSR1: a stats line ------------------------------------------------
for m in epoll fork prefork prethread uring; do
	if ! start_server "$T/log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1; then
		wait "$SERVER_PID" 2>/dev/null; [ $? = 69 ] && { skip "$m: not available"; continue; }
		fail "$m: server starts"; continue
	fi
	exec {fd}<>/dev/tcp/127.0.0.1/"$PORT"
	roundtrip "$fd" 12345 >/dev/null
	kill -USR1 "$SERVER_PID"
	wait_for 5 grep -q 'stats:' "$T/log"
	line=$(grep 'stats:' "$T/log")
	like "$line" '^concurd: stats: active=1 accepted=1 served=0 refused=0 \(acl=0 per_ip=0 overload=0 proxy=0\) timeouts=0 errors=0 resets=0 bytes_in=[0-9]+ bytes_out=[0-9]+ workers=[0-9]+ spread=[-0-9,]+ cpu=[0-9.]+$' \
		"$m: SIGUSR1 logs one stats line (active=1 with one client, refusals by reason, spread, cpu)"
	kill -0 "$SERVER_PID" 2>/dev/null
	ok $? "$m: SIGUSR1 does not stop the server"
	is "$(roundtrip "$fd" after)" after "$m: the client is still served after SIGUSR1"
	exec {fd}>&-
	stop_server
	like "$(grep summary: "$T/log")" 'connections=1 bytes_in=12 bytes_out=12 ' \
		"$m: the summary counts what the client sent (12 bytes each way)"
done

# --- --stats-interval 1 ---------------------------------------------------
# Two lines come within 5 s, about a second apart (by the timestamps of
# --log-file's lines).
for m in epoll fork; do
	SL=$T/stats-$m.log
	"$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 --log-file "$SL" --stats-interval 1 2>"$T/stderr" &
	SERVER_PID=$!; track $SERVER_PID
	if wait_for 5 grep -q 'listening on' "$SL" 2>/dev/null; then
		check "$m --stats-interval 1: stats lines keep coming" \
			wait_for 5 eval '[ "$(grep -c "stats: active=" "$SL")" -ge 2 ]'
		gap=$(grep 'stats: active=' "$SL" | head -n2 |
			sed -E 's/^[0-9-]+T([0-9]+):([0-9]+):([0-9.]+) .*/\1 \2 \3/' |
			awk '{t = $1 * 3600 + $2 * 60 + $3} NR == 1 {a = t} NR == 2 {printf "%d", (t - a) * 1000}')
		if [ "${gap:-0}" -ge 800 ] && [ "${gap:-0}" -le 1600 ]; then
			pass "$m --stats-interval 1: a second apart (${gap} ms)"
		else
			fail "$m --stats-interval 1: a second apart (${gap:-?} ms)" \
				"$(grep -v 'conn ' "$SL" | cut -c1-70)"
		fi
		stop_server
	else
		fail "$m --stats-interval 1: server starts" "$(cat "$T/stderr")"
	fi
done

# --- --log-file and SIGHUP ------------------------------------------------
for m in epoll fork; do
	LF=$T/$m.log
	"$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 -v --log-file "$LF" 2>"$T/stderr" &
	SERVER_PID=$!; track $SERVER_PID
	wait_for 5 grep -q 'listening on' "$LF" 2>/dev/null
	PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$LF" | head -n1)
	if [ -z "$PORT" ]; then fail "$m --log-file: server starts"; continue; fi
	is "$("$CL" talk 127.0.0.1 "$PORT" -d $'first\n')" first "$m --log-file: served"
	check "$m --log-file: connection 1 is logged to the file" \
		wait_for 5 grep -q 'conn 1 from 127.0.0.1 .*closed' "$LF"
	mv "$LF" "$LF.1"
	kill -HUP "$SERVER_PID"
	check "$m SIGHUP: the log file is created again" wait_for 5 test -e "$LF"
	is "$("$CL" talk 127.0.0.1 "$PORT" -d $'second\n')" second "$m SIGHUP: still serving"
	check "$m SIGHUP: connection 2 is logged to the new file" \
		wait_for 5 grep -q 'conn 2 from 127.0.0.1 .*closed' "$LF"
	if grep -q 'conn 2 ' "$LF.1"; then fail "$m SIGHUP: nothing more goes to the rotated file"
	else pass "$m SIGHUP: nothing more goes to the rotated file"; fi
	stop_server
	is "$SERVER_STATUS" 0 "$m --log-file: exits 0"
	like "$(cat "$LF")" 'summary: ' "$m --log-file: the summary goes to the new file"
	is "$(cat "$T/stderr")" "" "$m --log-file: nothing on standard error"
done

# --- --pid-file -------------------------------------------------------------
if start_server "$T/log" "$BIN/concurd" -p 0 -b 127.0.0.1 --pid-file "$T/pid"; then
	is "$(cat "$T/pid" 2>&1)" "$SERVER_PID" "--pid-file: holds the server's pid"
	stop_server
	check "--pid-file: removed at exit" test ! -e "$T/pid"
else
	fail "--pid-file: server starts"
fi
out=$("$BIN/concurd" -p 0 --pid-file /nonexistent/dir/pid 2>&1); st=$?
is "$st" 73 "--pid-file in a missing directory: exit 73"
out=$("$BIN/concurd" -p 0 --log-file /nonexistent/dir/log 2>&1); st=$?
is "$st" 73 "--log-file in a missing directory: exit 73"

# --- --daemon -----------------------------------------------------------------
DPID=
daemon_cleanup() {
	local p
	p=$(cat "$T/dpid" 2>/dev/null)
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	_cleanup
}
trap daemon_cleanup EXIT
t0=$(ms)
timeout 10 "$BIN/concurd" --daemon -p 0 -b 127.0.0.1 --pid-file "$T/dpid" \
	--log-file "$T/dlog" -v >"$T/dout" 2>&1
st=$?
dt=$(( $(ms) - t0 ))
is "$st" 0 "--daemon: the starting process exits 0"
check "--daemon: it returns quickly (${dt} ms)" test "$dt" -lt 3000
check "--daemon: the pid file appears" wait_for 5 test -s "$T/dpid"
DPID=$(cat "$T/dpid" 2>/dev/null)
if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
	pass "--daemon: the pid file names a live process"
	ppid=$(awk '/^PPid:/ {print $2}' /proc/"$DPID"/status)
	check "--daemon: reparented (ppid $ppid is not us)" test "$ppid" != "$$"
	# After setsid and a second fork: its own session, not its leader.
	read -r sid <<<"$(awk '{print $6}' /proc/"$DPID"/stat)"
	check "--daemon: in a new session ($sid), not ours" \
		test "$sid" != "$(awk '{print $6}' /proc/$$/stat)"
	check "--daemon: not a session leader (cannot reacquire a terminal)" test "$sid" != "$DPID"
	is "$(readlink /proc/"$DPID"/cwd)" / "--daemon: working directory /"
	is "$(readlink /proc/"$DPID"/fd/0):$(readlink /proc/"$DPID"/fd/1):$(readlink /proc/"$DPID"/fd/2)" \
		"/dev/null:/dev/null:/dev/null" "--daemon: standard input, output and error on /dev/null"
	wait_for 5 grep -q 'listening on' "$T/dlog"
	PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$T/dlog" | head -n1)
	is "$("$CL" talk 127.0.0.1 "${PORT:-0}" -d $'daemon\n' 2>&1)" daemon "--daemon: serves"
	kill -TERM "$DPID"
	check "--daemon: SIGTERM ends it" wait_gone "$DPID" 5
	check "--daemon: the pid file is removed at exit" test ! -e "$T/dpid"
	like "$(cat "$T/dlog")" 'summary: .*connections=1 ' "--daemon: the summary goes to --log-file"
else
	fail "--daemon: the pid file names a live process" "$(cat "$T/dout")"
fi
is "$(cat "$T/dout")" "" "--daemon: nothing printed on the terminal"

done_testing
