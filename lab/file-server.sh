#!/bin/bash
# File servers (the lab, part 1): a sequential one and a concurrent one,
# both concurd -s file, and how the file leaves the server.
#
# A client that downloads a large file slowly holds an iterative server for
# the whole download: a second client, asking for a file of a few bytes,
# is connected (the kernel did that) but not served until the first is
# done.  The fork model gives each client a process: the second client's
# file comes at once.  strace shows how the bytes go: no read() of the file
# and no write() of its bytes, but a few sendfile(2) calls that move it
# from the page cache to the socket inside the kernel.
#
# Look for:
#  - iterative: client B's tiny file takes as long as A's download;
#  - fork: B's file comes at once while A still downloads;
#  - strace: the 48 MiB leave in a handful of sendfile calls, and the
#    server never read()s the file.
. "$(dirname "$0")/lib.sh"
need "$BIN/concurd"
command -v curl >/dev/null || skip_scenario "curl is not installed"
explain

R=$W/files
mkdir -p "$R"
truncate -s 48M "$R/large.bin"		# sparse: no disk used
printf 'a small file\n' >"$R/small.txt"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
slower() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'; }

# race MODEL: A downloads large.bin at 16 MB/s; 0.3 s later B asks for
# small.txt.  Sets TA and TB, how long each took.
race() {
	local t0 a
	start_server "$W/log-$1" "$BIN/concurd" -m "$1" -s file --root "$R" -b 127.0.0.1 -p 0 ||
		{ observe 1 "$1 server starts"; finish; }
	say "concurd -m $1 -s file --root $R: pid $SERVER_PID, port $PORT"
	t0=$(now)
	( curl -s --limit-rate 16M -o "$W/a.bin" "http://127.0.0.1:$PORT/large.bin"
	  since "$t0" >"$W/ta" ) &
	a=$!
	track "$a"
	sleep 0.3
	curl -s --max-time 20 -o "$W/b.txt" "gopher://127.0.0.1:$PORT/0/small.txt"
	TB=$(since "$t0")
	wait "$a"
	TA=$(cat "$W/ta")
	say "A (48 MiB at 16 MB/s) took $TA s; B (13 bytes, asked 0.3 s in) was done at $TB s"
	expect "$1: both files arrived whole" cmp -s "$W/b.txt" "$R/small.txt"
	stop_server "$SERVER_PID"
}

part "1. Sequential: concurd -m iterative -s file"
race iterative
slower "$TB" 2; observe $? "iterative: B waited for A's download (B done after ${TB} s)"

part "2. Concurrent: concurd -m fork -s file"
race fork
slower 1 "$TB"; observe $? "fork: B's file came at once (${TB} s) while A still downloaded (${TA} s)"

part "3. How the file leaves: strace -f -e trace=sendfile,read,write"
if ! command -v strace >/dev/null; then
	skip_scenario "strace is not installed"
fi
start_server "$W/log-st" strace -f -qq -e trace=sendfile,read,write,sendmsg \
    -o "$W/trace" "$BIN/concurd" -m fork -s file --root "$R" -b 127.0.0.1 -p 0 ||
	{ observe 1 "concurd under strace starts"; finish; }
curl -s -o "$W/a.bin" "http://127.0.0.1:$PORT/large.bin"
expect "the 48 MiB arrived whole" cmp -s "$W/a.bin" "$R/large.bin"
# Stop concurd itself (strace's child): strace then ends with it.
traced=$(children_of "$SERVER_PID" | head -n1)
[ -n "$traced" ] && track "$traced" && stop_server "$traced"
stop_server "$SERVER_PID"
calls=$(grep -c 'sendfile(' "$W/trace")
sent=$(sed -n 's/.*sendfile(.*= \([0-9][0-9]*\)$/\1/p' "$W/trace" | awk '{s += $1} END {print s + 0}')
show_as "grep sendfile $W/trace" grep 'sendfile(' "$W/trace"
say "$calls sendfile calls moved $sent bytes"
expect_eq "$sent" 50331648 "sendfile moved the whole file (48 MiB)"
slower 9 "$calls"; observe $? "in a handful of calls ($calls)"
reads=$(grep -c 'read(' "$W/trace")
rbytes=$(sed -n 's/.*read(.*= \([0-9][0-9]*\)$/\1/p' "$W/trace" | awk '{s += $1} END {print s + 0}')
big=$(sed -n 's/.*write(.*= \([0-9][0-9]*\)$/\1/p' "$W/trace" | awk '$1 > 65536' | count)
expect_eq "$big" 0 "no write() of the file's bytes"
say "read() calls: $reads, $rbytes bytes in all (the request, not the file:" \
    "the file's bytes never enter the server)"
slower 1048576 "$rbytes"; observe $? "the server read() its request, never the 48 MiB"
say "sendfile(2) asks the kernel to copy from the page cache straight to the" \
    "socket: no read() into the server, no write() back out, no copy through" \
    "user space; a blocking socket takes the whole file in one call."
finish
