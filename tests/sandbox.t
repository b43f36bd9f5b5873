#!/bin/bash
# sandbox.t: the sandbox (engine/sandbox.h) is on under every model.
#
# build/tests/unit_sandbox serves, under each model, a probe service that
# makes calls no real service makes (tests/helpers/unit_sandbox.c): with
# the sandbox, unshare(0) kills the process that makes it, with one line
# naming the call (a pool's parent lives on and serves again), and landlock
# refuses /etc/hostname (EACCES); without it, both go through.  Then
# concurd itself: Seccomp: 2 in /proc for the server and its workers,
# no_new_privs set, 0 with --no-sandbox and with -s exec (whose program
# would inherit the filter), capabilities gone with --user.  Logging to
# syslog, the line naming a refused call reaches syslog.
. "$(dirname "$0")/lib.sh"

U=$HELP/unit_sandbox
[ -x "$U" ] || skip_all "$U is not built (make tools)"
models=$("$BIN/concurd" --list | sed -n 's/^model //p')
[ -n "$models" ] || skip_all "concurd --list lists no model"
SIGSYS_STATUS=$((128 + 31))

seccomp_of() { awk '/^Seccomp:/ {print $2}' /proc/"$1"/status 2>/dev/null; }
field_of() { awk -v f="$2:" '$1 == f {print $2}' /proc/"$1"/status 2>/dev/null; }

# ask CMD: one command on a new connection; ANSWER is the first line back
# ("" when the connection closed first), within 5 s.
ask() {
	local fd line=
	ANSWER=
	exec {fd}<>/dev/tcp/127.0.0.1/"$PORT" 2>/dev/null || { ANSWER="(no connection)"; return; }
	printf '%s\n' "$1" >&"$fd"
	IFS= read -r -t 5 line <&"$fd"
	exec {fd}<&-
	ANSWER=$line
}

for m in $models; do
	LOG=$T/log.$m
	if ! start_server "$LOG" "$U" "$m"; then
		wait "$SERVER_PID" 2>/dev/null
		if [ $? = 69 ]; then
			skip "$m: $(tail -n 1 "$LOG")"
		else
			fail "$m: the probe server starts" "$(cat "$LOG")"
		fi
		continue
	fi
	is "$(seccomp_of "$SERVER_PID")" 2 "$m: the server is in seccomp filter mode (Seccomp: 2)"
	ask ping
	is "$ANSWER" pong "$m: an allowed service answers"
	for c in $(children_of "$SERVER_PID"); do
		# A fork child that just served the ping may be gone (or a
		# zombie, whose status has no Seccomp line) by now.
		sc=$(seccomp_of "$c") st=$(field_of "$c" State)
		[ -z "$st" ] || [ "$st" = Z ] && continue
		is "$sc" 2 "$m: worker $c inherits the filter"
		break
	done
	ask open
	is "$ANSWER" "open EACCES" "$m: landlock: no file outside what is granted (/etc/hostname: EACCES)"
	ask unshare
	is "$ANSWER" "" "$m: unshare(0): no answer, the connection ends"
	wait_for 5 grep -q 'sandbox: system call [0-9]* (unshare) is not allowed' "$LOG"
	like "$(cat "$LOG")" 'sandbox: system call [0-9]+ \(unshare\) is not allowed: the process is killed \(SIGSYS\)' \
	    "$m: the refused call is logged, by name"
	if wait_gone "$SERVER_PID" 1; then
		# The call was made in the server's own process: it died of it.
		wait "$SERVER_PID" 2>/dev/null
		is "$?" "$SIGSYS_STATUS" "$m: the server process is killed by SIGSYS"
	else
		# A worker process made it: its parent saw it die and serves on.
		wait_for 5 grep -q 'killed by signal 31' "$LOG"
		like "$(cat "$LOG")" 'killed by signal 31' "$m: the worker is killed by SIGSYS, its parent says so"
		ask ping
		is "$ANSWER" pong "$m: the server serves on"
		stop_server TERM
	fi

	LOG=$T/log.$m.off
	if ! start_server "$LOG" "$U" "$m" --no-sandbox; then
		fail "$m --no-sandbox: the probe server starts" "$(cat "$LOG")"
		continue
	fi
	is "$(seccomp_of "$SERVER_PID")" 0 "$m --no-sandbox: no filter (Seccomp: 0)"
	ask unshare
	is "$ANSWER" "unshare 0" "$m --no-sandbox: unshare(0) goes through"
	ask open
	like "$ANSWER" '^open (0|ENOENT)$' "$m --no-sandbox: /etc/hostname is not refused"
	stop_server TERM
	is "$SERVER_STATUS" 0 "$m --no-sandbox: exits 0 on SIGTERM"
done

# Logging to syslog, the refused call's line reaches syslog too (a daemon's
# standard error is /dev/null).  /dev/log is the test's own receiver, in a
# mount namespace of the test's own: a tmpfs on /dev with /dev/log bound to
# a socket the receiver reads.
syslog_receiver() {	# SOCKET FILE: datagrams to FILE, one a line
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", 0) as f:
    while True:
        f.write(s.recv(8192) + b"\n")
' "$1" "$2" &
	track $!
	wait_for 5 test -S "$1"
}
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v python3 >/dev/null; then
	skip "syslog: needs root, unshare(1) and python3 (a mount namespace with a /dev/log of the test's own)"
elif ! syslog_receiver "$T/devlog.sock" "$T/syslog.txt"; then
	fail "syslog: the test's receiver listens"
else
	for m in epoll prefork; do
		LOG=$T/log.$m.syslog
		: >"$T/syslog.txt"
		if ! start_server "$LOG" unshare -m --propagation private sh -c \
		    'mount -t tmpfs tmpfs /dev && : >/dev/log && mount --bind "$0" /dev/log && exec "$@"' \
		    "$T/devlog.sock" "$U" "$m" --syslog; then
			fail "$m --syslog: the probe server starts" "$(cat "$LOG")"
			continue
		fi
		ask unshare
		wait_for 5 grep -q 'unshare' "$T/syslog.txt"
		like "$(cat "$T/syslog.txt")" '^<27>unit_sandbox\[[0-9]+\]: sandbox: system call [0-9]+ \(unshare\) is not allowed: the process is killed \(SIGSYS\)$' \
		    "$m --syslog: the refused call's line reaches syslog (daemon.err)"
		stop_server TERM
	done
fi

# concurd itself.
for m in prefork epoll; do
	if ! start_server "$T/c.$m" "$BIN/concurd" -m "$m" -w 2 -p 0 -b 127.0.0.1 -v; then
		fail "concurd -m $m: starts"; continue
	fi
	is "$(seccomp_of "$SERVER_PID")" 2 "concurd -m $m: Seccomp: 2"
	is "$(field_of "$SERVER_PID" NoNewPrivs)" 1 "concurd -m $m: no_new_privs"
	like "$(cat "$T/c.$m")" 'sandbox: entered' "concurd -m $m -v: says the sandbox is entered"
	for c in $(children_of "$SERVER_PID"); do
		is "$(seccomp_of "$c")" 2 "concurd -m $m: worker $c: Seccomp: 2"
		break
	done
	stop_concurd
	is "$SERVER_STATUS" 0 "concurd -m $m: exits 0 in the sandbox"
	if start_server "$T/c.$m.off" "$BIN/concurd" -m "$m" -w 2 -p 0 -b 127.0.0.1 --no-sandbox; then
		is "$(seccomp_of "$SERVER_PID")" 0 "concurd -m $m --no-sandbox: Seccomp: 0"
		stop_concurd
	else
		fail "concurd -m $m --no-sandbox: starts"
	fi
done

if start_server "$T/c.exec" "$BIN/concurd" -m fork -s exec -p 0 -b 127.0.0.1 -v -- /bin/cat; then
	is "$(seccomp_of "$SERVER_PID")" 0 "concurd -s exec: no filter (its program runs outside it)"
	like "$(cat "$T/c.exec")" 'no sandbox: -s exec' "concurd -s exec -v: says why"
	stop_concurd
else
	fail "concurd -s exec: starts"
fi

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	if start_server "$T/c.user" "$BIN/concurd" -m epoll -p 0 -b 127.0.0.1 --user nobody; then
		is "$(field_of "$SERVER_PID" CapBnd)" 0000000000000000 "--user nobody: the capability bounding set is empty"
		is "$(field_of "$SERVER_PID" CapAmb)" 0000000000000000 "--user nobody: no ambient capability"
		is "$(seccomp_of "$SERVER_PID")" 2 "--user nobody: Seccomp: 2"
		stop_concurd
	else
		fail "concurd --user nobody: starts"
	fi
else
	skip "not root: --user"
fi

done_testing
