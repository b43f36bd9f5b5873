#!/bin/bash
# ops-logging: -v writes, per connection, one open line (id, peer, worker,
# pid) and one close line (id, peer, bytes in and out, duration), in every
# model.  One rule for the form of a line, whatever the verbosity: on
# standard error "concurd: ..." with no timestamp, so the listening line
# scripts wait for looks the same with -v; in --log-file every line starts
# with a timestamp, -v or not.  -q keeps errors and warnings, and the lines
# that are always printed: listening, stats (asked for) and the summary.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}'

for m in iterative fork thread prefork prefork-fdpass prethread prethread-queue select poll epoll uring; do
	if ! start_server "$T/log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 -v; then
		wait "$SERVER_PID" 2>/dev/null
		if [ $? = 69 ]; then skip "$m: not available here"; continue; fi
		fail "$m -v: server starts"; continue
	fi
	rm -f "$T/l1" "$T/l2"
	a=$("$CL" talk 127.0.0.1 "$PORT" -d $'hello\n' -L "$T/l1")
	b=$("$CL" talk 127.0.0.1 "$PORT" -d $'0123456789abc\n' -L "$T/l2")
	read -r _ p1 <"$T/l1"; read -r _ p2 <"$T/l2"
	is "$a|$b" "hello|0123456789abc" "$m -v: two clients echoed"
	wait_for 5 eval '[ "$(grep -c ": closed, " "$T/log")" -ge 2 ]'
	stop_server
	log=$(cat "$T/log")
	for p in "$p1" "$p2"; do
		opens=$(grep -Ec "^concurd: conn [0-9]+ from 127\.0\.0\.1 port $p: open \(fd [0-9]+, worker -?[0-9]+, pid [0-9]+\)$" <<<"$log")
		is "$opens" 1 "$m -v: one open line for the client on port $p, with id, peer, worker, pid"
		closes=$(grep -Ec "^concurd: conn [0-9]+ from 127\.0\.0\.1 port $p: closed, [0-9]+ bytes in, [0-9]+ out, [0-9]+\.[0-9]{3} s$" <<<"$log")
		is "$closes" 1 "$m -v: one close line for the client on port $p, with bytes and duration"
	done
	like "$log" "conn [0-9]+ from 127\.0\.0\.1 port $p1: closed, 6 bytes in, 6 out," "$m -v: the close line counts 6 bytes each way"
	like "$log" "conn [0-9]+ from 127\.0\.0\.1 port $p2: closed, 14 bytes in, 14 out," "$m -v: and 14 for the second"
	id1=$(sed -En "s/.*conn ([0-9]+) from 127\.0\.0\.1 port $p1: open.*/\1/p" <<<"$log")
	id2=$(sed -En "s/.*conn ([0-9]+) from 127\.0\.0\.1 port $p2: open.*/\1/p" <<<"$log")
	check "$m -v: the two connections have distinct ids ($id1, $id2)" test -n "$id1" -a -n "$id2" -a "$id1" != "$id2"
	like "$log" "conn $id1 from 127\.0\.0\.1 port $p1: closed" "$m -v: open and close of a connection share its id"
done

# -v does not change the form of the lines on standard error.
start_server "$T/log" "$BIN/concurd" -m epoll -p 0 -b 127.0.0.1 -v
stop_server
like "$(head -n1 "$T/log")" '^concurd: listening on 127\.0\.0\.1 port [0-9]+ \(model epoll, service echo\)$' \
	"-v: the listening line on standard error is as without -v (no timestamp)"
unlike "$(cat "$T/log")" "$TS" "-v: no line on standard error has a timestamp"

# -q: errors and warnings only, and the lines concurd(8) says are always
# printed: listening (scripts wait for it), stats when asked, the summary.
start_server "$T/log" "$BIN/concurd" -m epoll -p 0 -b 127.0.0.1 -q --grace 1
is "$("$CL" talk 127.0.0.1 "${PORT:-0}" -d $'quiet\n' 2>&1)" quiet "-q: serves"
kill -USR1 "$SERVER_PID"
wait_for 5 grep -q 'stats:' "$T/log"
stop_server
is "$SERVER_STATUS" 0 "-q: stops with 0"
log=$(cat "$T/log")
like "$(sed -n 1p <<<"$log")" '^concurd: listening on 127\.0\.0\.1 port [0-9]+ \(model epoll, service echo\)$' \
	"-q: the listening line"
like "$(sed -n 2p <<<"$log")" '^concurd: stats: active=0 accepted=1 served=1 ' "-q: the stats line SIGUSR1 asked for"
like "$(sed -n 3p <<<"$log")" '^concurd: summary: model=epoll service=echo connections=1 ' \
	"-q: the summary, as concurd(8) says it is always printed"
is "$(wc -l <<<"$log" | tr -d ' ')" 3 "-q: nothing else (no connection lines, no grace notice)"

# --log-file: every line with a timestamp, with or without -v.
for v in "" -v; do
	"$BIN/concurd" -m epoll -p 0 -b 127.0.0.1 $v --log-file "$T/file$v.log" 2>"$T/stderr" &
	SERVER_PID=$!; track "$SERVER_PID"
	wait_for 5 grep -q 'listening on' "$T/file$v.log" 2>/dev/null
	PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$T/file$v.log" | head -n1)
	"$CL" talk 127.0.0.1 "${PORT:-0}" -d $'file\n' >/dev/null 2>&1
	stop_server
	log=$(cat "$T/file$v.log")
	n=$(grep -c . <<<"$log") stamped=$(grep -Ec "^$TS concurd: " <<<"$log")
	check "--log-file ${v:-without -v}: lines were written ($n)" test "$n" -ge 2
	is "$stamped" "$n" "--log-file ${v:-without -v}: every line starts with a timestamp"
	like "$log" "^$TS concurd: listening on 127" "--log-file ${v:-without -v}: the listening line too"
	is "$(cat "$T/stderr")" "" "--log-file ${v:-without -v}: nothing on standard error"
done
done_testing
