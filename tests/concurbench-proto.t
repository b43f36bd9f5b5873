#!/bin/bash
# Any request/response protocol: a daytime server (it speaks first, a
# line: --request '' --reply-until '\n'), a line protocol run per
# connection (concurd -s exec -- sed: a template with {conn} and {req} and
# the exact answer expected), a sized reply (nbytes: --reply-bytes), a
# binary payload from a file, a terminator split and overlapping itself;
# wrong answers and extra bytes are verify errors.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"
sed --version 2>/dev/null | grep -q GNU || skip_all "GNU sed is needed (-u, \\U)"

start_server "$T/day.log" "$BIN/concurd" -s daytime -p 0 -b 127.0.0.1 || exit 1
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -m connrate --request '' --reply-until '\n' -n 200 -c 2 --json 2>"$T/err")
is "$?" 0 "daytime, --request '' --reply-until '\\n': exit 0"
is "$(jq -r '[.requests, .errors.total, .connections_opened] | @tsv' <<<"$out")" "200	0	200" "daytime: 200 answers on 200 connections"
is "$(jq -r '.parameters.answer' <<<"$out")" 'up to \n' "JSON: the answer rule"
like "$(jq -r '.bytes_received' <<<"$out")" '^[0-9]+$' "daytime: bytes counted"
ok $(( $(jq -r '.bytes_received' <<<"$out") >= 200 * 20 ? 0 : 1 )) "daytime: a line each"

start_server "$T/exec.log" "$BIN/concurd" -m fork -s exec -p 0 -b 127.0.0.1 -- sed -u 's/.*/\U&/' || exit 1
EXEC=$PORT
out=$(timeout 30 "$CB" 127.0.0.1 "$EXEC" -c 3 -n 60 --request 'get {conn}/{req}\n' --expect 'GET {conn}/{req}\n' --json 2>"$T/err")
is "$?" 0 "a line protocol with {conn} and {req}: exit 0"
is "$(jq -r '.requests' <<<"$out")" 60 "60 answers, each the expected one"
is "$(jq -r '.bytes_sent == .bytes_received and .bytes_sent >= 60 * 8 and .bytes_sent <= 60 * 10' <<<"$out")" true \
    "each request expanded ('get 0/0\\n' is 8 bytes, 'get 2/19\\n' 9) and answered as long"
out=$(timeout 30 "$CB" 127.0.0.1 "$EXEC" -c 1 -n 5 --request 'get {conn}/{req}\n' --expect 'GET {conn}/{req}!\n' --json 2>"$T/err")
is "$?" 65 "the wrong answer expected: exit 65"
like "$(cat "$T/err")" 'verify: connection 0, request 0, byte 7: expected 0x21, got 0x0a' "the first difference, located"

start_server "$T/nb.log" "$SRV" -m nbytes || exit 1
out=$(timeout 30 "$CB" 127.0.0.1 "$PORT" -c 2 -n 40 --request '1000\n' --reply-bytes 1000 --json 2>"$T/err")
is "$?" 0 "--reply-bytes 1000 against nbytes: exit 0"
is "$(jq -r '.bytes_received' <<<"$out")" 40000 "1000 bytes per answer"

start_server "$T/echo.log" "$SRV" -m echo || exit 1
ECHO=$PORT
printf 'bin\0ary\377\001payload\n' >"$T/p.bin"
out=$(timeout 30 "$CB" 127.0.0.1 "$ECHO" -c 2 -n 50 --payload "$T/p.bin" --json 2>"$T/err")
is "$?" 0 "--payload, a binary file, echoed: exit 0"
is "$(jq -r '.bytes_sent' <<<"$out")" "$(( 50 * $(wc -c <"$T/p.bin") ))" "every byte of it sent, NULs included"
# A terminator that overlaps itself: a naive matcher misses the end.
out=$(timeout 30 "$CB" 127.0.0.1 "$ECHO" -c 1 -n 20 --request 'a\r\n\r\r\n\r\n' --reply-until '\r\n\r\n' --io-timeout 2s --json 2>"$T/err")
is "$?" 0 "terminator \\r\\n\\r\\n after \\r\\n\\r: found"
is "$(jq -r '.requests' <<<"$out")" 20 "... 20 times"
# Bytes after the terminator: the answer was not what was asked.
out=$(timeout 30 "$CB" 127.0.0.1 "$ECHO" -c 1 -n 5 --request 'ab\ncd' --reply-until '\n' --json 2>"$T/err")
is "$?" 65 "bytes after the answer: exit 65"
like "$(cat "$T/err")" 'bytes more than were asked for' "... said"
# Escapes and a literal brace.
out=$(timeout 30 "$CB" 127.0.0.1 "$ECHO" -c 1 -n 5 --request '\{req} \x41\t{req}\n' --json 2>"$T/err")
is "$?" 0 "escapes and \\{: exit 0"
is "$(jq -r '.bytes_sent' <<<"$out")" "$(( 5 * 10 ))" "'{req} A\\t0\\n' is 10 bytes"

done_testing
