#!/bin/bash
# Integrity soak: REL_SOAK_BYTES (default 1G) of seeded random data echoed
# through each model, byte-exact (build/tests/rel_soak: 4 connections at
# once, random write sizes, every byte compared, EOF after the last), then
# SIGTERM: exit 0 and a summary whose bytes_in and bytes_out are exactly
# what was sent.  The iterative model gets one connection (it serves one at
# a time).  make soak-ci: 32 MiB per model.
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_soak" ] || skip_all "$HELP/rel_soak is not built (make tools)"

bytes=${REL_SOAK_BYTES:-1G}
for m in $(rel_models); do
	k=4
	[ "$m" = iterative ] && k=1
	rel_serve "$m" -m "$m" -s echo -b 127.0.0.1 || continue
	if out=$("$HELP/rel_soak" 127.0.0.1 "$PORT" --bytes "$bytes" --conns "$k" 2>&1); then
		pass "$m: $bytes echoed byte-exact over $k connection(s)"
	else
		fail "$m: $bytes echoed byte-exact over $k connection(s)"
	fi
	printf '%s\n' "$out" | grep -v '^rel_soak: ok' | sed "s/^/# $m: /" >&2
	total=$(printf '%s\n' "$out" | sed -n 's/.* of \([0-9]*\) bytes echoed.*/\1/p')
	rel_finish "$m" 30
	is "$(rel_summary_field bytes_in)/$(rel_summary_field bytes_out)" "$total/$total" \
	    "$m: summary counts $total bytes in and out"
done
done_testing
