#!/bin/bash
# Integrity soak: REL_SOAK_BYTES (default 1G) of seeded random data echoed
# through each model, byte-exact (build/tests/rel_soak: 4 connections at
# once, random write sizes, every byte compared, EOF after the last), then
# SIGTERM: exit 0 and a summary whose bytes_in and bytes_out are exactly
# what was sent.  The iterative model gets one connection (it serves one at
# a time).  Then the same volume as 4 MiB files from the file service over
# HTTP keep-alive, every byte checked by concurbench.  make soak-ci: 32 MiB
# per model.
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_soak" ] || skip_all "$HELP/rel_soak is not built (make tools)"

bytes=${REL_SOAK_BYTES:-1G}
# The file service carries the same volume as 4 MiB downloads.
SOAK=$T/files
mkdir -p "$SOAK"
head -c 4194304 /dev/urandom >"$SOAK/soak.bin"
nfiles=$(( $(numfmt --from=iec "$bytes") / 4194304 ))
[ "$nfiles" -ge 1 ] || nfiles=1
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

	# The file service: $nfiles files of 4 MiB over HTTP keep-alive.
	rel_serve "$m/file" -m "$m" -s file --root "$SOAK" -b 127.0.0.1 || continue
	out=$("$BIN/concurbench" 127.0.0.1 "$PORT" -m file --http --path /soak.bin \
	    --root "$SOAK" -n "$nfiles" -c "$k" -t 1 --io-timeout 60s 2>&1)
	if printf '%s\n' "$out" | grep -q '^errors  *none' &&
	    printf '%s\n' "$out" | grep -q "^requests  *$nfiles "; then
		pass "$m/file: $nfiles files of 4 MiB, every byte checked"
	else
		fail "$m/file: $nfiles files of 4 MiB, every byte checked" "$out"
	fi
	printf '%s\n' "$out" | grep -E '^(requests|throughput)' | sed "s/^/# $m\/file: /" >&2
	rel_finish "$m/file" 30
	check "$m/file: summary counts at least the files' bytes out" \
	    test "$(rel_summary_field bytes_out)" -ge $((nfiles * 4194304))
done
done_testing
