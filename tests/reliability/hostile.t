#!/bin/bash
# Hostile clients against every model (echo service): build/tests/rel_hostile
# resets, half-closes, floods, reads a byte a second, stays silent, writes a
# byte at a time or megabytes at once, closes under the server's writes,
# while normal clients check every echo byte-exact.  Afterwards the server
# still accepts, holds no more descriptors, threads or children than before,
# no zombie, and its memory is back near its baseline.  Then SIGTERM: exit 0.
#
# REL_HOSTILE_SECS (default 5) per model; REL_SEED replays a seed.
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_hostile" ] || skip_all "$HELP/rel_hostile is not built (make tools)"

# The file service's hostile clients (perl): heads left half-sent, heads
# dripped a byte at a time, garbage, oversized heads, downloads never read
# and then reset.  Meanwhile concurbench's normal HTTP clients check every
# byte; afterwards the server holds no more descriptors than before.
FILES=$T/files
mkdir -p "$FILES"
head -c 4194304 /dev/urandom >"$FILES/big.bin"
printf 'small\n' >"$FILES/s.txt"
file_hostile() {	# file_hostile DESC SECS
	local desc=$1 secs=$2 fds0 fds1 c=8 i out
	[ "$m" = iterative ] && { skip "$desc: one connection at a time"; return; }
	fds0=$(nfds_of "$SERVER_PID")
	timeout $((secs + 10)) perl -MIO::Socket::INET -e '
		my ($port, $secs) = @ARGV; my $end = time + $secs; my @hold;
		srand(7);
		while (time < $end) {
			for my $k (0 .. 7) {
				my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or next;
				my $r = $k % 4;
				if ($r == 0) { print $s "GET /s.txt HTTP/1.1\r\nHost: x\r\nX-Slow: "; }
				elsif ($r == 1) { print $s join("", map { chr(int(rand(256))) } 1 .. 300), "\r\n\r\n"; }
				elsif ($r == 2) { print $s "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"; }
				else { print $s "GET /", "a" x 20000, " HTTP/1.1\r\nHost: x\r\n\r\n"; }
				push @hold, $s;
			}
			select(undef, undef, undef, 0.2);
			while (@hold > 64) { my $s = shift @hold;
				setsockopt($s, 1, 13, pack("ii", 1, 0)); close $s; }
		}' "$PORT" "$secs" 2>/dev/null &
	local hp=$!
	track "$hp"
	out=$("$BIN/concurbench" 127.0.0.1 "$PORT" -m file --http --path /s.txt \
	    --path /big.bin --root "$FILES" -c "$c" -t 1 -d "$secs" --io-timeout 30s 2>&1)
	wait "$hp" 2>/dev/null
	if printf '%s\n' "$out" | grep -q '^errors  *none'; then
		pass "$desc: normal clients' files byte-exact among hostile ones"
	else
		fail "$desc: normal clients' files byte-exact among hostile ones" "$out"
	fi
	# The server lets go of them all (the head deadline, the linger).
	for i in $(seq 1 60); do
		fds1=$(nfds_of "$SERVER_PID")
		[ "$fds1" -le "$fds0" ] && break
		sleep 0.25
	done
	check "$desc: back to $fds0 descriptors ($fds1)" test "$fds1" -le "$fds0"
}

secs=${REL_HOSTILE_SECS:-5}
for m in $(rel_models); do
	rel_serve "$m" -m "$m" -s echo -b 127.0.0.1 || continue
	rel_hostile "$m" "$m" "$secs"
	rel_finish "$m"
	diag "$m: $(grep '^concurd: summary:' "$LOG" | cut -c1-200)"
	rel_serve "$m/file" -m "$m" -s file --root "$FILES" --file-head-timeout 2 \
	    -b 127.0.0.1 || continue
	file_hostile "$m/file" "$secs"
	rel_finish "$m/file"
done
done_testing
