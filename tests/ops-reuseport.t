#!/usr/bin/env bash
# ops-reuseport.t: --reuseport gives each event loop of select, poll and
# epoll a SO_REUSEPORT listener of its own (ss shows one listening socket
# per loop on the port); every other model has one listener and refuses
# the option with a usage error that names the models that take it, rather
# than ignoring it.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"
listeners() { ss -Htln "sport = :$1" | wc -l | tr -d ' '; }

for m in select poll epoll; do
	if ! start_server "$T/$m.log" "$BIN/concurd" -m "$m" -w 3 --reuseport -b 127.0.0.1 -p 0; then
		fail "$m --reuseport: starts"; continue
	fi
	wait_for 5 eval '[ "$(listeners "$PORT")" = 3 ]'
	is "$(listeners "$PORT")" 3 "$m -w 3 --reuseport: three listening sockets on the port"
	good=0
	for i in 1 2 3 4 5 6; do
		[ "$("$CL" talk 127.0.0.1 "$PORT" -d $'rp\n' 2>/dev/null)" = rp ] && good=$((good + 1))
	done
	is "$good" 6 "$m --reuseport: serves"
	stop_server
	is "$SERVER_STATUS" 0 "$m --reuseport: stops with 0"
done

for m in $("$BIN/concurd" --list | sed -n 's/^model //p'); do
	case $m in select|poll|epoll) continue ;; esac
	out=$(timeout 5 "$BIN/concurd" -m "$m" --reuseport -b 127.0.0.1 -p 0 2>&1); st=$?
	is "$st:$out" "64:concurd: --reuseport: model $m has no listener per worker (models that do: select, poll, epoll)" \
		"$m --reuseport: refused, naming the models that take it"
done
done_testing
