#!/bin/bash
# ops-backpressure-1000: issue 5's measurement -- the server's memory with
# 1,000 clients that send and never read, against epoll.  Each blaster must
# stall (the server stops reading a connection whose output is pending),
# VmRSS must stay below the documented ceiling (one 64 KiB emission per
# connection, plus state: 1,000 x 120 KiB + 2 MiB) and not grow, and other
# clients are served.  The figures are printed as diag lines.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"
N=1000
ulimit -n 4096 2>/dev/null || skip_all "cannot raise ulimit -n to 4096"
plan 6

rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status 2>/dev/null; }
start_server "$T/log" "$BIN/concurd" -m epoll -p 0 -b 127.0.0.1 ||
	{ skip_all "server did not start"; }
r0=$(rss_kb "$SERVER_PID")
mkfifo "$T/fifo"
exec {fd}<>"$T/fifo"
t0=$(date +%s%N)
"$CL" blast 127.0.0.1 "$PORT" "$N" -H <"$T/fifo" >"$T/blast" 2>&1 {fd}>&- &
bp=$!
track $bp
wait_for 25 grep -q 'connected=' "$T/blast"
t1=$(date +%s%N)
out=$(cat "$T/blast")
like "$out" "^connected=$N sent=[0-9]+ stalled=$N finished=0 errors=0\$" \
	"$N blasters connect and all stall, none finishes its 200 MiB"
r1=$(rss_kb "$SERVER_PID")
sleep 0.5
r2=$(rss_kb "$SERVER_PID")
others=$("$CL" conns 127.0.0.1 "$PORT" 5 -w 3000)
is "$others" "connected=5 failed=0 echo=5 eof=0 reset=0 silent=0" \
	"5 other clients are echoed while $N blasters hold on"
diag "epoll, $N never-reading clients: VmRSS ${r0} kB at start, ${r1} kB once all stalled (+$((r1 - r0)) kB, $(( (r1 - r0) * 1024 / N )) bytes per client), ${r2} kB half a second later; $(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out") bytes sent in $(( (t1 - t0) / 1000000 )) ms"
bound=$((N * 120 + 2048))
check "VmRSS +$((r1 - r0)) kB over the start, below +$bound kB" test $((r1 - r0)) -lt "$bound"
check "no growth while they hold on (+$((r2 - r1)) kB)" test $((r2 - r1)) -lt 1024
exec {fd}>&-
wait_gone $bp 10
stop_server
is "$SERVER_STATUS" 0 "stops with 0 once the blasters left"
like "$(grep summary: "$T/log")" "connections=$((N + 5)) " "the summary counts $((N + 5)) connections"
