#!/bin/bash
# Processes and threads (the lab's refreshers: lab/assignment.md).
#
# fork() makes a new process with a copy of its parent's memory: after the
# fork each has its own variable `test`, and a change in one is not seen by
# the other.  Threads (pthread_create) run in one process and share its
# memory: every thread sees and changes the same variables, so updates made
# at the same time must be serialised with a mutex (pthread_mutex_lock), or
# some are lost.  pthread_join waits for a thread and collects the value it
# passed to pthread_exit.
#
# Look for:
#  - concur-processes (the lab's processes): the child sets test = 2, the parent still has test = 1;
#  - concur-threads (the lab's threads): without the mutex the shared counter ends below the number of
#    increments made (two threads read the same value and both write back
#    value + 1); with it, exact; the join values add up either way;
#  - a server with a thread per client is one process (one PID) whose
#    threads (LWPs in ps -L) come and go with the clients.
. "$(dirname "$0")/lib.sh"
need "$BIN/concur-processes" "$BIN/concur-threads" "$BIN/concurd"
explain

part "concur-processes: fork gives the child its own copy"
out=$(timeout 10 "$BIN/concur-processes"); st=$?
show_as concur-processes printf '%s\n' "$out"
expect_eq "$st" 0 "concur-processes exits 0"
pid_p=$(sed -n '1s/^parent (pid \([0-9]*\)).*/\1/p' <<<"$out")
pid_c=$(sed -n '2s/^child  (pid \([0-9]*\),.*/\1/p' <<<"$out")
t_c=$(sed -n '2s/.*test = \([0-9]*\).*/\1/p' <<<"$out")
t_p=$(sed -n '3s/.*test = \([0-9]*\).*/\1/p' <<<"$out")
expect "two processes: parent $pid_p, child $pid_c" test -n "$pid_c" -a "$pid_c" != "$pid_p"
expect_eq "$t_c" 2 "the child changed its test to 2"
expect_eq "$t_p" 1 "the parent's test is still 1 after the child exited"

part "concur-threads: shared memory, with and without a mutex"
out=$(timeout 60 "$BIN/concur-threads" -t 4 -n 200000); st=$?
show_as "concur-threads -t 4 -n 200000" printf '%s\n' "$out"
expect_eq "$st" 0 "concur-threads exits 0"
expected=$(sed -n 's/.*expected total \([0-9]*\)$/\1/p' <<<"$out")
unlocked=$(sed -n 's/^without mutex: joined.*counter = \([0-9]*\),.*/\1/p' <<<"$out")
locked=$(sed -n 's/^with mutex: *joined.*counter = \([0-9]*\),.*/\1/p' <<<"$out")
joined() { grep "^$1 thread [0-9]* joined" <<<"$out" | sed 's/.*value \([0-9]*\) .*/\1/' | awk '{s += $1} END {print s + 0}'; }
expect "without the mutex updates are lost: $unlocked < $expected" \
	test "${unlocked:-0}" -gt 0 -a "${unlocked:-0}" -lt "${expected:-0}"
expect_eq "$locked" "$expected" "with the mutex the count is exact: $expected"
expect_eq "$(joined 'without mutex:')" "$expected" "pthread_join collected every thread's pthread_exit value (no mutex)"
expect_eq "$(joined 'with mutex:   ')" "$expected" "... and with the mutex"

part "A thread per client: one process, many threads"
start_server "$W/log" "$BIN/concurd" -m thread -s echo -p 0 || { observe 1 "concurd starts"; finish; }
before=$(ps -o nlwp= -p "$SERVER_PID" | tr -d ' ')
fds=()
for i in 1 2 3; do
	exec {fd}<>/dev/tcp/127.0.0.1/"$PORT" && fds+=("$fd")
	echo "hi $i" >&"$fd"; read -r -t 5 _ <&"$fd"
done
wait_for 5 eval '[ "$(ps -o nlwp= -p $SERVER_PID | tr -d " ")" = $((before + 3)) ]'
show_as "ps -L -o pid,lwp,nlwp,args -p $SERVER_PID    # 3 clients connected" \
	ps -L -o pid,lwp,nlwp,args -p "$SERVER_PID"
expect_eq "$(ps -o nlwp= -p "$SERVER_PID" | tr -d ' ')" $((before + 3)) \
	"concurd -m thread: 3 clients, 3 more threads ($before before), one PID"
expect_eq "$(children_of "$SERVER_PID" | count)" 0 "and no child process"
for fd in "${fds[@]}"; do exec {fd}>&-; done
expect "the threads end with their clients" \
	wait_for 5 eval '[ "$(ps -o nlwp= -p $SERVER_PID | tr -d " ")" = $before ]'
stop_server "$SERVER_PID"

finish
