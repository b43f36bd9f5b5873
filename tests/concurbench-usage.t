#!/bin/bash
# Bad input gets a clear message and a sysexits(3) code, never a run:
# unknown mode, zero or negative counts, bad sizes and times (64), a host
# that does not resolve (68), a port where nobody listens (69, "connection
# refused").  --help and --version work.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"

# bad CODE REGEX ARGS...: exits CODE quickly and says REGEX on stderr.
bad() {
	local code=$1 re=$2 out rc
	shift 2
	out=$(timeout 20 "$CB" "$@" 2>&1 >/dev/null)
	rc=$?
	is "$rc" "$code" "concurbench $*: exit $code"
	like "$out" "$re" "concurbench $*: message"
}

# A port that was just closed: nobody listens there.
start_server "$T/s.log" "$SRV" || exit 1
DEAD=$PORT
stop_server

bad 64 "unknown mode 'ping'" 127.0.0.1 "$DEAD" --mode ping
bad 64 "-c: '0' is not a count" 127.0.0.1 "$DEAD" -c 0
bad 64 "-c: '-5' is not a count" 127.0.0.1 "$DEAD" -c -5
bad 64 "-n: '0' is not a count" 127.0.0.1 "$DEAD" -n 0
bad 64 "-n: '-1' is not a count" 127.0.0.1 "$DEAD" -n -1
bad 64 "-t: '0' is not a count" 127.0.0.1 "$DEAD" -t 0
bad 64 "-r: '0' is not a count" 127.0.0.1 "$DEAD" -r 0
bad 64 "--connections-per-worker: '0'" 127.0.0.1 "$DEAD" -m nbytes --connections-per-worker 0
bad 64 "-s: '0' is not a size" 127.0.0.1 "$DEAD" -s 0
bad 64 "-s: '1x' is not a size" 127.0.0.1 "$DEAD" -s 1x
bad 64 "-d: '0' is not a positive time" 127.0.0.1 "$DEAD" -d 0
bad 64 "-d: '-1' is not a positive time" 127.0.0.1 "$DEAD" -d -1
bad 64 "--io-timeout: 'soon' is not" 127.0.0.1 "$DEAD" --io-timeout soon
bad 64 "--close: 'hard' is not reset or normal" 127.0.0.1 "$DEAD" --close hard
bad 64 "stream mode has no requests to schedule" 127.0.0.1 "$DEAD" -m stream -r 100
bad 64 "--connections-per-worker is for connrate, nbytes and plain file" 127.0.0.1 "$DEAD" --connections-per-worker 3
bad 64 "HOST and PORT are needed" 127.0.0.1
bad 64 "too many arguments" 127.0.0.1 1 2
bad 64 "usage" 127.0.0.1 "$DEAD" --no-such-option
bad 64 "port 'nosuchservice'" 127.0.0.1 nosuchservice
bad 64 "port '99999': not a port \\(a number from 1 to 65535, or a service name\\)" localhost 99999
bad 64 "port '0': not a port" localhost 0
bad 64 "port '': not a port" 127.0.0.1: 127.0.0.1:7
bad 64 "port '70000': not a port" 127.0.0.1:7 127.0.0.1:70000
bad 64 "--source: '10.0.0.300' is not an address" 127.0.0.1 "$DEAD" --source 10.0.0.300
bad 64 "--source: '127.0.0.9-127.0.0.2' is not a range" 127.0.0.1 "$DEAD" --source 127.0.0.9-127.0.0.2
bad 69 "--source: cannot connect from it" 127.0.0.1 "$DEAD" --source 192.0.2.1
bad 64 "--ramp: a ramp needs a rate" 127.0.0.1 "$DEAD" --ramp 1s
bad 64 "--connect-rate: in connrate mode every request is a connection" 127.0.0.1 "$DEAD" -m connrate --connect-rate 10
bad 64 "--request and --payload are for TCP pingpong and connrate" 127.0.0.1 "$DEAD" -m stream --request x
bad 64 "--expect, --reply-bytes and --reply-until need --request" 127.0.0.1 "$DEAD" --expect x
bad 64 "one answer rule" 127.0.0.1 "$DEAD" --request x --expect y --reply-bytes 3
bad 64 "an empty request needs an answer rule" 127.0.0.1 "$DEAD" --request ''
bad 64 "--request: a bad escape" 127.0.0.1 "$DEAD" --request 'a\q'
bad 66 "--payload $T/nofile" 127.0.0.1 "$DEAD" --payload "$T/nofile"
bad 64 "--start-at: 'soon' is not a time" 127.0.0.1 "$DEAD" --start-at soon
bad 64 "-i: '1ms' is shorter than 10ms" 127.0.0.1 "$DEAD" -i 1ms
bad 68 "no-such-host.invalid" no-such-host.invalid 7
bad 69 "127.0.0.1 port $DEAD: connection refused" 127.0.0.1 "$DEAD"
bad 69 "connection refused" 127.0.0.1 "$DEAD" -m nbytes
bad 64 "needs histogram files" --merge

out=$("$CB" --help)
is "$?" 0 "--help: exit 0"
for o in --mode -c -s -d -n -t --warmup -r --json --histogram --merge --connections-per-worker --no-verify --connect-timeout --io-timeout --close --version \
    --udp --interval --hgrm --source --connect-rate --ramp --request --payload --expect --reply-bytes --reply-until --start-at; do
	like "$out" "(^| )$o[ ,]" "--help mentions $o"
done
is "$("$CB" --version)" "concurbench $(sed -n 's/^VERSION[^=]*= *//p' "$TOP/Makefile")" "--version prints the version"

done_testing
