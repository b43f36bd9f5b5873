#!/usr/bin/env bash
# ops-start-errors.t: what goes wrong before the server is up is said on
# standard error, with an exit status a script can read, wherever the logs
# go once it is up (--daemon, --syslog, --log-file).
. "$(dirname "$0")/lib.sh"
plan 9

# A port that is taken: a listener of our own.
start_server "$T/holder.log" "$BIN/concurd" -b 127.0.0.1 -p 0 || { fail "a first concurd"; exit 1; }
TAKEN=$PORT

# --daemon with the port taken: the message on the terminal, exit 69.
out=$(timeout 10 "$BIN/concurd" --daemon -b 127.0.0.1 -p "$TAKEN" 2>&1); st=$?
is "$st" 69 "--daemon, port taken: the starting process exits 69"
like "$out" "^concurd: cannot listen on 127\.0\.0\.1 port $TAKEN: Address already in use$" \
	"--daemon, port taken: says so on the terminal"

# --daemon, the pid file cannot be written (after the detach): still said
# by the process that was started, with the pid file's status, 73.
out=$(timeout 10 "$BIN/concurd" --daemon -b 127.0.0.1 -p 0 --pid-file /nonexistent/dir/pid 2>&1); st=$?
is "$st" 73 "--daemon, pid file in a missing directory: exit 73 from the starting process"
like "$out" '^concurd: --pid-file /nonexistent/dir/pid: No such file or directory$' \
	"--daemon, pid file: the reason on the terminal"

# --log-file: the file gets the error too, and so does the terminal.
out=$("$BIN/concurd" -b 127.0.0.1 -p "$TAKEN" --log-file "$T/err.log" 2>&1); st=$?
is "$st" 69 "--log-file, port taken: exit 69"
like "$out" "^concurd: cannot listen on 127\.0\.0\.1 port $TAKEN: Address already in use$" \
	"--log-file, port taken: the error on standard error"
like "$(cat "$T/err.log")" "^[0-9T:.-]+ concurd: cannot listen on 127\.0\.0\.1 port $TAKEN" \
	"--log-file, port taken: and in the log file"

# --syslog: the same on standard error.
out=$("$BIN/concurd" -b 127.0.0.1 -p "$TAKEN" --syslog 2>&1); st=$?
is "$st:$out" "69:concurd: cannot listen on 127.0.0.1 port $TAKEN: Address already in use" \
	"--syslog, port taken: the error on standard error, exit 69"

# A good start under --log-file says nothing on the terminal.
"$BIN/concurd" -b 127.0.0.1 -p 0 --log-file "$T/ok.log" -v 2>"$T/ok.err" &
SERVER_PID=$!; track "$SERVER_PID"
wait_for 5 grep -q 'listening on' "$T/ok.log"
stop_server
is "$(cat "$T/ok.err")" "" "--log-file, a good start and stop: nothing on standard error"

done_testing
