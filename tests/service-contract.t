#!/usr/bin/env bash
# service-contract.t: the service contract (engine/service.h) under every
# model, so every driver: a probe service's start() and end() counted
# across every way a connection ends (close, half-close, SVC_DONE,
# SVC_ABORT, reset, idle timeout, the stop, an error mid-send), file ranges
# sent byte-exact (at once and to a slow reader), a range past the file's
# end ending its connection cleanly, and every file the service opened
# closed.  Then the same through --proxy-protocol's header reading (the
# wrapper of the event loops, the blocking driver's own), with a probe that
# greets first.  See tests/helpers/unit_service.c.
. "$(dirname "$0")/lib.sh"

U=$HELP/unit_service
[ -x "$U" ] || skip_all "$U is not built (make tools)"
models=$("$BIN/concurd" --list | sed -n 's/^model //p')
[ -n "$models" ] || skip_all "concurd --list lists no model"

for m in $models; do
	for how in "" proxy; do
		out=$(cd "$T" && TMPDIR=$T timeout 120 "$U" "$m" $how 2>&1); st=$?
		case $out in
		"1..0 # SKIP"*) skip "$m: ${out#1..0 # SKIP }"; continue 2 ;;
		esac
		nots=$(printf '%s\n' "$out" | grep -c '^not ok')
		oks=$(printf '%s\n' "$out" | grep -c '^ok')
		what="$m${how:+ (behind a PROXY header)}"
		if [ "$st" = 0 ] && [ "$nots" = 0 ] && [ "$oks" -gt 10 ]; then
			pass "$what: the contract holds ($oks checks; $(printf '%s\n' "$out" | sed -n 's/^# //p' | head -n1))"
		else
			fail "$what: the contract holds (exit $st, $nots failed)" \
			    "$(printf '%s\n' "$out" | grep -v '^ok')"
		fi
	done
done

done_testing
