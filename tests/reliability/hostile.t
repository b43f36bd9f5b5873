#!/bin/bash
# Hostile clients against every model (echo service): build/tests/rel_hostile
# resets, half-closes, floods, reads a byte a second, stays silent, writes a
# byte at a time or megabytes at once, closes under the server's writes,
# while normal clients check every echo byte-exact.  Afterwards the server
# still accepts, holds no more descriptors, threads or children than before,
# no zombie, and its memory is back near its baseline.  Then SIGTERM: exit 0.
#
# REL_HOSTILE_SECS (default 5) per model; REL_SEED replays a seed.
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_hostile" ] || skip_all "$HELP/rel_hostile is not built (make tools)"

secs=${REL_HOSTILE_SECS:-5}
for m in $(rel_models); do
	rel_serve "$m" -m "$m" -s echo -b 127.0.0.1 || continue
	rel_hostile "$m" "$m" "$secs"
	rel_finish "$m"
	diag "$m: $(grep '^concurd: summary:' "$LOG" | cut -c1-200)"
done
done_testing
