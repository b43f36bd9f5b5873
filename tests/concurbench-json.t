#!/bin/bash
# One JSON schema: the keys concurbench(1) lists (between its json-keys
# markers) are exactly the keys of every object concurbench prints -- a
# clean run, a run with no request done, UDP, a merge, a refused target, a
# usage error -- with the same types; errors print the object too, with
# "error" and "exit_code"; "port" is a number.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

# The man page's key list: first word of each line between the markers,
# roff hyphens made plain.
sed -n '/json-keys-begin/,/json-keys-end/p' "$TOP/man/concurbench.1" |
	grep -v 'json-keys' | awk '{print $1}' | sed 's/\\-/-/g' | sort >"$T/man.keys"
ok $(( $(wc -l <"$T/man.keys") > 60 ? 0 : 1 )) "the man page lists the keys ($(wc -l <"$T/man.keys"))"

# keys_of FILE: the object's leaf paths in the man page's notation.
keys_of() {
	jq -r '[paths(type != "object" and type != "array") |
		map(if type == "number" then "[]" elif test("\\.") then "\"" + . + "\"" else . end) |
		join(".") | gsub("\\.\\[\\]"; "[]")] | unique | .[]' "$1" | sort
}
# same NAME FILE: FILE has the man page's keys (less those inside arrays
# that are empty in it).
same() {
	local name=$1 file=$2 want
	want=$(cat "$T/man.keys")
	[ "$(jq '.intervals | length' "$file")" = 0 ] && want=$(grep -v '^intervals\[\]' <<<"$want")
	[ "$(jq '.targets | length' "$file")" = 0 ] && want=$(grep -v '^targets\[\]' <<<"$want")
	is "$(keys_of "$file" | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$want")" "$name: the keys are the man page's"
	is "$(jq -r '[.port, .exit_code, .runs, .requests, .latency_us.count] | map(type) | join(",")' "$file")" \
	    "$( [ "$(jq -r .port "$file")" = null ] && echo null || echo number),number,number,number,number" "$name: numbers are numbers"
}

start_server "$T/echo.log" "$SRV" -m echo || exit 1
ECHO=$PORT
start_server "$T/silent.log" "$SRV" -m silent || exit 1
SILENT=$PORT

"$CB" 127.0.0.1 "$ECHO" -n 500 -c 4 --json --histogram "$T/a.hist" >"$T/run.json" 2>/dev/null
is "$?" 0 "a clean run: exit 0"
same "a clean run" "$T/run.json"
is "$(jq -r '[.error, .exit_code, .port] | @tsv' "$T/run.json")" "	0	$ECHO" "a clean run: error null, exit_code 0, port a number"

"$CB" 127.0.0.1 "$SILENT" -d 300ms -c 2 --io-timeout 1h --json >"$T/none.json" 2>/dev/null
same "no request done" "$T/none.json"
is "$(jq -c '.latency_us' "$T/none.json")" \
    '{"count":0,"min":null,"mean":null,"p50":null,"p90":null,"p99":null,"p99.9":null,"p99.99":null,"max":null}' \
    "no request done: every latency key, null"
is "$(jq -r '.cpu.us_per_request' "$T/none.json")" null "no request done: CPU per request null"

start_server "$T/udp.log" "$BIN/concurd" --udp -s echo -p 0 -b 127.0.0.1 || exit 1
"$CB" -u 127.0.0.1 "$PORT" -n 100 -c 2 --json >"$T/udp.json" 2>/dev/null
same "UDP" "$T/udp.json"
is "$(jq -r '.datagrams.answered' "$T/udp.json")" 100 "UDP: datagrams filled in"
is "$(jq -r '.datagrams.sent' "$T/run.json")" null "TCP: datagrams null"

"$CB" --merge "$T/a.hist" "$T/a.hist" --json >"$T/merge.json" 2>/dev/null
same "a merge" "$T/merge.json"

# Refused: exit 69 and the object on stdout, saying why.
stop_server
"$CB" 127.0.0.1 "$PORT" -u -n 5 --json >"$T/refused.json" 2>/dev/null
is "$?" 69 "refused: exit 69"
same "refused" "$T/refused.json"
is "$(jq -r '.exit_code' "$T/refused.json")" 69 "refused: exit_code 69"
like "$(jq -r '.error' "$T/refused.json")" 'connection refused' "refused: error says so"

"$CB" 127.0.0.1 "$ECHO" -c 0 --json >"$T/usage.json" 2>/dev/null
is "$?" 64 "usage error: exit 64"
same "usage error" "$T/usage.json"
like "$(jq -r '.error' "$T/usage.json")" "-c: '0' is not a count" "usage error: error says so"

"$CB" localhost 99999 --json >"$T/port.json" 2>/dev/null
like "$(jq -r '.error' "$T/port.json")" "port '99999': not a port" "a bad port, as JSON"

done_testing
