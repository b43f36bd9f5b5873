#!/bin/bash
# Dying and stopped workers, for fork and every pool model
# (build/tests/rel_workers does the work; see its header).
#
# Six streams echo a pattern through the server (-w 4).  A worker process
# serving one is killed (SIGKILL) and another serving one is stopped for
# REL_STOP_SECS (default 5), and so is an idle one (the accept lock's
# holder, in a pool that has a lock); a pool of threads has one thread
# stopped while it serves and one while it waits, through ptrace (a thread
# cannot be killed alone).  Meanwhile a new client every 100 ms must be
# served within 2 s.  What must hold:
#   - the killed worker's stream is lost, every other stream is echoed
#     byte-exact and the stopped one completes after the stop;
#   - the server logs which connection was lost, counts it (errors=1, and
#     active=0 once all is over) and a pool replaces the worker;
#   - afterwards: no more descriptors, threads or children than before, no
#     zombie; SIGTERM then ends it cleanly.
# One slow client may be, in a pool: the stopped idle worker may have taken
# a connection as it stopped (its accept returns with it once continued),
# or been handed one (prefork-fdpass picks an idle child), and that
# connection waits for it.  Every other probe must be served, round it.
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_workers" ] || skip_all "$HELP/rel_workers is not built (make tools)"

stop_secs=${REL_STOP_SECS:-5}
processes=" $("$CONCURD" --list=processes | awk '{print $2}' | tr '\n' ' ') "
models=$( { echo fork; "$CONCURD" --list=pools | awk '{print $2}'; } )
[ -n "${REL_MODELS:-}" ] && models=$REL_MODELS

# The stats line the server logs on SIGUSR1, once written.
stats_line() {
	local n i
	n=$(grep -c ' stats: ' "$LOG")
	kill -USR1 "$SERVER_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c ' stats: ' "$LOG")" -gt "$n" ] && break
		sleep 0.05
	done
	grep ' stats: ' "$LOG" | tail -n 1
}

for m in $models; do
	args=(--stop-secs "$stop_secs")
	process=0
	case $processes in *" $m "*) process=1 ;; esac
	if [ "$process" = 1 ]; then
		[ "$m" != fork ] && args+=(--idle-stop)
	else
		args+=(--threads --no-kill --idle-stop)
	fi
	# A pool whose idle worker is stopped: the one connection it took
	# (fdpass: was handed) as it stopped waits for it; the next ones go
	# round it.
	[ "$m" != fork ] && args+=(--max-slow 1)
	rel_serve "$m" -m "$m" -s echo -b 127.0.0.1 -w 4 -v || continue
	out=$("$HELP/rel_workers" 127.0.0.1 "$PORT" --pid "$SERVER_PID" \
	    "${args[@]}" 2>&1)
	st=$?
	# Whatever happened, no worker stays stopped.
	for c in $(children_of "$SERVER_PID"); do kill -CONT "$c" 2>/dev/null; done
	if [ "$st" = 77 ]; then
		skip "$m: $(printf '%s\n' "$out" | sed -n 's/^SKIP: //p')"
		rel_finish "$m" >/dev/null
		continue
	fi
	if [ "$st" = 0 ]; then
		pass "$m: killed and stopped workers lose their connections only; the rest byte-exact, nothing leaked"
	else
		fail "$m: killed and stopped workers lose their connections only; the rest byte-exact, nothing leaked"
	fi
	printf '%s\n' "$out" | sed "s/^/# $m: /" >&2
	stats=$(stats_line)
	like "$stats" ' active=0 ' "$m: no connection left counted active"
	if [ "$process" = 1 ]; then
		like "$stats" ' errors=1 ' "$m: the lost connection is counted (errors=1)"
		is "$(grep -c 'died serving conn [0-9]* from 127.0.0.1 port [0-9]* after [0-9]* bytes in, [0-9]* out: the connection is lost' "$LOG")" 1 \
		    "$m: the lost connection is logged, with its client"
	else
		like "$stats" ' errors=0 ' "$m: nothing counted as an error"
	fi
	if [ "$m" != fork ] && [ "$process" = 1 ]; then
		like "$(cat "$LOG")" 'worker [0-9]+: child [0-9]+ ended unexpectedly; replacing it' \
		    "$m: the pool replaces the killed worker"
	fi
	case $m in
	prefork-flock|prefork-mutex|prethread)
		like "$(cat "$LOG")" 'accept lock held for [0-9]+ ms while [0-9]+ clients wait: its holder is stopped or stuck; accepting without it' \
		    "$m: the stopped lock holder is routed around, and said" ;;
	esac
	rel_finish "$m"
done
done_testing
