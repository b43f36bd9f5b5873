#!/usr/bin/env bash
# ops-port-errors.t: a port that is not one is a usage error (64) that says
# what a port is, before anything is bound; a service with no well-known
# port asks for -p.
. "$(dirname "$0")/lib.sh"
plan 6

for p in 99999 -1 65536 8x; do
	out=$("$BIN/concurd" -p "$p" 2>&1); st=$?
	is "$st:$out" "64:concurd: -p $p: not a port (a number from 0 to 65535, 0 for any free one, or a service name such as echo)" \
		"-p $p: usage error saying what a port is"
done
out=$("$BIN/concurd" -p no-such-service-zz 2>&1); st=$?
like "$st:$out" '^64:concurd: -p no-such-service-zz: not a port' "-p with an unknown service name: usage error"
out=$("$BIN/concurd" -s nbytes 2>&1); st=$?
is "$st:$out" "64:concurd: -s nbytes has no well-known port: give -p PORT" \
	"a service with no well-known port and no -p: says to give one"
done_testing
