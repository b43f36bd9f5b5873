#!/usr/bin/env bash
# ops-systemd.t: concurd under systemd: Type=notify, several sockets in
# LISTEN_FDS, and the units in contrib/systemd.
#
# Where no systemd runs (a container, CI), tests/helpers/sdpass plays its
# part: it makes the sockets a socket unit would and passes them in
# LISTEN_FDS, and records what concurd says on NOTIFY_SOCKET.  Checked:
#   - READY=1 (with MAINPID and a STATUS naming where it listens) once it
#     serves, STATUS= with the stats line at SIGUSR1, STOPPING=1 at the
#     stop; NOTIFY_SOCKET is not passed on to the exec service's programs;
#   - a stream and a datagram socket (ListenStream=7 + ListenDatagram=7)
#     served at once: TCP echo by the model, UDP echo beside it; a unix
#     stream socket; what is not served (two stream sockets, a datagram
#     socket alone without --udp, a datagram socket for a service with no
#     UDP form) refused with a usage error that says why;
#   - the units: systemd-analyze verify finds nothing to say, the offline
#     security review rates concurd.service OK, and concurd.service's own
#     ExecStart, given concurd.socket's two sockets, serves both and says
#     READY=1;
#   - with the real systemd-socket-activate, the same ExecStart serves;
#   - where systemd runs (/run/systemd/system), the service is started
#     with systemd-run as a Type=notify unit with the units' hardening.
. "$(dirname "$0")/lib.sh"

SD=$HELP/sdpass CL=$HELP/ops_client
[ -x "$SD" ] || skip_all "$SD is not built (make tools)"

# run_sd LOG NOTIFY SOCKET... -- ARGS: concurd under sdpass; waits for its
# listening line; sets SERVER_PID, TPORT (tcp), UPORT (udp).
run_sd() {
	local log=$1 nf=$2; shift 2
	: >"$log"; rm -f "$nf" "$T/ports"
	"$SD" -N "$nf" -P "$T/ports" "$@" 2>"$log" &
	SERVER_PID=$!
	track "$SERVER_PID"
	wait_for 10 grep -q 'listening on' "$log" || { diag "$(cat "$log")"; return 1; }
	TPORT=$(awk '$1 == "tcp" {print $2}' "$T/ports")
	UPORT=$(awk '$1 == "udp" {print $2}' "$T/ports")
}
udp_echo() {	# udp_echo PORT TEXT: one datagram there and back
	bash -c 'exec 3<>/dev/udp/127.0.0.1/"$1" && printf %s "$2" >&3 && timeout 3 head -c "${#2}" <&3' _ "$1" "$2" 2>/dev/null
}

# --- Type=notify, TCP and UDP at once -------------------------------------
N=$T/notify
if run_sd "$T/a.log" "$N" tcp:0 udp:= -- "$BIN/concurd" -m epoll; then
	wait_for 5 grep -q 'READY=1' "$N"
	like "$(cat "$N")" "^READY=1\|MAINPID=$SERVER_PID\|STATUS=listening on 127\.0\.0\.1 port $TPORT \(model epoll, service echo\)$" \
		"READY=1 once it serves, with MAINPID and where it listens"
	is "$(printf 'tcp\n' | "$BIN/TCPecho" 127.0.0.1 "$TPORT" 2>&1)" tcp "the stream socket: TCP echo (the model)"
	is "$(udp_echo "$UPORT" 'over udp')" "over udp" "the datagram socket beside it: UDP echo, the same service"
	like "$(cat "$T/a.log")" "and udp on 127\.0\.0\.1 port $UPORT" "the log says it serves the datagram socket too"
	kill -USR1 "$SERVER_PID"
	wait_for 5 grep -q '^STATUS=stats: ' "$N"
	like "$(cat "$N")" '^STATUS=stats: active=0 accepted=1 served=2 ' \
		"SIGUSR1: the stats line as STATUS (one connection, one datagram)"
	stop_server
	is "$SERVER_STATUS" 0 "stops with 0"
	wait_for 5 grep -q 'STOPPING=1' "$N"
	like "$(tail -n1 "$N")" '^STOPPING=1\|STATUS=stopping$' "STOPPING=1 at the stop"
	like "$(grep summary: "$T/a.log")" 'service=echo/tcp\+udp connections=2 ' "the summary counts both"
else
	fail "concurd with a TCP and a UDP socket starts"
fi

# A socket systemd passed keeps its own TCP_DEFER_ACCEPT (the unit's
# DeferAcceptSec=, none here), though echo's default would defer: a silent
# client is accepted at once.
if run_sd "$T/d.log" "$N" tcp:0 -- "$BIN/concurd" -m epoll; then
	exec 3<>/dev/tcp/127.0.0.1/"$TPORT"
	sleep 0.3
	kill -USR1 "$SERVER_PID"
	wait_for 5 grep -q '^STATUS=stats: ' "$N"
	like "$(cat "$N")" '^STATUS=stats: active=1 accepted=1 ' \
		"a passed socket is not deferred by default: a silent client is accepted at once"
	exec 3>&-
	stop_server
else
	fail "concurd with a passed TCP socket starts"
fi

# NOTIFY_SOCKET stays ours.
if run_sd "$T/e.log" "$N" tcp:0 -- "$BIN/concurd" -m fork -s exec -- sh -c 'echo "notify=${NOTIFY_SOCKET-unset}"'; then
	is "$("$CL" talk 127.0.0.1 "$TPORT" 2>&1)" "notify=unset" "the exec service's program does not inherit NOTIFY_SOCKET"
	stop_server
fi

# A unix stream socket.
if run_sd "$T/u.log" "$N" "unix:$T/act.sock" -- "$BIN/concurd"; then
	is "$("$CL" talk "unix:$T/act.sock" - -d $'unix\n' 2>&1)" unix "a unix stream socket passed: served"
	stop_server
fi

# What is refused.
refused() {	# refused WHY SOCKETS... -- ARGS
	local why=$1; shift
	"$SD" "$@" >/dev/null 2>"$T/r.log"; local st=$?
	is "$st" 64 "refused: $why (exit 64)"
	diag "$(cat "$T/r.log")"
}
refused "two stream sockets" tcp:0 tcp6:0 -- "$BIN/concurd"
like "$(cat "$T/r.log")" "two of them stream: concurd serves one stream socket and one datagram socket" "and says why"
refused "a datagram socket alone, without --udp" udp:0 -- "$BIN/concurd"
refused "--udp and a stream socket" tcp:0 udp:= -- "$BIN/concurd" -u
refused "a datagram socket for a service with no UDP form" tcp:0 udp:= -- "$BIN/concurd" -s nbytes
if run_sd "$T/uo.log" "$N" udp:0 -- "$BIN/concurd" -u; then
	is "$(udp_echo "$UPORT" solo)" solo "--udp with one datagram socket passed: served"
	stop_server
fi

# --- the units ------------------------------------------------------------------
U=$T/units
mkdir -p "$U"
cp "$TOP"/contrib/systemd/* "$U"/
sed -i "s|/usr/local/sbin/concurd|$BIN/concurd|" "$U"/*
if command -v systemd-analyze >/dev/null; then
	out=$(cd "$U" && systemd-analyze verify --man=no ./concurd.socket ./concurd.service \
		./concurd-inetd.socket ./concurd-inetd@.service 2>&1); st=$?
	is "$st:$out" "0:" "systemd-analyze verify: the four units, nothing to say"
	sec=$(cd "$U" && systemd-analyze security --offline=true ./concurd.service 2>&1 | tail -n1)
	like "$sec" 'Overall exposure level for concurd\.service: [0-2]\.[0-9] OK' \
		"systemd-analyze security: concurd.service's exposure is OK ($(sed 's/.*: //' <<<"$sec"))"
else
	skip "systemd-analyze is not installed"
fi
grep -q '^ListenStream=7$' "$U/concurd.socket" && grep -q '^ListenDatagram=7$' "$U/concurd.socket"
ok $? "concurd.socket listens on the echo port, TCP and UDP"
exec_start=$(sed -n 's/^ExecStart=//p' "$U/concurd.service")
read -ra cmd <<<"$exec_start"
if run_sd "$T/unit.log" "$N" tcp:0 udp:= -- "${cmd[@]}"; then
	wait_for 5 grep -q 'READY=1' "$N"
	like "$(cat "$N")" '^READY=1' "concurd.service's ExecStart with concurd.socket's two sockets: READY=1"
	is "$(printf 'unit\n' | "$BIN/TCPecho" 127.0.0.1 "$TPORT" 2>&1) $(udp_echo "$UPORT" dgram)" "unit dgram" \
		"and it serves both, TCP and UDP"
	stop_server
	is "$SERVER_STATUS" 0 "and stops with 0 within its grace"
else
	fail "concurd.service's ExecStart starts"
fi
if command -v systemd-socket-activate >/dev/null; then
	P=$(( $(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range) - 1000 - RANDOM % 5000 ))
	# It listens, and execs the service at the first connection.
	systemd-socket-activate -l "127.0.0.1:$P" "${cmd[@]}" 2>"$T/ssa.log" &
	SERVER_PID=$!; track "$SERVER_PID"
	wait_for 10 grep -q "Listening on 127.0.0.1:$P" "$T/ssa.log"
	is "$(printf 'ssa\n' | "$BIN/TCPecho" 127.0.0.1 "$P" 2>&1)" ssa \
		"systemd-socket-activate -l $P with concurd.service's ExecStart: serves"
	like "$(cat "$T/ssa.log")" "concurd: listening on 127\.0\.0\.1 port $P " "on the socket it was passed"
	stop_server
	is "$SERVER_STATUS" 0 "and stops with 0"
else
	skip "systemd-socket-activate is not installed"
fi

# --- a real systemd -------------------------------------------------------------
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null && [ "$(id -u)" = 0 ]; then
	P=$(( $(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range) - 2000 - RANDOM % 5000 ))
	unit=concurd-test-$$
	props=()
	while IFS= read -r l; do props+=(-p "$l"); done < <(sed -n '/^\[Service\]/,/^\[/{/^[A-Z][A-Za-z]*=/p}' "$U/concurd.service" |
		grep -v '^ExecStart=\|^ExecReload=\|^Type=\|^NotifyAccess=')
	if systemd-run --unit="$unit" -p Type=notify -p NotifyAccess=main "${props[@]}" \
		"$BIN/concurd" -b 127.0.0.1 -p "$P" >/dev/null 2>"$T/run.err"; then
		is "$(systemctl is-active "$unit")" active "systemd-run: a Type=notify unit with the hardening is active (READY=1)"
		is "$(printf 'systemd\n' | "$BIN/TCPecho" 127.0.0.1 "$P" 2>&1)" systemd "and serves"
		systemctl stop "$unit"
		is "$(systemctl is-active "$unit")" inactive "and stops"
	else
		fail "systemd-run starts concurd" "$(cat "$T/run.err")"
	fi
else
	skip "no running systemd here (no /run/systemd/system): the units were checked offline above"
fi
done_testing
