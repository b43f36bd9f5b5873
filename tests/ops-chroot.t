#!/bin/bash
# ops-chroot: --chroot DIR serves with DIR as the root directory, once the
# listener, the logs and the service's root are open.
#
#   1. Every model serves files with --chroot and --user nobody: the server's
#      root directory (/proc/PID/root) and its workers' are DIR, and it
#      serves both framings from --root beneath it.
#   2. The names the server still uses are their names inside DIR: a pid
#      file inside is written by the server and removed at exit; a log file
#      inside is reopened by SIGHUP after a rotation.  A pid file outside
#      is written, said to stay, and stays.
#   3. --daemon and --inetd chroot too.
#   4. What cannot work is refused before anything is served: a missing
#      DIR (66), a file (64), -s exec (64), a --root outside DIR (64),
#      without root (77); --chroot without --user is warned about.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "chroot(2) needs root"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
# The sanitizers' runtime writes its reports under the build directory and
# reads /proc at exit: a chroot hides both.
[ -z "${SANITIZER:-}" ] || skip_all "under $SANITIZER: its runtime needs files the chroot hides"
CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"
command -v curl >/dev/null || skip_all "no curl"

J=$T/jail
mkdir -p "$J/www/sub" "$J/run" || skip_all "cannot make $J"
echo "hello from the jail" >"$J/www/hello.txt"
head -c 300000 /dev/urandom >"$J/www/sub/big.bin"
chmod -R a+rX "$T"	# nobody walks down to the jail
chown nobody "$J/run"
models=$("$BIN/concurd" --list | sed -n 's/^model //p')

root_of() { readlink /proc/"$1"/root 2>/dev/null; }

# --- 1. every model --------------------------------------------------------
for m in $models; do
	if ! start_server "$T/log.$m" "$BIN/concurd" -m "$m" -s file --root "$J/www" \
	    --chroot "$J" --user nobody -p 0 -b 127.0.0.1; then
		fail "$m --chroot: the server starts" "$(cat "$T/log.$m")"
		continue
	fi
	is "$(root_of "$SERVER_PID")" "$J" "$m --chroot: the server's root directory is the jail"
	is "$(curl -s -m 5 "http://127.0.0.1:$PORT/hello.txt")" "hello from the jail" \
	    "$m --chroot: HTTP serves a file from --root inside it"
	curl -s -m 5 -o "$T/big.$m" "gopher://127.0.0.1:$PORT/9/sub/big.bin"
	check "$m --chroot: the plain framing sends 300,000 bytes byte-exact" \
	    cmp -s "$J/www/sub/big.bin" "$T/big.$m"
	for kid in $(children_of "$SERVER_PID"); do
		r=$(root_of "$kid")
		[ -n "$r" ] || continue	# a fork child that just ended
		is "$r" "$J" "$m --chroot: worker $kid's root directory is the jail"
		break
	done
	stop_server
	is "$SERVER_STATUS" 0 "$m --chroot: stops with 0"
done

# --- 2. the names inside ---------------------------------------------------
rm -f "$J/run/"*
"$BIN/concurd" -s file --root "$J/www" --chroot "$J" --user nobody -p 0 \
    -b 127.0.0.1 --pid-file "$J/run/concurd.pid" --log-file "$J/run/concurd.log" 2>"$T/log" &
SERVER_PID=$!
track "$SERVER_PID"
# --log-file: the listening line goes to the file.
wait_for 10 grep -q 'listening on' "$J/run/concurd.log"
PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$J/run/concurd.log" 2>/dev/null | head -n1)
if [ -n "$PORT" ]; then
	is "$(cat "$J/run/concurd.pid" 2>/dev/null)" "$SERVER_PID" "pid file inside: it holds the server's pid"
	mv "$J/run/concurd.log" "$J/run/concurd.log.1"
	kill -HUP "$SERVER_PID"
	wait_for 5 test -e "$J/run/concurd.log"
	check "log file inside: SIGHUP opens it again after a rotation" test -e "$J/run/concurd.log"
	curl -s -m 5 "http://127.0.0.1:$PORT/hello.txt" >/dev/null
	stop_server
	is "$SERVER_STATUS" 0 "names inside: stops with 0"
	check "pid file inside: removed at exit" test ! -e "$J/run/concurd.pid"
	like "$(cat "$J/run/concurd.log")" "summary: .*connections=1 " \
	    "log file inside: the reopened file has the summary line"
	unlike "$(cat "$T/log")" "cannot reopen|pid-file" "names inside: no complaint"
else
	fail "--chroot with --pid-file and --log-file inside: the server starts" "$(cat "$T/log")"
fi

if start_server "$T/log" "$BIN/concurd" -s file --root "$J/www" --chroot "$J" \
    --user nobody -p 0 -b 127.0.0.1 --pid-file "$T/outside.pid"; then
	is "$(cat "$T/outside.pid" 2>/dev/null)" "$SERVER_PID" "pid file outside: it holds the server's pid"
	like "$(cat "$T/log")" "--pid-file $T/outside.pid is outside --chroot $J: it stays" \
	    "pid file outside: the server says it will stay"
	stop_server
	is "$SERVER_STATUS" 0 "pid file outside: stops with 0"
	check "pid file outside: it stays" test -e "$T/outside.pid"
else
	fail "--chroot with --pid-file outside: the server starts" "$(cat "$T/log")"
fi

"$BIN/concurd" --chroot "$J" --user nobody -b "unix:$J/run/s.sock" 2>"$T/log" &
SERVER_PID=$!
track "$SERVER_PID"
if wait_for 5 grep -q "listening on unix:$J/run/s.sock" "$T/log"; then
	check "unix socket inside: its file is there" test -S "$J/run/s.sock"
	is "$("$CL" talk "unix:$J/run/s.sock" - -d $'ping\n' 2>&1)" ping "unix socket inside: echoes"
	stop_server
	is "$SERVER_STATUS" 0 "unix socket inside: stops with 0"
	check "unix socket inside: its file is removed at exit" test ! -e "$J/run/s.sock"
else
	fail "--chroot -b unix:PATH inside: the server starts" "$(cat "$T/log")"
	stop_server
fi

# --- 3. --daemon, --inetd --------------------------------------------------
rm -f "$J/run/"*
"$BIN/concurd" --daemon -s file --root "$J/www" --chroot "$J" --user nobody \
    -p 0 -b 127.0.0.1 --pid-file "$J/run/d.pid" --log-file "$J/run/d.log" 2>"$T/d.err"
st=$?
is "$st" 0 "--daemon --chroot: the starting process exits 0 ($(cat "$T/d.err"))"
dpid=$(cat "$J/run/d.pid" 2>/dev/null)
if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
	track "$dpid"
	is "$(root_of "$dpid")" "$J" "--daemon --chroot: the daemon's root directory is the jail"
	PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$J/run/d.log" | head -n1)
	is "$(curl -s -m 5 "http://127.0.0.1:$PORT/hello.txt")" "hello from the jail" "--daemon --chroot: serves"
	kill -TERM "$dpid"
	wait_gone "$dpid" 5
	check "--daemon --chroot: its pid file is removed at exit" test ! -e "$J/run/d.pid"
else
	fail "--daemon --chroot: the daemon runs" "$(cat "$T/d.err" "$J/run/d.log" 2>/dev/null)"
fi

if [ -x "$HELP/ops_socketpair" ]; then
	out=$("$HELP/ops_socketpair" -d $'/hello.txt\r\n' -- "$BIN/concurd" --inetd \
	    -s file --root "$J/www" --chroot "$J" --user nobody 2>"$T/i.err")
	is "$out" "hello from the jail" "--inetd --chroot: serves the one connection ($(head -n 2 "$T/i.err"))"
else
	skip "$HELP/ops_socketpair is not built"
fi

# --- 4. refusals -----------------------------------------------------------
refused() {	# refused STATUS REGEX DESCRIPTION -- ARGS...
	local want=$1 re=$2 what=$3 out st
	shift 4
	out=$(timeout 10 "$@" 2>&1 </dev/null); st=$?
	is "$st" "$want" "$what: exit $want"
	like "$out" "$re" "$what: the message says why"
}
refused 66 "--chroot $T/none: No such file" "a missing directory" -- \
    "$BIN/concurd" -p 0 -b 127.0.0.1 --chroot "$T/none" --user nobody
refused 64 "not a directory" "a file" -- \
    "$BIN/concurd" -p 0 -b 127.0.0.1 --chroot "$J/www/hello.txt" --user nobody
refused 64 "-s exec runs a program" "-s exec" -- \
    "$BIN/concurd" -p 0 -b 127.0.0.1 --chroot "$J" --user nobody -m fork -s exec -- /bin/true
mkdir -p "$T/elsewhere"
refused 64 "--root $T/elsewhere is not beneath --chroot $J" "--root outside it" -- \
    "$BIN/concurd" -p 0 -b 127.0.0.1 --chroot "$J" --user nobody -s file --root "$T/elsewhere"
if command -v setpriv >/dev/null; then
	refused 77 "only root .* may change the root directory" "without root" -- \
	    setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	    "$BIN/concurd" -p 0 -b 127.0.0.1 --chroot "$J"
else
	skip "no setpriv"; skip "no setpriv"
fi
if start_server "$T/log" "$BIN/concurd" -p 0 -b 127.0.0.1 --chroot "$J"; then
	like "$(cat "$T/log")" "--chroot without --user: a process that stays root can leave" \
	    "--chroot without --user: warned"
	is "$(root_of "$SERVER_PID")" "$J" "--chroot without --user: chrooted all the same"
	stop_server
else
	fail "--chroot without --user: the server starts" "$(cat "$T/log")"
fi

done_testing
