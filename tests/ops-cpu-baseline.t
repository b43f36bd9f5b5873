#!/usr/bin/env bash
# ops-cpu-baseline.t: the CPU figures (summary and stats line) count the
# server's work only, not what the process did before it exec'd concurd
# (a wrapper's own loop: RUSAGE_SELF) or what that wrapper's children used
# (RUSAGE_CHILDREN, reaped before the exec).
#
# The wrapper burns a known amount of CPU first: a child limited to one
# second of CPU time (ulimit -t 1, killed by SIGXCPU when it is used up)
# and a loop in the shell itself; then it execs concurd, which serves
# nothing and is stopped.  Its figures must be a small fraction of what was
# burnt before.
. "$(dirname "$0")/lib.sh"
plan 6

# burn: bash -c script: a child that uses 1 s of CPU, then a loop of the
# shell's own, then `times` (the shell's and its children's CPU) on fd 3,
# then exec concurd.
cat >"$T/wrap.sh" <<'SH'
(ulimit -t 1; while :; do :; done) 2>/dev/null
i=0; while ((i < 200000)); do ((i++)); done
times >&3
exec "$@"
SH
start_server "$T/log" bash "$T/wrap.sh" "$BIN/concurd" -m fork -b 127.0.0.1 -p 0 3>"$T/times" ||
	{ fail "concurd starts after the wrapper"; exit 1; }
pass "concurd started by a wrapper that burnt CPU first"
# times: "0m0.412s 0m0.004s" (shell), then "0m0.99s 0m0.002s" (children).
secs() { awk -v l="$1" 'NR == l { n = split($0, f, /[ms ]+/); s = 0
	for (i = 1; i < n; i += 2) s += f[i] * 60 + f[i + 1]; print s }' "$T/times"; }
self=$(secs 1) kids=$(secs 2)
diag "before exec: shell ${self} s, its children ${kids} s"
# (SIGXCPU comes at the second; on a loaded machine the figure reads less.)
check "the wrapper's child used half its second of CPU or more (${kids} s)" \
	awk -v k="$kids" 'BEGIN { exit !(k >= 0.5) }'

kill -USR1 "$SERVER_PID"
wait_for 5 grep -q 'stats:' "$T/log"
stop_server
is "$SERVER_STATUS" 0 "concurd stops with 0"
field() { sed -n "s/.*$1: .* $2=\([0-9.]*\).*/\1/p" "$T/log" | head -n1; }
cpu_stats=$(field stats cpu) cpu_sum=$(field summary cpu) user=$(field summary user)
diag "concurd's figures: stats cpu=$cpu_stats, summary user=$user cpu=$cpu_sum"
# concurd itself does next to nothing here: well under a tenth of a second
# on any machine, where the work before it was over a second.
check "the stats line's cpu leaves out the work before exec (${cpu_stats:-none} s)" \
	awk -v c="${cpu_stats:-9}" 'BEGIN { exit !(c < 0.3) }'
check "the summary's cpu leaves it out too (${cpu_sum:-none} s)" \
	awk -v c="${cpu_sum:-9}" 'BEGIN { exit !(c < 0.3) }'
check "and so does its user time (${user:-none} s)" \
	awk -v c="${user:-9}" 'BEGIN { exit !(c < 0.3) }'
done_testing
