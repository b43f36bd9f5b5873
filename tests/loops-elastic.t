#!/usr/bin/env bash
# loops-elastic.t: event loops started without -w begin with one loop and
# add one while every loop is busy and a CPU is free (--loop-busy sets how
# busy); the loops hand the new loop its share of the open connections
# (they go on being served, byte-exact, by both loops), and new connections
# spread; a light load stays on one loop; -w N starts N at once.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "bin/concurd not built"
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || skip_all "one CPU: nothing to grow to"
LOOPS=$("$BIN/concurd" --list=loops | sed -n 's/^model //p')

# Threads of PID other than the main one that used CPU (clock ticks).
busy_threads() {
	local t n=0
	for t in /proc/"$1"/task/*; do
		[ "${t##*/}" = "$1" ] && continue
		awk '{ exit !($14 + $15 > 0) }' "$t/stat" 2>/dev/null && n=$((n + 1))
	done
	echo $n
}
workers_of() { sed -n 's/.*summary:.* workers=\([0-9]*\).*/\1/p' "$1"; }

for m in $LOOPS; do
	log=$T/$m-grow.log
	if ! start_server "$log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 -v \
	    --loop-busy 1; then
		wait "$SERVER_PID" 2>/dev/null
		[ $? = 69 ] && { skip "$m: not available here"; continue; }
		fail "$m: starts"; continue
	fi
	# Persistent connections, opened at once, then steady load: loop 0
	# is more than 1% busy; the second loop starts at a moment the
	# machine has a CPU free (on a busy machine that may take a while),
	# and the load goes on 2 s after that.
	"$BIN/concurbench" 127.0.0.1 "$PORT" -c 8 -s 64 -r 10000 -d 20 \
	    >"$T/out" 2>&1 &
	bp=$!
	track "$bp"
	wait_for 15 grep -q "loop 1 started" "$log"
	sleep 2
	kill -INT "$bp" 2>/dev/null
	wait "$bp"
	out=$(cat "$T/out")
	like "$out" "requests +[0-9]+ in" "$m: the load ran" || diag "$out"
	unlike "$out" "errors +[1-9]|verify|mismatch" "$m: every echo byte-exact"
	is "$(busy_threads "$SERVER_PID")" 2 \
	    "$m: both loop threads served the connections opened before the second started"
	# New connections, once both loops run: the idle one takes some.
	"$BIN/concurbench" 127.0.0.1 "$PORT" -m connrate -c 4 -s 64 \
	    --close reset -d 1 >/dev/null 2>&1
	stop_concurd
	like "$(sed -n 's/.*summary:.* spread=\([0-9,]*\).*/\1/p' "$log")" \
	    '^[0-9]+,[1-9][0-9]*$' "$m: the second loop took new connections too"
	like "$(cat "$log")" "loop 1 started" "$m: a second loop started" ||
	    diag "$(grep -v 'conn [0-9]' "$log" | tail -5)"
	is "$(workers_of "$log")" 2 "$m: the summary counts 2 loops"
	like "$(cat "$log")" "loop 0: [1-9][0-9]* connections mov(ed|ing) to loop 1" \
	    "$m: loop 0 gave loop 1 its share"

	log=$T/$m-light.log
	start_server "$log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 -v ||
	    { fail "$m: starts"; continue; }
	"$BIN/concurbench" 127.0.0.1 "$PORT" -c 4 -s 64 -r 1000 -d 2 >/dev/null 2>&1
	stop_concurd
	is "$(workers_of "$log")" 1 "$m: a light load stays on one loop"
	unlike "$(cat "$log")" "loop 1 started" "$m: no loop started for it"

	log=$T/$m-w2.log
	start_server "$log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 -w 2 ||
	    { fail "$m: starts"; continue; }
	# main + 2 loops (a sanitizer may add a thread of its own)
	n=$(nthreads_of "$SERVER_PID")
	ok $(( n < 3 )) "$m -w 2: two loop threads at once ($n threads)"
	stop_concurd
	is "$(workers_of "$log")" 2 "$m -w 2: the summary counts 2 loops"
done

done_testing
