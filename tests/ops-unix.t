#!/usr/bin/env bash
# ops-unix.t: concurd -b unix:PATH, and concurbench loading it.
#
#   - every model serves on a unix socket: concurbench unix:PATH verifies
#     every byte of 200 echoes and reports protocol "unix" in its JSON;
#     -v logs the client as "unix pid P uid U"; at the stop the socket
#     file is removed;
#   - what is at PATH already: a socket left by a server that died is
#     replaced, a live one is an error (69, and the live server is not
#     disturbed), anything else is an error (73) and is left alone;
#   - --unix-mode and --unix-owner make the file's mode and owner;
#   - the exec service's program sees PROTO=IPC and the client's
#     credentials;
#   - what a unix socket cannot do is refused with a usage error.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"

# start_unix LOG PATH ARGS...: a concurd on unix:PATH; waits for its line.
start_unix() {
	local log=$1 path=$2; shift 2
	: >"$log"
	"$BIN/concurd" -b "unix:$path" "$@" 2>"$log" &
	SERVER_PID=$!
	track "$SERVER_PID"
	wait_for 10 grep -q "listening on unix:$path " "$log" && return 0
	diag "concurd did not start: $(cat "$log")"
	return 1
}

for m in $("$BIN/concurd" --list | sed -n 's/^model //p'); do
	S=$T/$m.sock
	if ! start_unix "$T/$m.log" "$S" -m "$m" -w 2 -v; then
		wait "$SERVER_PID" 2>/dev/null
		if [ $? = 69 ]; then skip "$m: not available here"; continue; fi
		fail "$m: listens on unix:$S"; continue
	fi
	c=2; [ "$m" = iterative ] && c=1	# one client at a time
	json=$(timeout 30 "$BIN/concurbench" "unix:$S" -c "$c" -n 200 --json 2>"$T/cb.err"); st=$?
	like "$st $json" '^0 .*"protocol":"unix","host":"unix:[^"]*","port":null,' \
		"$m: concurbench unix:PATH runs, protocol unix, no port"
	like "$json" '"requests":200,.*"errors":\{"total":0,' "$m: 200 echoes verified byte for byte, no error"
	check "$m: -v logs a client as unix pid/uid" \
		grep -Eq "conn [0-9]+ from unix pid [0-9]+ uid $(id -u): open" "$T/$m.log"
	stop_server
	is "$SERVER_STATUS" 0 "$m: stops with 0"
	check "$m: the socket file is removed at exit" test ! -e "$S"
done

# A socket left by a server that was killed: replaced.
S=$T/stale.sock
start_unix "$T/stale1.log" "$S" -m epoll || fail "a first server starts"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "killed with SIGKILL, it left its socket behind" test -S "$S"
if start_unix "$T/stale2.log" "$S" -m epoll; then
	pass "a new server replaces the stale socket"
	is "$("$CL" talk "unix:$S" - -d $'fresh\n' 2>&1)" fresh "and serves on it"
	LIVE=$SERVER_PID
	# A live one: refused, and the live server still serves.
	out=$("$BIN/concurd" -b "unix:$S" 2>&1); st=$?
	is "$st:$out" "69:concurd: cannot listen on unix:$S: a server is listening there already" \
		"a second server on a live socket: exit 69, says why"
	is "$("$CL" talk "unix:$S" - -d $'still\n' 2>&1)" still "the live server was not disturbed"
	SERVER_PID=$LIVE; stop_server
else
	fail "a new server replaces the stale socket"
fi

# Not a socket: left alone.
echo "precious" >"$T/file"
out=$("$BIN/concurd" -b "unix:$T/file" 2>&1); st=$?
is "$st:$out" "73:concurd: cannot listen on unix:$T/file: it exists and is not a socket; not replacing it" \
	"a regular file at PATH: exit 73, says why"
is "$(cat "$T/file")" precious "and the file is untouched"
out=$("$BIN/concurd" -b "unix:$T/nodir/s.sock" 2>&1); st=$?
like "$st:$out" "^73:concurd: cannot listen on unix:$T/nodir/s.sock: No such file or directory" \
	"a missing directory: exit 73"

# Mode and owner.
S=$T/mode.sock
if start_unix "$T/mode.log" "$S" --unix-mode 0660; then
	is "$(stat -c %a "$S")" 660 "--unix-mode 0660: the socket file's mode"
	stop_server
fi
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	grp=$(id -gn nobody)
	if start_unix "$T/own.log" "$S" --unix-owner "nobody:$grp" --unix-mode 0600; then
		is "$(stat -c '%U:%G %a' "$S")" "nobody:$grp 600" "--unix-owner nobody: the socket file's owner and group"
		stop_server
	fi
else
	skip "--unix-owner needs root and a user nobody"
fi
out=$("$BIN/concurd" -b "unix:$T/m2.sock" --unix-mode 999 2>&1); st=$?
is "$st" 64 "--unix-mode 999: usage error"

# exec: ucspi-ipc's environment.
S=$T/exec.sock
if start_unix "$T/exec.log" "$S" -m fork -s exec -- sh -c 'echo "$PROTO $IPCREMOTEEUID $IPCLOCALPATH"'; then
	is "$("$CL" talk "unix:$S" - 2>&1)" "IPC $(id -u) $S" "exec: PROTO=IPC, IPCREMOTEEUID, IPCLOCALPATH"
	stop_server
fi

# Refused.
for o in "-p 7" -u "--per-ip 2" "--allow 127.0.0.1" --reuseport; do
	# shellcheck disable=SC2086
	"$BIN/concurd" -b "unix:$T/r.sock" $o >/dev/null 2>&1
	is "$?" 64 "unix socket with $o: usage error"
done
out=$("$BIN/concurd" -p 0 --unix-mode 0600 2>&1); st=$?
is "$st:$out" "64:concurd: --unix-mode: for a unix socket (-b unix:PATH)" "--unix-mode without a unix socket: usage error"
out=$("$BIN/concurbench" unix:/nonexistent/concurd.sock -c 1 -n 1 2>&1); st=$?
is "$st:$out" "69:concurbench: unix:/nonexistent/concurd.sock: no such socket (is the server running?)" \
	"concurbench to a socket that is not there: exit 69, says why"
done_testing
