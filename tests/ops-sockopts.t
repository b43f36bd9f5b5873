#!/usr/bin/env bash
# ops-sockopts.t: the socket options of the lab, read back from concurd's
# own sockets (tests/helpers/sockopts: getsockopt on a copy of each of its
# descriptors, through pidfd_getfd).
#
# They are set on the listener, and Linux passes them to every accepted
# socket, so both are checked: the listener, and a client's connection as
# concurd holds it -- in an event loop, in a forked child, and on each
# listener of --reuseport.  --no-reuseaddr reproduces the lab's "Address
# already in use" on a restart while the last connections are in
# TIME_WAIT; the default (SO_REUSEADDR) restarts at once.
. "$(dirname "$0")/lib.sh"

SO=$HELP/sockopts CL=$HELP/ops_client
[ -x "$SO" ] || skip_all "$SO is not built (make tools)"
"$SO" $$ >/dev/null 2>"$T/probe" || skip_all "pidfd_getfd: $(cat "$T/probe")"

# opts_of PIDS KIND PORT: the line for the listener (KIND listen) or for
# the connection whose peer port is PORT (KIND conn).
opts_of() {
	local pids=$1 kind=$2 port=${3:-}
	"$SO" $pids 2>/dev/null | awk -v k="$kind" -v p="$port" \
		'$3 == k && (k == "listen" || $5 == "rport=" p)' | head -n1
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
# hold: a client connection kept open; sets HOLD_PORT (its local port).
hold() {
	exec {HOLD_FD}<>/dev/tcp/127.0.0.1/"$1" || return 1
	printf 'x\n' >&"$HOLD_FD"
	read -r -t 5 _ <&"$HOLD_FD"
	HOLD_PORT=$(ss -Htn "dport = :$1" | awk '{print $4}' | sed 's/.*://' | head -n1)
}
unhold() { exec {HOLD_FD}>&-; }
pids_of() { echo "$1" $(children_of "$1"); }

ALL=(--sndbuf 64k --rcvbuf 128k --keepalive 60,10,5 --linger 0 --fastopen 16)
for m in epoll fork; do
	start_server "$T/$m.log" "$BIN/concurd" -m "$m" -b 127.0.0.1 -p 0 "${ALL[@]}" ||
		{ fail "$m with every option: starts"; continue; }
	hold "$PORT"
	l=$(opts_of "$(pids_of "$SERVER_PID")" listen)
	wait_for 5 eval '[ -n "$(opts_of "$(pids_of "$SERVER_PID")" conn "$HOLD_PORT")" ]'
	c=$(opts_of "$(pids_of "$SERVER_PID")" conn "$HOLD_PORT")
	diag "$m listener: $l" "$m connection: $c"
	is "$(field fastopen "$l") $(field reuseaddr "$l")" "16 1" \
		"$m: the listener has TCP_FASTOPEN 16 and SO_REUSEADDR"
	is "$(field sndbuf "$c") $(field rcvbuf "$c")" "131072 262144" \
		"$m: the connection's SO_SNDBUF, SO_RCVBUF (64k, 128k: the kernel reports twice)"
	is "$(field nodelay "$c")" 1 "$m: the connection has TCP_NODELAY"
	is "$(field keepalive "$c") $(field keepidle "$c") $(field keepintvl "$c") $(field keepcnt "$c")" \
		"1 60 10 5" "$m: SO_KEEPALIVE with TCP_KEEPIDLE 60, TCP_KEEPINTVL 10, TCP_KEEPCNT 5"
	is "$(field linger "$c")" 0 "$m: SO_LINGER {1, 0} (close resets)"
	unhold
	stop_server
done

# The defaults: Nagle off, no keepalive, no linger, the kernel's buffers.
start_server "$T/def.log" "$BIN/concurd" -b 127.0.0.1 -p 0 || fail "defaults: starts"
hold "$PORT"
wait_for 5 eval '[ -n "$(opts_of "$SERVER_PID" conn "$HOLD_PORT")" ]'
c=$(opts_of "$SERVER_PID" conn "$HOLD_PORT")
is "$(field nodelay "$c") $(field keepalive "$c") $(field linger "$c")" "1 0 off" \
	"defaults: TCP_NODELAY on, no keepalive, no linger"
unhold
stop_server

# --no-nodelay: Nagle's algorithm is back (the lab's small-writes demo).
start_server "$T/nagle.log" "$BIN/concurd" -b 127.0.0.1 -p 0 --no-nodelay --linger 5 ||
	fail "--no-nodelay: starts"
hold "$PORT"
wait_for 5 eval '[ -n "$(opts_of "$SERVER_PID" conn "$HOLD_PORT")" ]'
c=$(opts_of "$SERVER_PID" conn "$HOLD_PORT")
is "$(field nodelay "$c")" 0 "--no-nodelay: the connection has no TCP_NODELAY"
is "$(field linger "$c")" 5 "--linger 5: SO_LINGER {1, 5}"
unhold
stop_server

# --reuseport: every loop's listener has the options, not only the first.
start_server "$T/rp.log" "$BIN/concurd" -m epoll -w 3 --reuseport -b 127.0.0.1 -p 0 \
	--fastopen 8 --keepalive 30,5,3 --defer-accept 2 || fail "--reuseport: starts"
wait_for 5 eval '[ "$("$SO" "$SERVER_PID" | grep -c " listen ")" = 3 ]'
ls=$("$SO" "$SERVER_PID" | grep ' listen ')
is "$(grep -c 'fastopen=8 ' <<<"$ls") $(grep -c 'keepalive=1 keepidle=30 keepintvl=5 keepcnt=3 ' <<<"$ls") $(grep -c 'defer=[1-9]' <<<"$ls")" \
	"3 3 3" "--reuseport -w 3: each of the three listeners has TCP_FASTOPEN, keepalive and TCP_DEFER_ACCEPT"
stop_server

# --no-reuseaddr: the lab's restart.  daytime closes first, so the
# server's side of each connection is left in TIME_WAIT, holding the port.
# Linux lets a new listener bind next to it only if both have SO_REUSEADDR:
# the default restarts at once, --no-reuseaddr gets "Address already in use".
tw_restart() {	# tw_restart OPTION...: serve one client, stop, restart
	start_server "$T/ra.log" "$BIN/concurd" -s daytime -b 127.0.0.1 -p 0 "$@" ||
		{ RESTART="first start failed"; return; }
	local p=$PORT
	REUSE=$(field reuseaddr "$(opts_of "$SERVER_PID" listen)")
	"$CL" talk 127.0.0.1 "$p" -k >/dev/null 2>&1
	stop_server
	wait_for 5 eval '[ -n "$(ss -Htan state time-wait "sport = :$p")" ]'
	TW=$(ss -Htan state time-wait "sport = :$p" | wc -l | tr -d ' ')
	RESTART=$(timeout 5 "$BIN/concurd" -s daytime -b 127.0.0.1 -p "$p" "$@" 2>&1 &
		pid=$!; sleep 0.5; kill -TERM "$pid" 2>/dev/null; wait "$pid"; echo "exit $?")
	RESTART=${RESTART//$p/PORT}
}
tw_restart
is "$REUSE" 1 "default: the listener has SO_REUSEADDR"
check "default: the old server's connection is in TIME_WAIT ($TW)" test "${TW:-0}" -ge 1
like "$RESTART" "^concurd: listening on 127.0.0.1 port PORT " "default: a restart on the same port listens at once"
like "$RESTART" "^exit 0$" "default: and stops cleanly"
tw_restart --no-reuseaddr
is "$REUSE" 0 "--no-reuseaddr: the listener has no SO_REUSEADDR"
check "--no-reuseaddr: the old server's connection is in TIME_WAIT ($TW)" test "${TW:-0}" -ge 1
is "$RESTART" "concurd: cannot listen on 127.0.0.1 port PORT: Address already in use
exit 69" "--no-reuseaddr: a restart gets the lab's Address already in use (exit 69)"

# Values and sockets they do not fit.
for bad in "--keepalive 60,10" "--keepalive 0,1,1" "--keepalive 1,1,128" "--sndbuf 0" \
	"--rcvbuf 2G" "--linger -1" "--fastopen 0"; do
	# shellcheck disable=SC2086
	"$BIN/concurd" -p 0 $bad >/dev/null 2>&1
	is "$?" 64 "$bad: usage error"
done
for o in --no-nodelay "--keepalive 1,1,1" "--linger 0" "--fastopen 1" --no-reuseaddr "--defer-accept 1"; do
	# shellcheck disable=SC2086
	out=$("$BIN/concurd" -u -p 0 $o 2>&1); st=$?
	is "$st:$out" "64:concurd: ${o%% *}: a TCP option (this is a UDP socket)" "$o with -u: refused"
done
# shellcheck disable=SC2086
out=$("$BIN/concurd" -b unix:"$T/s.sock" --keepalive 1,1,1 2>&1); st=$?
is "$st:$out" "64:concurd: --keepalive: a TCP option (this is a unix socket)" "--keepalive on a unix socket: refused"
done_testing
