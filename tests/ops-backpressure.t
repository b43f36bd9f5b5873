#!/bin/bash
# ops-backpressure: clients that send and never read cannot grow the
# server's memory.  Each blaster (small socket buffers, 200 MiB to send)
# must stall -- the server stops reading from a connection whose output is
# pending -- while the server's RSS (/proc/PID/status VmRSS) stays within a
# stated bound and other clients are served normally.  100 blasters for the
# event loops (epoll, uring: poll and select share epoll's engine) and the
# thread models, 20 for the process models (bounded per process).  The RSS figures are printed as diag lines.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"

rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status 2>/dev/null; }
# The bound: concurd(8) says a connection whose peer does not read holds at
# most one 64 KiB emission; with its state, a thread's stack and slack, 120
# KiB per blaster, plus 2 MiB.
# Under a sanitizer (the reliability suites export SANITIZER) the shadow
# memory and quarantine are counted in the RSS too: the bound is 4x.
bound_kb() {
	if [ -n "${SANITIZER:-}" ]; then echo $(( ($1 * 120 + 2048) * 4 ))
	else echo $(( $1 * 120 + 2048 )); fi
}

blast() {	# MODEL N: run the scenario against a started server
	local m=$1 n=$2 fd r0 r1 r2 out others kid kmax=0 ksum=0 k
	r0=$(rss_kb "$SERVER_PID")
	mkfifo "$T/fifo"
	exec {fd}<>"$T/fifo"
	"$CL" blast 127.0.0.1 "$PORT" "$n" -H <"$T/fifo" >"$T/blast" 2>&1 {fd}>&- &
	local bp=$!
	track $bp
	wait_for 25 grep -q 'connected=' "$T/blast"
	out=$(cat "$T/blast")
	like "$out" "^connected=$n sent=[0-9]+ stalled=$n finished=0 errors=0\$" \
		"$m: all $n blasters connect and stall (the server stops reading), none finishes its 200 MiB"
	r1=$(rss_kb "$SERVER_PID")
	sleep 0.5
	r2=$(rss_kb "$SERVER_PID")
	others=$("$CL" conns 127.0.0.1 "$PORT" 5 -w 3000)
	is "$others" "connected=5 failed=0 echo=5 eof=0 reset=0 silent=0" \
		"$m: 5 other clients are echoed while $n blasters hold on"
	for kid in $(children_of "$SERVER_PID"); do
		k=$(rss_kb "$kid")
		ksum=$((ksum + ${k:-0}))
		[ "${k:-0}" -gt "$kmax" ] && kmax=$k
	done
	diag "$m: $n never-reading clients: VmRSS ${r0} kB at start, ${r1} kB stalled, ${r2} kB half a second later; children: ${ksum} kB in all, ${kmax} kB the largest; blasters: $(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out") bytes sent"
	if [ "$(children_of "$SERVER_PID" | count_lines)" -gt 0 ]; then
		check "$m: every serving process stays small (largest ${kmax} kB < ${r0} kB + 4 MiB)" \
			test "$kmax" -lt $((r0 + 4096))
	else
		check "$m: server RSS +$((r1 - r0)) kB over the start, below +$(bound_kb "$n") kB" \
			test $((r1 - r0)) -lt "$(bound_kb "$n")"
	fi
	check "$m: no growth while they keep trying (+$((r2 - r1)) kB in 0.5 s < 1 MiB)" \
		test $((r2 - r1)) -lt 1024
	exec {fd}>&-
	wait_gone $bp 10
	rm -f "$T/fifo"
}

for m in epoll uring thread prethread fork prefork; do
	case $m in fork|prefork) n=20 ;; *) n=100 ;; esac
	if ! start_server "$T/log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1; then
		wait "$SERVER_PID" 2>/dev/null
		if [ $? = 69 ]; then skip "$m: not available here"; continue; fi
		fail "$m: server starts"; continue
	fi
	blast "$m" "$n"
	stop_server
	is "$SERVER_STATUS" 0 "$m: stops with 0 with the blasters gone"
done

done_testing
