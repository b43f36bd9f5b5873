#!/bin/bash
# Cleanup: after SIGTERM, every model leaves nothing behind.
#
# For each model: start concurd with echo, open connections that are idle
# and connections stuck mid-transfer (conform hold), record from /proc the
# server's descendants (pid and start time, so a reused pid is not mistaken
# for ours) and threads, then SIGTERM.  Expected: exit status 0 within 10 s,
# every recorded process and thread gone (not running, not a zombie), every
# held connection closed by the server, the port refusing connections, and
# a summary line.
. "$(dirname "$0")/lib.sh"

CONCURD=$BIN/concurd
CONFORM=$HELP/conform
[ -x "$CONCURD" ] || skip_all "bin/concurd is not built"
[ -x "$CONFORM" ] || skip_all "build/tests/conform is not built (make tools)"

# All descendants of PID, depth first, one per line.
descendants_of() {
	local c
	for c in $(children_of "$1"); do
		echo "$c"
		descendants_of "$c"
	done
}
# Start time of PID in clock ticks since boot (field 22 of stat; the comm
# field may hold spaces, so count from the closing parenthesis).
starttime_of() {
	sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | awk '{print $20}'
}
# state_of PID STARTTIME: gone, zombie, or the process state letter.
state_of() {
	local st
	[ "$(starttime_of "$1")" = "$2" ] || { echo gone; return; }
	st=$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | awk '{print $1}')
	case $st in
	'') echo gone ;;
	Z) echo zombie ;;
	*) echo "$st" ;;
	esac
}


models=$("$CONCURD" --list | awk '$1 == "model" {print $2}')
like "$models" '.' "concurd --list names models"

for m in $models; do
	log=$T/$m.log
	if ! start_server "$log" "$CONCURD" -m "$m" -s echo -p 0 -b 127.0.0.1; then
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			wait "$SERVER_PID" 2>/dev/null
			if [ $? = 69 ]; then
				skip "$m: unavailable here: $(tail -n 1 "$log")"
				continue
			fi
		fi
		stop_concurd
		fail "$m: starts" "$(cat "$log")"
		continue
	fi

	# The iterative model serves one connection; the rest wait in the
	# backlog, and must be closed all the same.
	served=3
	[ "$m" = iterative ] && served=1
	mkfifo "$T/$m.in"
	"$CONFORM" hold 127.0.0.1 "$PORT" --idle 3 --busy 3 --served "$served" \
	    --life 60 <"$T/$m.in" >"$T/$m.hold" 2>&1 &
	hold=$!
	track "$hold"
	exec 7>"$T/$m.in"
	if ! wait_for 10 grep -q '^ready' "$T/$m.hold"; then
		fail "$m: 3 idle and 3 busy connections open" "$(cat "$T/$m.hold")"
		exec 7>&-
		wait "$hold" 2>/dev/null
		stop_concurd
		continue
	fi
	pass "$m: 3 idle and 3 busy connections open"

	# What the server has now, to look for after it has gone.
	procs=()
	for p in $(descendants_of "$SERVER_PID"); do
		procs+=("$p:$(starttime_of "$p")")
	done
	tids=$(ls /proc/"$SERVER_PID"/task 2>/dev/null | tr '\n' ' ')
	nthreads=$(nthreads_of "$SERVER_PID")
	diag "$m: pid $SERVER_PID: ${#procs[@]} descendant(s), $nthreads thread(s), $(nfds_of "$SERVER_PID") fds"
	case $m in
	fork|prefork*)
		ok $(( ${#procs[@]} < 1 )) "$m: serves from child processes (${#procs[@]})" ;;
	thread|prethread*)
		ok $(( nthreads < 2 )) "$m: serves from threads ($nthreads)" ;;
	esac

	t0=$(date +%s.%N)
	stop_concurd
	t1=$(date +%s.%N)
	if [ "$STOP_HUNG" = 1 ]; then
		fail "$m: exits on SIGTERM with connections open" "still running after 10 s; killed"
	else
		is "$SERVER_STATUS" 0 "$m: exits 0 on SIGTERM with connections open"
	fi
	diag "$m: stopped in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"

	ok $([ -e /proc/"$SERVER_PID" ]; echo $((!$?))) "$m: server process gone"
	left=
	for e in "${procs[@]}"; do
		p=${e%%:*}
		s=$(state_of "$p" "${e#*:}")
		# An orphan may take a moment to die after its parent.
		[ "$s" = gone ] || { wait_for 2 test "$(state_of "$p" "${e#*:}")" = gone; s=$(state_of "$p" "${e#*:}"); }
		if [ "$s" != gone ]; then
			left="$left $p($s)"
			[ "$s" != zombie ] && kill -KILL "$p" 2>/dev/null
		fi
	done
	is "${left:- none}" " none" "$m: all ${#procs[@]} descendant(s) gone, no zombies"
	tleft=
	for t in $tids; do
		[ -e /proc/"$t" ] && tleft="$tleft $t"
	done
	is "${tleft:- none}" " none" "$m: all $nthreads thread(s) gone"

	exec 7>&-	# hold: the server is gone, check the connections
	if wait "$hold"; then
		pass "$m: every held connection closed by the server"
	else
		fail "$m: every held connection closed by the server" "$(cat "$T/$m.hold")"
	fi
	if out=$("$CONFORM" refused 127.0.0.1 "$PORT" 2>&1); then
		pass "$m: port refuses connections"
	else
		fail "$m: port refuses connections" "$out"
	fi
	like "$(grep '^concurd: summary:' "$log")" 'connections=[0-9]+' "$m: summary line"
done

done_testing
