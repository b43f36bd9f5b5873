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
# once and are served one after another (--no-hold).  The event models
# then hold as many keep-alive connections to the file service, with the
# server's memory per connection held to 1 KiB.
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_c10k" ] || skip_all "$HELP/rel_c10k is not built (make tools)"

ev=${REL_C10K_EVENT:-10000}
other=${REL_C10K_OTHER:-1000}
need=$(( (ev > other ? ev : other) + 200 ))
ulimit -n "$need" 2>/dev/null || skip_all "cannot raise the descriptor limit to $need (hard limit $(ulimit -Hn))"

FILES=$T/files
mkdir -p "$FILES"
printf 'a small file\n' >"$FILES/t.txt"
for m in $(rel_models); do
	extra=() cargs=()
	case $m in
	select) n=900 ;;
	# One loop: the loops grow on a machine with a CPU free and keep
	# what they grew, which the baseline check would count as a leak.
	poll|epoll|uring) n=$ev; extra=(-w 1) ;;
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

	# The file service, event models: n keep-alive connections, mostly
	# idle (a request each every few seconds, every byte checked); the
	# server's memory per connection must stay under 1 KiB.
	case $m in select|poll|epoll|uring) ;; *) continue ;; esac
	rel_serve "$m/file" -m "$m" -s file --root "$FILES" -b 127.0.0.1 || continue
	rss0=$(awk '/^VmRSS/ {print $2}' /proc/"$SERVER_PID"/status)
	"$BIN/concurbench" 127.0.0.1 "$PORT" -m file --http --path /t.txt \
	    --root "$FILES" -c "$n" -t 2 -r $((n / 4)) -d 6 --connect-timeout 30s \
	    >"$T/cb.out" 2>&1 &
	cb=$!
	track "$cb"
	sleep 5
	rss1=$(awk '/^VmRSS/ {print $2}' /proc/"$SERVER_PID"/status)
	wait "$cb"; st=$?
	per=$(( (rss1 - rss0) * 1024 / n ))
	if [ "$st" = 0 ] && grep -q '^errors  *none' "$T/cb.out"; then
		pass "$m/file: $n keep-alive connections, every file checked"
	else
		fail "$m/file: $n keep-alive connections, every file checked" "$(tail -n 12 "$T/cb.out")"
	fi
	check "$m/file: $per bytes of server memory per idle connection (at most 1 KiB)" \
	    test "$per" -le 1024
	diag "$m/file: RSS $rss0 -> $rss1 KiB with $n connections: $per B each"
	rel_finish "$m/file" 30
done
done_testing
