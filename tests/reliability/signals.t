#!/bin/bash
# Signals under load.
#
# SIGCHLD storm: REL_STORM_CONNS (default 5,000) short connections to the
# fork model, 64 at a time, each one echoed message verified, while SIGUSR1
# (a stats line) keeps arriving; then every child has been reaped (none
# alive, no zombie) and the summary counts exactly the connections made.
# The same with -s exec (a fork and an exec of /bin/cat per connection),
# REL_STORM_CONNS / 5 connections.
#
# SIGTERM under heavy load, every model: 8 streaming connections
# (rel_soak) and a churn of short ones (rel_c10k --no-hold) run; SIGTERM;
# the server must exit 0 within 20 s with one summary line, every process it
# had started (children and their children) must be gone, nothing must
# listen on its port any more.
. "$(dirname "$0")/rel.sh"
for h in rel_c10k rel_soak conform; do
	[ -x "$HELP/$h" ] || skip_all "$HELP/$h is not built (make tools)"
done

# Known bugs, reported, not fixed yet: MODEL -> reason.  Their checks run
# and print "not ok ... # TODO", which TAP does not count as a failure;
# REL_STRICT=1 counts them.  Remove an entry with its fix.
declare -A known_bug=()
# check_todo MODEL STATUS DESC: like ok, but a known bug's failure is TODO.
check_todo() {
	local m=$1 st=$2 desc=$3
	if [ "$st" != 0 ] && [ -n "${known_bug[$m]:-}" ] && [ "${REL_STRICT:-0}" != 1 ]; then
		_tap_n=$((_tap_n + 1))
		echo "not ok $_tap_n - $desc # TODO known bug: ${known_bug[$m]}"
	else
		ok "$st" "$desc"
	fi
}

# descendants PID: every process below PID, one per line.
descendants() {
	local c
	for c in $(children_of "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# storm DESC N ARGS...: the storm against a fork-model server started
# with ARGS.
storm() {
	local desc=$1 n=$2 out usr1 i zomb; shift 2
	rel_serve "$desc" -m fork -b 127.0.0.1 "$@" || return
	( for ((i = 0; i < 3000; i++)); do
		kill -USR1 "$SERVER_PID" 2>/dev/null || exit 0
		sleep 0.01
	  done ) &
	usr1=$!
	track "$usr1"
	if out=$("$HELP/rel_c10k" 127.0.0.1 "$PORT" --conns "$n" --no-hold \
	    --active 64 --messages 1 --pid "$SERVER_PID" --settle 30 2>&1); then
		pass "$desc: $n short connections, each echoed, every child reaped"
	else
		fail "$desc: $n short connections, each echoed, every child reaped"
	fi
	kill "$usr1" 2>/dev/null
	wait "$usr1" 2>/dev/null
	printf '%s\n' "$out" | grep -E 'connections,|after|FAIL' | sed "s|^|# $desc: |" >&2
	zomb=$(zombies_of "$SERVER_PID" | count_lines)
	is "$zomb" 0 "$desc: no zombie"
	is "$(children_of "$SERVER_PID" | count_lines)" 0 "$desc: no child left"
	rel_finish "$desc" 30
	is "$(rel_summary_field connections)" "$n" "$desc: summary counts the $n connections"
	like "$(grep -c 'stats' "$LOG")" '^[1-9]' "$desc: SIGUSR1 stats lines came during the storm"
}

n=${REL_STORM_CONNS:-5000}
storm "SIGCHLD storm, fork/echo" "$n" -s echo
storm "SIGCHLD storm, fork/exec" $((n / 5)) -s exec -- /bin/cat

# SIGTERM under load, every model.
for m in $(rel_models); do
	desc="SIGTERM under load, $m"
	rel_serve "$desc" -m "$m" -s echo -b 127.0.0.1 || continue
	"$HELP/rel_soak" 127.0.0.1 "$PORT" --bytes 1000G --conns 8 --timeout 10 \
	    >/dev/null 2>&1 &
	soak=$!
	track "$soak"
	"$HELP/rel_c10k" 127.0.0.1 "$PORT" --conns 1000000 --no-hold --active 100 \
	    --messages 2 --timeout 10 >/dev/null 2>&1 &
	churn=$!
	track "$churn"
	sleep 1.5
	before=$(descendants "$SERVER_PID" | sort -n)
	nbefore=$(printf '%s\n' "$before" | count_lines)
	threads=$(nthreads_of "$SERVER_PID")
	t0=$(date +%s%N)
	# A known hang needs no 20 s to be seen again.
	[ -n "${known_bug[$m]:-}" ] && [ "${REL_STRICT:-0}" != 1 ] && rel_stop 5 || rel_stop 20
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check_todo "$m" $(( STOP_HUNG == 1 || SERVER_STATUS != 0 )) \
	    "$desc: exits 0 within 20 s (took $ms ms, status $SERVER_STATUS)"
	check_todo "$m" $(( $(grep -c '^concurd: summary:' "$LOG") != 1 )) \
	    "$desc: one summary line"
	left=
	for p in $before; do
		[ -d /proc/"$p" ] && left="$left $p($(awk '{print $3}' /proc/"$p"/stat 2>/dev/null))"
	done
	is "${left:-none}" none "$desc: all $nbefore descendant process(es) gone ($threads threads before)"
	if "$HELP/conform" refused 127.0.0.1 "$PORT" >/dev/null 2>"$T/refused.err"; then
		pass "$desc: nothing listens on its port"
	else
		fail "$desc: nothing listens on its port" "$(cat "$T/refused.err")"
	fi
	kill "$soak" "$churn" 2>/dev/null
	wait_gone "$soak" 5 || kill -KILL "$soak" 2>/dev/null
	wait_gone "$churn" 5 || kill -KILL "$churn" 2>/dev/null
	wait "$soak" "$churn" 2>/dev/null
	if [ "$_tap_fail" != "${failed_before:-0}" ]; then
		tail -n 10 "$LOG" | sed 's/^/#   /' >&2
		failed_before=$_tap_fail
	fi
done
done_testing
