#!/bin/bash
# Pools of pre-started servers (the lab's "pool of previously started
# servers", lab/assignment.md; Stevens, UNIX Network Programming vol. 1, chapter 30).
#
# A fork-per-connection server pays for a fork() and an exit() (and a
# thread-per-connection server for a pthread_create) on every connection.
# A pool starts its processes (prefork) or threads (prethread) once, and
# each of them accepts and serves connection after connection.
#
# We serve the same 5,000 short connections (UNP's client: each connection
# asks for 4,000 bytes and closes) with concurd -m fork, thread, prefork and
# prethread, drive them with concurbench, and print the wall time and the
# CPU time the server spent (concurd's exit summary: cpu= is the server and
# all its children, cpu_us_per_conn= what UNP compares designs by).
#
# Look for: fork costs the most CPU per connection, the pools the least.
# This is one run on whatever machine you are on, other programs included:
# the table illustrates, it does not measure; for numbers you can trust
# run concurbench several times and compare medians (bench/).  The checks
# are only that every connection was served, byte for byte, without error.
. "$(dirname "$0")/lib.sh"
need "$BIN/concurd" "$BIN/concurbench"
explain

N=${LAB_CONNECTIONS:-5000}
SIZE=4000
MODELS=${LAB_MODELS:-fork thread prefork prethread}

field() { grep -o "\"$1\":[0-9.]*" "$2" | head -n1 | cut -d: -f2; }	# JSON
sfield() { sed -n "s/.*summary:.* $1=\([^ ]*\).*/\1/p" "$2"; }		# summary

rows=()
for m in $MODELS; do
	part "concurd -m $m -s nbytes"
	log=$W/log-$m
	start_server "$log" "$BIN/concurd" -m "$m" -s nbytes -p 0 ||
		{ observe 1 "$m: concurd starts"; continue; }
	say "\$ concurbench 127.0.0.1 $PORT -m nbytes -s $SIZE -n $N -c 8"
	timeout 300 "$BIN/concurbench" 127.0.0.1 "$PORT" -m nbytes -s "$SIZE" -n "$N" -c 8 \
		--json >"$W/bench-$m" 2>"$W/bench-err-$m"
	bst=$?
	stop_server "$SERVER_PID"
	shown "$(grep -a summary "$log")"
	expect_eq "$bst" 0 "$m: concurbench exits 0"
	expect_eq "$(field requests "$W/bench-$m")" "$N" "$m: $N requests made"
	expect_eq "$(field connections_opened "$W/bench-$m")" "$N" "$m: on $N connections"
	expect_eq "$(grep -o '"errors":{"total":[0-9]*' "$W/bench-$m" | grep -o '[0-9]*$')" 0 \
		"$m: no error (every reply verified byte for byte)"
	expect_eq "$STATUS" 0 "$m: concurd stops cleanly"
	conns=$(sfield connections "$log")
	expect "$m: concurd served them all: connections=$conns (concurbench's probe makes one more)" \
		test "${conns:-0}" -ge "$N" -a "${conns:-0}" -le $((N + 1))
	expect_eq "$(sfield bytes_out "$log")" $((N * SIZE)) "$m: and sent exactly $N x $SIZE bytes"
	expect_eq "$(sfield errors "$log")" 0 "$m: concurd counted no error"
	rows+=("$(printf '%-10s %8.2f %10.0f %10s %12s' "$m" \
		"$(field elapsed_s "$W/bench-$m")" "$(field requests_per_s "$W/bench-$m")" \
		"$(sfield cpu "$log")" "$(sfield cpu_us_per_conn "$log")")")
done

part "$N connections of $SIZE bytes each, 8 at a time, one run"
say "$(printf '%-10s %8s %10s %10s %12s' model 'wall s' 'conn/s' 'server cpu' 'cpu us/conn')"
printf '%s\n' "${rows[@]}" | _out
say "" "on $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1)), $(uname -sr);" \
    "concurbench runs on the same machine and takes its share of the CPUs."

finish
