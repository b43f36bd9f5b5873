#!/bin/bash
# Verification catches a corrupting server: bench_testsrv -f K flips one
# byte in every K it sends.  concurbench must count "verify" errors, describe
# the first one, and exit 65 (EX_DATAERR), in every mode; with --no-verify
# the same server passes and the report says nothing was checked.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/flip.log" "$SRV" -m echo -f 5000 || exit 1
FLIP=$PORT
start_server "$T/nbflip.log" "$SRV" -m nbytes -f 3999 || exit 1
NBFLIP=$PORT
start_server "$T/close.log" "$SRV" -m close || exit 1
CLOSE=$PORT

# corrupt MODE PORT ARGS...
corrupt() {
	local mode=$1 port=$2 out rc
	shift 2
	out=$(timeout 60 "$CB" 127.0.0.1 "$port" -m "$mode" --json "$@" 2>"$T/err")
	rc=$?
	is "$rc" 65 "$mode $*: exit 65 on corrupted replies"
	ok $(( $(jq -r '.errors.verify' <<<"$out") > 0 ? 0 : 1 )) "$mode $*: verify errors counted"
	like "$(cat "$T/err")" 'verify: connection [0-9]+, request [0-9]+, byte [0-9]+: expected 0x[0-9a-f]{2}, got 0x[0-9a-f]{2}' \
		"$mode $*: the first mismatch is described"
}

corrupt pingpong "$FLIP" -n 2000 -c 4
corrupt stream "$FLIP" -n 200 -c 2 -s 16k
corrupt connrate "$FLIP" -n 300 -c 4 -s 6000 --close reset
corrupt nbytes "$NBFLIP" -n 50 -c 2 -s 4000 --close reset

# The flipped byte is exactly where the server put it: byte 5000 of the
# stream is byte 5000 - 64 x 78 = 8 of request 78 (counting from 0: 7).
"$CB" 127.0.0.1 "$FLIP" -n 200 -c 1 -t 1 >/dev/null 2>"$T/err"
like "$(cat "$T/err")" 'connection 0, request 78, byte 7:' "the mismatch is located to the byte"

# In the text report too.
out=$("$CB" 127.0.0.1 "$FLIP" -n 2000 -c 4 2>/dev/null)
like "$out" 'errors +[0-9]+: verify [0-9]+' "text report lists verify errors"

# With --no-verify the corruption goes unseen, and the output says so.
out=$(timeout 60 "$CB" 127.0.0.1 "$FLIP" -n 2000 -c 4 --no-verify 2>&1)
is "$?" 0 "--no-verify: exit 0 against the corrupting server"
like "$out" 'verification OFF' "--no-verify: output says verification was off"

# A clean server with the same settings passes (the test can fail both ways).
start_server "$T/echo.log" "$SRV" -m echo || exit 1
out=$(timeout 60 "$CB" 127.0.0.1 "$PORT" -n 2000 -c 4 --json 2>/dev/null)
is "$?" 0 "the clean server passes verification"

# A server that closes every connection: eof or reset, never silent.
out=$(timeout 60 "$CB" 127.0.0.1 "$CLOSE" -m connrate -n 20 -c 2 --json 2>/dev/null)
rc=$?
ok $(( rc == 74 ? 0 : 1 )) "connections closed early: exit 74 (got $rc)"
is "$(jq -r '.errors.eof + .errors.reset' <<<"$out")" 20 "every early close counted as eof or reset"
is "$(jq -r '.requests' <<<"$out")" 0 "no request counted as done"

done_testing
