#!/usr/bin/env bash
# ops-defer-accept.t: --defer-accept (TCP_DEFER_ACCEPT): a client that has
# connected but sent nothing is not accepted yet; once it sends, it is, and
# is served.  Without the option the same client is accepted at once.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "bin/concurd not built"
accepted() { kill -USR1 "$SERVER_PID"; sleep 0.3; sed -n 's/.*stats: .* accepted=\([0-9]*\).*/\1/p' "$1" | tail -n1; }

for m in epoll uring fork; do
	for how in defer plain; do
		log=$T/$m-$how.log
		[ "$how" = defer ] && opt="--defer-accept 5" || opt=
		if ! start_server "$log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 $opt; then
			wait "$SERVER_PID" 2>/dev/null
			[ $? = 69 ] && { skip "$m: not available here"; continue 2; }
			fail "$m $how: starts"; continue
		fi
		exec 3<>/dev/tcp/127.0.0.1/"$PORT"
		sleep 0.3
		if [ "$how" = defer ]; then
			is "$(accepted "$log")" 0 "$m --defer-accept: a silent client is not accepted yet"
		else
			is "$(accepted "$log")" 1 "$m: without it, the same client is accepted at once"
		fi
		printf 'hello\n' >&3
		IFS= read -r -t 3 line <&3
		is "$line" hello "$m $how: once it sends, it is served"
		exec 3>&-
		stop_concurd
	done
done

done_testing
