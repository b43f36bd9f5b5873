#!/usr/bin/env bash
# default-model.t: without -m, concurd serves TCP with io_uring's loops
# where the kernel allows them, else with epoll's (a seccomp filter that
# refuses io_uring, as many containers have, and -v says why); --reuseport
# picks epoll (a listener per loop), and so does a service that sends files
# (sendfile costs no copy); UDP is served iteratively.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "bin/concurd not built"
NOU=$HELP/no_uring
model_of() { sed -n 's/.*listening on .*(model \([a-z-]*\),.*/\1/p' "$1"; }
serve() {	# LOG ARGS...: start it, stop it
	local log=$1; shift
	start_server "$log" "$@" -p 0 -b 127.0.0.1 || return 1
	stop_concurd
}

if "$BIN/concurd" -m uring -p 0 -b 127.0.0.1 2>/dev/null & sleep 0.3; kill -0 $! 2>/dev/null; then
	kill $!; wait $! 2>/dev/null; want=uring
else
	wait $! 2>/dev/null; want=epoll
fi
serve "$T/d.log" "$BIN/concurd" && is "$(model_of "$T/d.log")" "$want" \
    "no -m: $want (io_uring $( [ $want = uring ] && echo runs || echo 'does not run') here)"

if [ -x "$NOU" ] && "$NOU" true 2>/dev/null; then
	serve "$T/n.log" "$NOU" "$BIN/concurd" -v &&
	    is "$(model_of "$T/n.log")" epoll "io_uring refused by seccomp: epoll"
	like "$(cat "$T/n.log")" "io_uring is not available \(.*\): model epoll" \
	    "-v says why"
	out=$("$NOU" "$BIN/concurd" -m uring -p 0 -b 127.0.0.1 2>&1); st=$?
	is "$st" 69 "-m uring where io_uring is refused: exit 69"
	like "$out" "model uring is not available" "... and says so"
else
	skip "no seccomp here: cannot refuse io_uring"
fi

serve "$T/r.log" "$BIN/concurd" --reuseport &&
    is "$(model_of "$T/r.log")" epoll "--reuseport: epoll (a listener per loop)"
serve "$T/u.log" "$BIN/concurd" --udp &&
    is "$(model_of "$T/u.log")" iterative "--udp: iterative"
mkdir -p "$T/root"
serve "$T/f.log" "$BIN/concurd" -s file --root "$T/root" &&
    is "$(model_of "$T/f.log")" epoll "-s file: epoll (sendfile, where io_uring copies)"

done_testing
