#!/usr/bin/env bash
# file-send.t: how the file service's bytes leave, under each driver
# (blocking: thread; readiness: epoll; completion: uring): a 0-byte file,
# a 5 GiB sparse file read past 4 GiB (HTTP Range), a file truncated while
# it is sent (that connection ends, logged, the server goes on), a file
# that grows while it is sent (sent at the length it had), a file not in
# the page cache (epoll and uring: read by the disk pool's threads, not
# the loop; every byte right; and for select, poll, epoll and uring with a
# lower descriptor idle, read slowly; a client that leaves, and a stop,
# while the pool reads), and wrk and ab, keep-alive, without an error;
# a window evicted after its probe (epoll and uring: to the pool); for
# uring, a tmpfs root (no RWF_NOWAIT there).
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "concurd is not built"
command -v curl >/dev/null || skip_all "curl is not installed"

R=$T/root
mkdir -p "$R"
: >"$R/empty"
printf 'notes\n' >"$R/notes.txt"
head -c 2000000 /dev/urandom >"$R/cold.bin"
head -c 8000000 /dev/urandom >"$R/cold8.bin"
# 5 GiB, sparse: a marker past 4 GiB, nothing else on disk.
truncate -s 5G "$R/huge.bin"
printf 'MARKER-4.5G' | dd of="$R/huge.bin" bs=1 seek=4831838208 conv=notrunc status=none
check "the 5 GiB file is sparse (a few blocks on disk)" test "$(du -k "$R/huge.bin" | cut -f1)" -lt 1024

# (Written pages are dirty, and stay in the cache until written back.)
evict() { sync "$1"; dd if="$1" iflag=nocache count=0 status=none; }

# Every readiness backend: a cold file for a connection above an idle one.
# While the disk pool reads, the connection is watched for nothing; once
# the job's descriptor (the highest) is closed, the connection must be
# watched again (select once lost it: its highest descriptor dropped to
# the idle one's, and the download waited forever).
for m in select poll epoll uring; do
	if ! start_server "$T/log.$m.idle" "$BIN/concurd" -m "$m" -w 1 -s file --root "$R" -b 127.0.0.1 -p 0; then
		if grep -q 'io_uring' "$T/log.$m.idle"; then skip "$m: unavailable here"; continue; fi
		fail "$m: concurd starts"; continue
	fi
	exec {idle}<>"/dev/tcp/127.0.0.1/$PORT"
	evict "$R/cold8.bin"
	# Read slowly: the socket fills, and the rest waits to be writable.
	curl -sS --max-time 20 --limit-rate 4M -o "$T/cold.$m" "http://127.0.0.1:$PORT/cold8.bin" 2>"$T/cold.$m.err"
	check "$m: a cold file above an idle connection: all of it, every byte right ($(cat "$T/cold.$m.err"))" \
	    cmp -s "$T/cold.$m" "$R/cold8.bin"
	exec {idle}>&-
	stop_server
done

# The disk pool's threads are named so (ps -L shows them).
disk_threads() { cat /proc/"$SERVER_PID"/task/*/comm 2>/dev/null | grep -cx concurd-disk; }

for m in thread epoll uring; do
	LOG=$T/log.$m
	if ! start_server "$LOG" "$BIN/concurd" -m "$m" -s file --root "$R" -b 127.0.0.1 -p 0; then
		if grep -q 'io_uring' "$LOG"; then skip "$m: unavailable here"; continue; fi
		fail "$m: concurd starts"; continue
	fi
	U=http://127.0.0.1:$PORT

	# Not in the page cache (first: the pool starts with its first job).
	check "$m: no disk pool before a cold file" test "$(disk_threads)" = 0
	evict "$R/cold.bin"
	curl -sS -o "$T/cold" "$U/cold.bin"
	check "$m: a file not in the page cache: every byte right" cmp -s "$T/cold" "$R/cold.bin"
	if [ "$m" != thread ]; then
		check "$m: ...read by the disk pool's threads ($(disk_threads) of them)" \
		    test "$(disk_threads)" -gt 0
	fi

	o=$(curl -sS -D - -o "$T/e" "$U/empty")
	like "$o" 'Content-Length: 0' "$m: a 0-byte file: Content-Length 0"
	check "$m: ...and no body" test ! -s "$T/e"
	o=$(printf '/empty\r\n' | timeout 5 curl -sS "gopher://127.0.0.1:$PORT/0/empty" | wc -c)
	is "$o" 0 "$m: a 0-byte file over Gopher: nothing, then the close"

	o=$(curl -sS -I "$U/huge.bin" | tr -d '\r' | sed -n 's/^Content-Length: //p')
	is "$o" 5368709120 "$m: 5 GiB: the length past 32 bits"
	o=$(curl -sS -r 4831838208-4831838218 "$U/huge.bin")
	is "$o" MARKER-4.5G "$m: 5 GiB: a range past 4 GiB is read from there"
	o=$(curl -sS -r -5 "$U/huge.bin" | od -An -tx1 | tr -d ' \n')
	is "$o" 0000000000 "$m: 5 GiB: its last bytes"

	# Truncated while it is sent: 64 MiB (sparse), read slowly, cut to 1 MiB.
	truncate -s 64M "$R/shrink.bin"
	curl -sS --limit-rate 8M -o "$T/shrink" "$U/shrink.bin" 2>"$T/curl.err" &
	cpid=$!
	track "$cpid"
	sleep 0.5
	truncate -s 1M "$R/shrink.bin"
	wait "$cpid"; st=$?
	is "$st" 18 "$m: a file truncated mid-send: the client sees it cut short (curl 18)"
	check "$m: ...having got less than promised" test "$(stat -c %s "$T/shrink")" -lt 67108864
	wait_for 5 grep -q 'ended [0-9]* bytes early; closing' "$LOG"
	like "$(cat "$LOG")" 'the file ended [0-9]+ bytes early; closing' "$m: ...and the server logs it"
	is "$(curl -s -o /dev/null -w '%{http_code}' "$U/notes.txt")" 200 "$m: ...and serves on"

	# Grown while it is sent: the length it had.
	rm -f "$T/grow"
	head -c 8388608 /dev/zero >"$R/grow.bin"
	curl -sS --limit-rate 8M -o "$T/grow" "$U/grow.bin" 2>"$T/curl.err" &
	cpid=$!
	track "$cpid"
	# Grown once the server is sending it (it took the length then).
	wait_for 10 test -s "$T/grow"
	head -c 1048576 /dev/zero >>"$R/grow.bin"
	wait "$cpid"; st=$?
	is "$st/$(stat -c %s "$T/grow")" "0/8388608" "$m: a file that grows mid-send: sent whole, at its old length"
	rm -f "$R/grow.bin" "$R/shrink.bin"

	if command -v wrk >/dev/null; then
		o=$(wrk -t1 -c8 -d1s "$U/notes.txt" 2>&1)
		like "$o" 'Requests/sec: +[1-9]' "$m: wrk keep-alive: requests answered"
		unlike "$o" 'Non-2xx|Socket errors' "$m: wrk: no error"
	else
		skip "$m: wrk is not installed"
	fi
	if command -v ab >/dev/null; then
		o=$(ab -k -n 400 -c 8 "$U/cold.bin" 2>&1)
		like "$o" 'Complete requests: +400' "$m: ab -k: 400 requests"
		like "$o" 'Failed requests: +0' "$m: ab: none failed"
		like "$o" 'Keep-Alive requests: +400' "$m: ab: all kept alive (HTTP/1.0)"
	else
		skip "$m: ab is not installed"
	fi
	stop_concurd
	is "$SERVER_STATUS" 0 "$m: exits 0 on SIGTERM"
done
# A client that leaves while the disk pool reads its window, and a stop
# while another does: the loop and the pool thread each let go of the job
# (make asan's reports would show a use after free or a double free; the
# runtime writes them to its log_path, not here), the server serves on
# and exits 0.  The disk is slowed to 1 MB/s for the server (a cgroup, as
# root) so that the pool is still reading when the client goes.
CG=
trap '_cleanup; [ -n "$CG" ] && rmdir "$CG" 2>/dev/null' EXIT
slow_disk() {	# slow_disk PID FILE: its reads of FILE's disk at 1 MB/s
	local dev
	dev=$(stat -c '%Hd:%Ld' "$2")
	[ "$(id -u)" = 0 ] && [ "$dev" != 0:0 ] || return 1
	if [ -z "$CG" ] && [ -d /sys/fs/cgroup/blkio ]; then
		CG=/sys/fs/cgroup/blkio/concurd-test-$$
		mkdir -p "$CG" && echo "$dev 1000000" >"$CG/blkio.throttle.read_bps_device" || return 1
	elif [ -z "$CG" ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		CG=/sys/fs/cgroup/concurd-test-$$
		echo +io >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
		mkdir -p "$CG" && echo "$dev rbps=1000000" >"$CG/io.max" || return 1
	fi
	[ -n "$CG" ] && echo "$1" >"$CG/cgroup.procs"
} 2>/dev/null
for m in epoll uring; do
	LOG=$T/log.$m.leave
	if ! start_server "$LOG" "$BIN/concurd" -m "$m" -w 1 -s file --root "$R" -b 127.0.0.1 -p 0; then
		if grep -q 'io_uring' "$LOG"; then skip "$m: unavailable here"; continue; fi
		fail "$m: concurd starts"; continue
	fi
	U=http://127.0.0.1:$PORT
	if ! slow_disk "$SERVER_PID" "$R/cold8.bin"; then
		skip "$m: a client leaving while the pool reads: no way to slow the disk here (root, a cgroup)"
		stop_concurd; continue
	fi
	evict "$R/cold8.bin"
	curl -sS --max-time 20 -o /dev/null "$U/cold8.bin" 2>/dev/null &
	cpid=$!
	track "$cpid"
	if ! wait_for 10 eval '[ "$(disk_threads)" -gt 0 ]'; then
		fail "$m: a cold file at 1 MB/s: the disk pool reads it" \
		    "threads: $(cat /proc/"$SERVER_PID"/task/*/comm | sort | uniq -c | tr '\n' ' ')" \
		    "$(tail -n 5 "$LOG")"
	else
		pass "$m: a cold file at 1 MB/s: the disk pool reads it"
	fi
	kill "$cpid" 2>/dev/null
	wait "$cpid"; st=$?
	check "$m: ...and its client leaves while the pool reads the first 2 MiB (curl killed: $st)" test "$st" -gt 128
	is "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$U/notes.txt")" 200 "$m: ...and the server serves on"
	evict "$R/cold8.bin"
	curl -sS --max-time 20 -o /dev/null "$U/cold8.bin" 2>/dev/null &
	cpid=$!
	track "$cpid"
	sleep 0.5
	stop_concurd
	is "$SERVER_STATUS/$STOP_HUNG" 0/0 "$m: SIGTERM while the pool reads a window: exits 0, at once"
	wait "$cpid"; st=$?
	check "$m: ...and that client sees its download cut short (curl $st)" test "$st" != 0
done
[ -n "$CG" ] && rmdir "$CG" 2>/dev/null && CG=


# epoll and uring: a window the probe found in the page cache, whose pages
# leave it before they are sent (evicted mid-download), goes to the disk
# pool: uring's read says EAGAIN (RWF_NOWAIT), epoll probes each turn of a
# window again; neither has the loop wait on the disk for the rest of the
# window.  -vv says which way each window went.
head -c 67108864 /dev/urandom >"$R/c64.bin"
sync "$R/c64.bin"
for m in epoll uring; do
	LOG=$T/log.$m.evict
	if ! start_server "$LOG" "$BIN/concurd" -m "$m" -w 1 -vv -s file --root "$R" -b 127.0.0.1 -p 0; then
		if grep -q 'io_uring' "$LOG"; then skip "$m: unavailable here"; continue; fi
		fail "$m: concurd -vv starts"; continue
	fi
	seen=
	for d in 0.6 0.9 1.2; do	# (an eviction at a window's edge is a cold probe)
		cat "$R/c64.bin" >/dev/null
		from=$(( $(wc -l <"$LOG") + 1 ))
		curl -sS --max-time 30 --limit-rate 8M -o "$T/c64" "http://127.0.0.1:$PORT/c64.bin" 2>"$T/c64.err" &
		cpid=$!
		track "$cpid"
		sleep "$d"
		evict "$R/c64.bin"
		wait "$cpid"
		check "$m: a file evicted mid-download (after ${d} s): every byte right ($(cat "$T/c64.err"))" \
		    cmp -s "$T/c64" "$R/c64.bin"
		if tail -n +"$from" "$LOG" | grep -q 'left the page cache since the probe: the disk pool reads them'; then
			seen=$d; break
		fi
	done
	if [ -n "$seen" ]; then
		pass "$m: ...its window, probed cached, went to the disk pool when its pages left (after $seen s)"
	else
		fail "$m: ...its window, probed cached, went to the disk pool when its pages left" \
		    "$(grep -c 'disk pool reads them' "$LOG") windows to the pool" "$(tail -n 3 "$LOG")"
	fi
	stop_concurd
	is "$SERVER_STATUS" 0 "$m: ...exits 0 on SIGTERM"
done
rm -f "$R/c64.bin"

# uring on a file system whose reads cannot say EAGAIN (tmpfs here answers
# RWF_NOWAIT with EOPNOTSUPP): the loop reads without the flag, every byte
# right, short and long files.  Needs root, to mount one.
M=$T/tmpfs
mkdir -p "$M"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=8m concurd-test "$M" 2>/dev/null; then
	head -c 3000 /dev/urandom >"$M/s.bin"
	head -c 3000000 /dev/urandom >"$M/l.bin"
	LOG=$T/log.uring.tmpfs
	if start_server "$LOG" "$BIN/concurd" -m uring -w 1 -v -s file --root "$M" -b 127.0.0.1 -p 0; then
		for i in 1 2; do
			for f in s l; do
				curl -sS --max-time 10 -o "$T/t.$f" "http://127.0.0.1:$PORT/$f.bin" 2>"$T/t.err"
				check "uring, a tmpfs root: $f.bin, request $i: every byte right ($(cat "$T/t.err"))" \
				    cmp -s "$T/t.$f" "$M/$f.bin"
			done
		done
		stop_concurd
		is "$SERVER_STATUS" 0 "uring, a tmpfs root: exits 0 on SIGTERM"
		# Again, on a new server, 16 clients at once: reads with the
		# flag still in flight when the first says EOPNOTSUPP are
		# each asked again, not ended.
		if start_server "$LOG.2" "$BIN/concurd" -m uring -w 1 -s file --root "$M" -b 127.0.0.1 -p 0; then
			o=$("$BIN/concurbench" 127.0.0.1 "$PORT" -m file --http --path /l.bin --root "$M" \
			    -c 16 -t 1 -n 64 --io-timeout 10s 2>&1)
			like "$o" 'errors +none' "uring, a tmpfs root: 16 clients at once, every byte right" || diag "$o"
			stop_concurd
			is "$SERVER_STATUS" 0 "uring, a tmpfs root: ...exits 0 on SIGTERM"
		else
			fail "uring: concurd starts on a tmpfs root, again"
		fi
		unlike "$(cat "$LOG" "$LOG.2")" 'reading the file' "uring, a tmpfs root: no read failed"
	elif grep -q 'io_uring' "$LOG"; then
		skip "uring: unavailable here"
	else
		fail "uring: concurd starts on a tmpfs root"
	fi
	umount "$M"
else
	skip "uring, a tmpfs root: not root, or no tmpfs mount here"
fi

done_testing
