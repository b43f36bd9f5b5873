#!/usr/bin/env bash
# file-http.t: the file service's HTTP/1.1, request by request, on raw
# sockets: GET and HEAD, keep-alive and pipelining, HTTP/1.0, 304, every
# Range edge (0-0, the last byte, a suffix, past the end, a list), curl -C -
# resuming, the strict parsing RFC 9112 asks for (request smuggling's
# pairs, obs-fold, bad bytes, two Hosts...), each error's status and
# whether the connection stays, the caps (414, 431), the request-head
# deadline (408, silent and dripping), and a bad --root refused at start.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "concurd is not built"
command -v curl >/dev/null || skip_all "curl is not installed"

R=$T/root
mkdir -p "$R/docs"
printf '0123456789abcdef\n' >"$R/notes.txt"	# 17 bytes
: >"$R/empty.txt"
start_server "$T/log" "$BIN/concurd" -m epoll -s file --root "$R" \
    --file-head-timeout 1 -b 127.0.0.1 -p 0 || { fail "concurd starts"; done_testing; exit 1; }

# raw TEXT: TEXT (printf's escapes) on a new connection, then our
# half-close; the answer, up to the server's close (3 s at most).
raw() {
	printf "$1" | timeout 5 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]")
		    or die "connect: $!";
		local $/; my $req = <STDIN>; print $s $req; shutdown($s, 1);
		alarm 3; my $b; while (sysread($s, $b, 65536)) { print $b }' "$PORT"
}
# rawka TEXT: the same without the half-close, so keep-alive shows.
rawka() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	printf "$1" >&3
	timeout 3 cat <&3
	exec 3<&-
}
status_of() { head -n1 | tr -d '\r' | cut -d' ' -f2; }
field() { tr -d '\r' | sed -n "s/^$1: //Ip" | head -n1; }
# closed TEXT: the server closed after its answer (cat ended before 3 s).
closes() {
	local t0=$SECONDS
	rawka "$1" >/dev/null
	[ $((SECONDS - t0)) -lt 2 ]
}

C='Host: t\r\nConnection: close\r\n'

# --- GET, HEAD, keep-alive ----------------------------------------------------
out=$(raw "GET /notes.txt HTTP/1.1\r\n${C}\r\n")
is "$(status_of <<<"$out")" 200 "GET: 200"
is "$(field Content-Length <<<"$out")" 17 "GET: Content-Length"
is "$(field Content-Type <<<"$out")" "text/plain; charset=utf-8" "GET: Content-Type from the extension"
like "$(field Last-Modified <<<"$out")" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$' "GET: Last-Modified, an IMF-fixdate"
like "$(field Date <<<"$out")" 'GMT$' "GET: Date"
is "$(printf '%s' "$out" | tail -c 16)" 0123456789abcdef "GET: the body"
out=$(raw "HEAD /notes.txt HTTP/1.1\r\n${C}\r\n")
is "$(field Content-Length <<<"$out")" 17 "HEAD: the Content-Length a GET would have"
unlike "$out" 0123456789 "HEAD: no body"
out=$(raw "GET /notes.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /notes.txt HTTP/1.1\r\n${C}\r\n")
is "$(grep -c '^HTTP/1.1 200' <<<"$out")" 3 "pipelining: three requests in one write, three answers"
is "$(field Content-Length <<<"$(sed -n '/^HTTP/{n;p;}' <<<"$out" >/dev/null; printf '%s' "$out" | awk '/^HTTP/{k++} k==2')")" 0 "pipelining: the answers in order"
check "HTTP/1.1: the connection stays after an answer" eval '! closes "GET /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n"'
check "HTTP/1.0: closed after the answer" closes "GET /notes.txt HTTP/1.0\r\n\r\n"
out=$(raw "GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /notes.txt HTTP/1.0\r\n\r\n")
is "$(grep -c '^HTTP/1.1 200' <<<"$out")" 2 "HTTP/1.0 keep-alive: a second request on the connection"
like "$out" 'Connection: keep-alive' "HTTP/1.0 keep-alive: said so"
out=$(curl -sS -o /dev/null -w '%{num_connects} %{http_code}' "http://127.0.0.1:$PORT/notes.txt" "http://127.0.0.1:$PORT/empty.txt")
is "$out" "1 2000 200" "curl: two requests, one connection"

# --- conditional and ranges ---------------------------------------------------
lm=$(raw "HEAD /notes.txt HTTP/1.1\r\n${C}\r\n" | field Last-Modified)
is "$(raw "GET /notes.txt HTTP/1.1\r\nIf-Modified-Since: $lm\r\n${C}\r\n" | status_of)" 304 "If-Modified-Since the Last-Modified: 304"
is "$(raw "GET /notes.txt HTTP/1.1\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n${C}\r\n" | status_of)" 200 "If-Modified-Since long ago: 200"
is "$(raw "GET /notes.txt HTTP/1.1\r\nIf-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n${C}\r\n" | status_of)" 200 "If-Modified-Since in RFC 850 form: read"
range() {	# range SPEC: "STATUS|Content-Range|body"
	local o
	o=$(raw "GET /notes.txt HTTP/1.1\r\nRange: $1\r\n${C}\r\n")
	printf '%s|%s|%s' "$(status_of <<<"$o")" "$(field Content-Range <<<"$o")" \
	    "$(printf '%s' "$o" | sed '1,/^\r$/d')"
}
is "$(range bytes=0-0)" "206|bytes 0-0/17|0" "Range 0-0: the first byte"
is "$(range bytes=16-16)" "206|bytes 16-16/17|" "Range: the last byte (a newline)"
is "$(range bytes=-3)" "206|bytes 14-16/17|ef" "Range -3: a suffix"
is "$(range bytes=10-)" "206|bytes 10-16/17|abcdef" "Range 10-: to the end"
is "$(range bytes=10-1000)" "206|bytes 10-16/17|abcdef" "Range past the end: cut at it"
is "$(range bytes=17-)" "416|bytes */17|Range Not Satisfiable" "Range from past the end: 416"
is "$(range bytes=-0)" "416|bytes */17|Range Not Satisfiable" "Range -0: 416"
is "$(range bytes=0-1,3-4 | cut -d'|' -f1)" 200 "a list of ranges: the whole file (200)"
is "$(range bytes=5-2 | cut -d'|' -f1)" 200 "a range backwards: ignored (200)"
is "$(range items=0-1 | cut -d'|' -f1)" 200 "another unit: ignored (200)"
o=$(raw "GET /notes.txt HTTP/1.1\r\nRange: bytes=0-0\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n${C}\r\n")
is "$(status_of <<<"$o")" 200 "If-Range with another date: the whole file"
head -c 3000000 /dev/urandom >"$R/docs/big.bin"
head -c 1000000 "$R/docs/big.bin" >"$T/part.bin"
curl -sS -C - -o "$T/part.bin" "http://127.0.0.1:$PORT/docs/big.bin" 2>"$T/curl.err"
check "curl -C - resumes a partial download to the whole file" cmp -s "$T/part.bin" "$R/docs/big.bin"

# --- strict parsing -----------------------------------------------------------
bad() {	# bad WANT DESC REQUEST: the status, and the connection closed
	local o
	o=$(raw "$3")
	is "$(status_of <<<"$o")" "$1" "$2: $1"
}
bad 400 "Content-Length with Transfer-Encoding (smuggling)" "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc"
bad 400 "Transfer-Encoding on GET" "GET /notes.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
bad 400 "two Content-Length" "GET /notes.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"
bad 400 "a body on GET" "GET /notes.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
bad 400 "Content-Length not a number" "GET /notes.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1,1\r\n\r\n"
bad 400 "obs-fold" "GET /notes.txt HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"
bad 400 "a space before the colon" "GET /notes.txt HTTP/1.1\r\nHost : t\r\n\r\n"
bad 400 "a NUL in a value" "GET /notes.txt HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n"
bad 400 "a bare CR in the request line" "GET /notes.txt\rX HTTP/1.1\r\nHost: t\r\n\r\n"
bad 400 "HTTP/1.1 without Host" "GET /notes.txt HTTP/1.1\r\nConnection: close\r\n\r\n"
bad 400 "two Hosts" "GET /notes.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
bad 400 "a Host with a space" "GET /notes.txt HTTP/1.1\r\nHost: a b\r\n\r\n"
bad 400 "two spaces in the request line" "GET  /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n"
bad 400 "a malformed version" "GET /notes.txt HTTP/1.x\r\nHost: t\r\n\r\n"
bad 400 "a bad %-escape" "GET /no%%zztes.txt HTTP/1.1\r\nHost: t\r\n\r\n"
bad 400 "an encoded NUL" "GET /notes.txt%%00.html HTTP/1.1\r\nHost: t\r\n\r\n"
bad 400 "a target that is no path" "GET notes.txt HTTP/1.1\r\nHost: t\r\n\r\n"
bad 505 "HTTP/2.0" "GET /notes.txt HTTP/2.0\r\nHost: t\r\n\r\n"
bad 405 "POST" "POST /notes.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"
bad 405 "an unknown method" "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n"
like "$(raw "DELETE /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n")" 'Allow: GET, HEAD' "405 says Allow: GET, HEAD"
t0=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /notes.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' >&3
o=$(timeout 6 cat <&3)
exec 3<&-
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "$o" 'Connection: close' "a 400 says Connection: close"
check "...and the server closes, once the client is done or 2 s after (${ms} ms)" \
    test "$ms" -ge 1500 -a "$ms" -lt 4000
check "a 404 keeps it" eval '! closes "GET /nothere HTTP/1.1\r\nHost: t\r\n\r\n"'
bad 404 "a missing file" "GET /nothere HTTP/1.1\r\n${C}\r\n"
long=$(head -c 9000 /dev/zero | tr '\0' a)
bad 414 "a request line over 8k" "GET /$long HTTP/1.1\r\nHost: t\r\n\r\n"
bad 431 "a head over 16k" "GET /notes.txt HTTP/1.1\r\nHost: t\r\nX-A: $long\r\nX-B: $long\r\n\r\n"
hdrs=$(for i in $(seq 1 120); do printf 'X-%d: v\\r\\n' "$i"; done)
bad 431 "over 100 header lines" "GET /notes.txt HTTP/1.1\r\nHost: t\r\n$hdrs\r\n"
is "$(raw "\r\n\r\nGET /notes.txt HTTP/1.1\r\n${C}\r\n" | status_of)" 200 "empty lines before the request line: skipped"
is "$(raw "GET http://t/notes.txt HTTP/1.1\r\n${C}\r\n" | status_of)" 200 "absolute-form target"
is "$(raw "GET /notes.txt?x=1 HTTP/1.1\r\n${C}\r\n" | status_of)" 200 "a query is not part of the path"
is "$(raw "GET /notes.txt HTTP/1.1\nHost: t\nConnection: close\n\n" | status_of)" 200 "bare LF line ends"

# --- the request-head deadline (--file-head-timeout 1) ----------------------------
t0=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /notes.txt HTTP/1.1\r\nHost: t\r\n' >&3
o=$(timeout 5 cat <&3)
exec 3<&-
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(status_of <<<"$o")" 408 "a head left incomplete: 408"
check "...after about the deadline, not never (${ms} ms)" test "$ms" -ge 900 -a "$ms" -lt 4000
t0=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
( for c in G E T ' ' / x ' ' H T T P / 1 . 1 $'\r' $'\n' X - A : ' ' a a a a a a a a a a; do
	printf '%s' "$c" >&3 2>/dev/null || exit 0; sleep 0.1; done ) &
drip=$!
track "$drip"
o=$(timeout 6 cat <&3)
exec 3<&-
kill "$drip" 2>/dev/null; wait "$drip" 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(status_of <<<"$o")" 408 "a head sent a byte at a time: 408"
check "...at the deadline, not after the last byte (${ms} ms)" test "$ms" -lt 3000
like "$(cat "$T/log")" "from 127.0.0.1: no complete request within 1000 ms" "the timeout is logged with the client"
is "$(raw "GET /notes.txt HTTP/1.1\r\n${C}\r\n" | status_of)" 200 "the server answers after all that"

stop_concurd
is "$SERVER_STATUS" 0 "concurd exits 0 on SIGTERM"

# --- a bad root ------------------------------------------------------------------
out=$("$BIN/concurd" -s file --root "$T/nonexistent" -b 127.0.0.1 -p 0 2>&1); st=$?
is "$st" 64 "a missing --root: exit 64 at the start"
like "$out" 'nonexistent: No such file' "...saying so"
out=$("$BIN/concurd" -s file --root "$R/notes.txt" -b 127.0.0.1 -p 0 2>&1); st=$?
is "$st/$(grep -c 'not a directory' <<<"$out")" "64/1" "a file as --root: exit 64, not a directory"
out=$("$BIN/concurd" -s file -b 127.0.0.1 -p 0 2>&1); st=$?
is "$st/$(grep -c 'needs --root' <<<"$out")" "64/1" "no --root: exit 64"
done_testing
