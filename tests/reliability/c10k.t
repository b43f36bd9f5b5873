#!/bin/bash
# C10K: REL_C10K_EVENT (default 10,000) concurrent echo connections against
# each event-loop and io_uring model, REL_C10K_OTHER (default 1,000) against
# the process and thread models, all open at once, each exchanging
# messages, every byte verified (build/tests/rel_c10k).  Memory per
# connection is reported (PSS of the server and its children, main RSS,
# kernel TCP memory).  Afterwards the server must be back to its baseline
# descriptors, threads and children, and exit 0 on SIGTERM.
#
# select cannot watch descriptors >= FD_SETSIZE (1024; concurd refuses
# those connections, by design): it gets 900.  Pools get --max-workers 1024
# (the engine's MAX_WORKER_SLOTS) so 1,000 persistent clients each have a
# worker; the default 256 would leave the rest waiting in the backlog.  The
# iterative model serves one connection at a time: its 1,000 connect at
# once and are served one after another (--no-hold).
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_c10k" ] || skip_all "$HELP/rel_c10k is not built (make tools)"

ev=${REL_C10K_EVENT:-10000}
other=${REL_C10K_OTHER:-1000}
need=$(( (ev > other ? ev : other) + 200 ))
ulimit -n "$need" 2>/dev/null || skip_all "cannot raise the descriptor limit to $need (hard limit $(ulimit -Hn))"

for m in $(rel_models); do
	extra=() cargs=()
	case $m in
	select) n=900 ;;
	poll|epoll|uring) n=$ev ;;
	prefork*|prethread*) n=$other; extra=(--max-workers 1024) ;;
	iterative) n=$other; cargs=(--no-hold) ;;
	*) n=$other ;;
	esac
	rel_serve "$m" -m "$m" -s echo -b 127.0.0.1 "${extra[@]}" || continue
	if out=$("$HELP/rel_c10k" 127.0.0.1 "$PORT" --conns "$n" --pid "$SERVER_PID" \
	    "${cargs[@]}" 2>&1); then
		pass "$m: $n concurrent connections, all echoes exact, back to baseline"
	else
		fail "$m: $n concurrent connections, all echoes exact, back to baseline"
	fi
	printf '%s\n' "$out" | grep -v '^rel_c10k: ok' | sed "s/^/# $m: /" >&2
	rel_finish "$m" 30
	got=$(rel_summary_field connections)
	is "${got:-missing}" "$n" "$m: summary counts the $n connections"
done
done_testing
