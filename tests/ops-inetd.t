#!/bin/bash
# ops-inetd: concurd fitted into the system.  --inetd serves the connection
# on standard input/output (through a socketpair, as inetd hands it over)
# for echo, daytime and exec; socket activation (systemd-socket-activate,
# from Debian's systemd package) serves a passed listener, and a passed
# socket of the wrong kind is refused with a clear message.
. "$(dirname "$0")/lib.sh"

SP=$HELP/ops_socketpair
CL=$HELP/ops_client
[ -x "$SP" ] && [ -x "$CL" ] || skip_all "ops helpers are not built (make tools)"

# --- --inetd through a socketpair ----------------------------------------
out=$("$SP" -d $'hello inetd\n' -- "$BIN/concurd" --inetd -s echo -v 2>"$T/log"); st=$?
is "$out" "hello inetd" "--inetd -s echo: the data comes back on the socket"
is "$st" 0 "--inetd -s echo: exits 0 at the client's EOF"
like "$(cat "$T/log")" 'summary: .* connections=1 bytes_in=12 bytes_out=12 ' \
	"--inetd -v: the summary on standard error counts the connection"
like "$(cat "$T/log")" 'conn 1 from .*: closed, 12 bytes in, 12 out' \
	"--inetd -v: the close line has the bytes"

# -k: we never half-close; echo must answer while the connection is open.
out=$("$SP" -k -w 1000 -d $'no eof\n' -- "$BIN/concurd" --inetd -s echo 2>/dev/null)
is "$out" "no eof" "--inetd -s echo: answers before the client's EOF"

out=$("$SP" -- "$BIN/concurd" --inetd -s daytime 2>/dev/null); st=$?
like "$out" '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}'$'\r''$' \
	"--inetd -s daytime: one ctime line, CRLF ended"
is "$st" 0 "--inetd -s daytime: exits 0"

out=$("$SP" -d $'cat through inetd\n' -- "$BIN/concurd" --inetd -s exec -- /bin/cat 2>/dev/null); st=$?
is "$out" "cat through inetd" "--inetd -s exec -- /bin/cat: echoes"
is "$st" 0 "--inetd -s exec: exits with the program's status (0)"
out=$("$SP" -- "$BIN/concurd" --inetd -s exec -- sh -c 'echo "PROTO=$PROTO"; exit 5' 2>/dev/null); st=$?
# The test's connection is a socketpair, a Unix-domain socket: ucspi-ipc's
# PROTO=IPC (inetd's TCP socket gives PROTO=TCP, as in ops-exec.t).
is "$out" "PROTO=IPC" "--inetd -s exec: the program gets the PROTO of its socket (IPC here)"
is "$st" 5 "--inetd -s exec: the program's exit status 5 is passed on"

# Standard error is the socket too (inetd's wait=no with stderr on the
# connection): not one log byte may go to the client.
out=$("$SP" -e -d $'only this\n' -- "$BIN/concurd" --inetd -s echo -v); st=$?
is "$out" "only this" "--inetd -v with standard error on the socket: no log line reaches the client"

# --- socket activation ----------------------------------------------------
command -v systemd-socket-activate >/dev/null ||
	{ for i in 1 2 3 4 5 6 7 8 9 10 11; do skip "systemd-socket-activate is missing"; done; done_testing; exit; }

free_port() {	# a port below the ephemeral range that no socket uses
	local i p lo
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
	for ((i = 0; i < 50; i++)); do
		p=$((10000 + RANDOM % (lo - 10000)))
		[ -z "$(ss -Htuan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	return 1
}
# activate LOG ARGS...: start systemd-socket-activate ARGS in the background
# (SERVER_PID), wait for it to listen.  A port taken meanwhile by someone
# else is retried on another one: the port is in P.
activate() {
	local log=$1 try; shift
	: >"$log"
	for try in 1 2 3; do
		systemd-socket-activate "${@/@PORT@/$P}" 2>"$log" &
		SERVER_PID=$!
		track "$SERVER_PID"
		wait_for 5 grep -q 'Listening on' "$log" && return 0
		grep -q 'in use' "$log" || return 1
		wait_gone "$SERVER_PID" 2
		P=$(free_port) || return 1
	done
	return 1
}

P=$(free_port) || skip_all "no free port"
if activate "$T/sa" -l 127.0.0.1:@PORT@ "$BIN/concurd" -m epoll -v; then
	is "$("$CL" talk 127.0.0.1 "$P" -d $'activated\n')" "activated" \
		"socket activation (Accept=no): the first client gets its echo"
	check "socket activation: concurd says it listens on the passed socket's port" \
		grep -q "concurd: listening on 127.0.0.1 port $P (model epoll" "$T/sa"
	is "$("$CL" talk 127.0.0.1 "$P" -d $'again\n')" "again" \
		"socket activation: later clients are served by the same process"
	like "$(tr '\0' ' ' </proc/"$SERVER_PID"/cmdline)" "concurd -m epoll" \
		"socket activation: the process that was started is concurd (exec, same pid)"
	stop_server
	is "$SERVER_STATUS" 0 "socket activation: SIGTERM, exit 0"
else
	fail "systemd-socket-activate listens" "$(cat "$T/sa")"
fi

# Accept=yes with --inetd: one concurd per connection on stdin/stdout.
P=$(free_port) || skip_all "no free port"
if activate "$T/sa" -a --inetd -l 127.0.0.1:@PORT@ "$BIN/concurd" --inetd; then
	is "$("$CL" talk 127.0.0.1 "$P" -d $'per connection\n')" "per connection" \
		"socket activation Accept=yes + --inetd: echoed"
	stop_server
else
	fail "systemd-socket-activate -a listens"
fi

# Wrong kinds: a datagram socket for a TCP server; a connected (Accept=yes)
# socket for a server that wants a listener; a socketpair on fd 3.
P=$(free_port) || skip_all "no free port"
if activate "$T/sa" -d -l 127.0.0.1:@PORT@ "$BIN/concurd" -m epoll; then
	echo x >/dev/udp/127.0.0.1/"$P"
	wait_gone "$SERVER_PID" 5
	wait "$SERVER_PID"; st=$?
	is "$st" 64 "a datagram socket passed to a TCP concurd: exit 64"
	like "$(cat "$T/sa")" 'no stream socket passed \(ListenStream=; for datagrams only, --udp\)' \
		"a datagram socket: the message says what was passed and what is wanted"
else
	fail "systemd-socket-activate -d listens"
fi
P=$(free_port) || skip_all "no free port"
if activate "$T/sa" -a -l 127.0.0.1:@PORT@ "$BIN/concurd" -m epoll; then
	"$CL" talk 127.0.0.1 "$P" -d x -w 3000 >/dev/null 2>&1
	check "Accept=yes without --inetd: concurd explains (not listening, use --inetd)" \
		wait_for 5 grep -q 'descriptor 3 is not listening (use Accept=no, or --inetd with Accept=yes)' "$T/sa"
	check "Accept=yes without --inetd: the child exits 64" \
		wait_for 5 grep -q 'died with code 64' "$T/sa"
	stop_server
else
	fail "systemd-socket-activate -a listens"
fi
"$SP" -3 -w 3000 -- "$BIN/concurd" -m epoll 2>"$T/log"; st=$?
is "$st" 64 "a socketpair passed as descriptor 3 (LISTEN_FDS=1): exit 64"
like "$(cat "$T/log")" 'descriptor 3 is not listening' "a socketpair on fd 3: the message says it is not listening"

done_testing
