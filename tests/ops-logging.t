#!/bin/bash
# ops-logging: -v writes, per connection, one open line (id, peer, worker,
# pid) and one close line (id, peer, bytes in and out, duration), each with
# a timestamp, in every model; -q keeps only errors and warnings.
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
		opens=$(grep -Ec "^$TS concurd: conn [0-9]+ from 127\.0\.0\.1 port $p: open \(fd [0-9]+, worker -?[0-9]+, pid [0-9]+\)$" <<<"$log")
		is "$opens" 1 "$m -v: one open line for the client on port $p, with timestamp, id, peer, worker, pid"
		closes=$(grep -Ec "^$TS concurd: conn [0-9]+ from 127\.0\.0\.1 port $p: closed, [0-9]+ bytes in, [0-9]+ out, [0-9]+\.[0-9]{3} s$" <<<"$log")
		is "$closes" 1 "$m -v: one close line for the client on port $p, with bytes and duration"
	done
	like "$log" "conn [0-9]+ from 127\.0\.0\.1 port $p1: closed, 6 bytes in, 6 out," "$m -v: the close line counts 6 bytes each way"
	like "$log" "conn [0-9]+ from 127\.0\.0\.1 port $p2: closed, 14 bytes in, 14 out," "$m -v: and 14 for the second"
	id1=$(sed -En "s/.*conn ([0-9]+) from 127\.0\.0\.1 port $p1: open.*/\1/p" <<<"$log")
	id2=$(sed -En "s/.*conn ([0-9]+) from 127\.0\.0\.1 port $p2: open.*/\1/p" <<<"$log")
	check "$m -v: the two connections have distinct ids ($id1, $id2)" test -n "$id1" -a -n "$id2" -a "$id1" != "$id2"
	like "$log" "conn $id1 from 127\.0\.0\.1 port $p1: closed" "$m -v: open and close of a connection share its id"
done

# -q: errors and warnings only, and the listening line scripts wait for
# (concurd(8): printed even with -q).
start_server "$T/log" "$BIN/concurd" -m epoll -p 0 -b 127.0.0.1 -q
is "$("$CL" talk 127.0.0.1 "${PORT:-0}" -d $'quiet\n' 2>&1)" quiet "-q: serves"
stop_server
is "$SERVER_STATUS" 0 "-q: stops with 0"
like "$(cat "$T/log")" '^concurd: listening on 127\.0\.0\.1 port [0-9]+ \(model epoll, service echo\)$' \
	"-q: only the listening line is logged for a clean run (no connection lines, no summary)"
done_testing
