#!/usr/bin/env bash
# ops-defer-accept.t: TCP_DEFER_ACCEPT.  A client that has connected but
# sent nothing is not accepted yet; once it sends, it is, and is served.
# It is the default in the event loops for services whose client speaks
# first (echo here), not for those that speak first (daytime), nor in the
# process and thread models (fork here); --defer-accept 0 turns it off, and
# the client is accepted at once.  A silent client is not lost: the kernel
# hands it over after the deferral (1 s by default).
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "bin/concurd not built"
accepted() { kill -USR1 "$SERVER_PID"; sleep 0.3; sed -n 's/.*stats: .* accepted=\([0-9]*\).*/\1/p' "$1" | tail -n1; }

for m in epoll uring fork; do
	for how in defer default off; do
		log=$T/$m-$how.log
		case $how in
		defer) opt="--defer-accept 5" ;;
		default) opt= ;;
		off) opt="--defer-accept 0" ;;
		esac
		if ! start_server "$log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 $opt; then
			wait "$SERVER_PID" 2>/dev/null
			[ $? = 69 ] && { skip "$m: not available here"; continue 2; }
			fail "$m $how: starts"; continue
		fi
		exec 3<>/dev/tcp/127.0.0.1/"$PORT"
		sleep 0.3
		if [ "$how" = off ]; then
			is "$(accepted "$log")" 1 "$m --defer-accept 0: a silent client is accepted at once"
		elif [ "$how" = default ] && [ "$m" = fork ]; then
			is "$(accepted "$log")" 1 "$m (echo, no option): a silent client is accepted at once"
		else
			is "$(accepted "$log")" 0 "$m ${opt:-(echo, no option)}: a silent client is not accepted yet"
		fi
		printf 'hello\n' >&3
		IFS= read -r -t 3 line <&3
		is "$line" hello "$m $how: once it sends, it is served"
		exec 3>&-
		stop_concurd
	done
done

# The default deferral is short: a client that waits to be spoken to is
# accepted all the same (in the ring, its first receive then finds nothing
# and waits)...
for m in epoll uring; do
	log=$T/silent-$m.log
	if ! start_server "$log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1; then
		wait "$SERVER_PID" 2>/dev/null
		[ $? = 69 ] && { skip "$m: not available here"; continue; }
		fail "$m, echo: starts"; continue
	fi
	exec 3<>/dev/tcp/127.0.0.1/"$PORT"
	n=0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		n=$(accepted "$log")
		[ "$n" = 1 ] && break
	done
	is "$n" 1 "$m, echo (no option): a silent client is accepted within 3 s all the same"
	printf 'late\n' >&3
	IFS= read -r -t 3 line <&3
	is "$line" late "$m: and served"
	exec 3>&-
	stop_concurd
done

# ...a service that speaks first is not deferred, unless a proxy's header
# comes first.
for how in plain proxied; do
	log=$T/daytime-$how.log
	opt=
	[ "$how" = proxied ] && opt=--proxy-protocol
	if ! start_server "$log" "$BIN/concurd" -m epoll -s daytime -p 0 -b 127.0.0.1 $opt; then
		fail "daytime $how: starts"; continue
	fi
	exec 3<>/dev/tcp/127.0.0.1/"$PORT"
	sleep 0.3
	if [ "$how" = plain ]; then
		is "$(accepted "$log")" 1 "daytime (no option): a client that sends nothing is accepted at once"
		IFS= read -r -t 3 line <&3
		like "$line" '[0-9][0-9]:[0-9][0-9]' "daytime: and answered"
	else
		is "$(accepted "$log")" 0 "daytime --proxy-protocol: not accepted before the header"
	fi
	exec 3>&-
	stop_concurd
done

done_testing
