#!/bin/bash
# UDP: concurd --udp answers echo, discard, chargen, daytime and time, and
# its reflection guard drops a datagram from a source port below 1024
# (CVE-1999-0103), counting it in the summary.
. "$(dirname "$0")/lib.sh"

CONCURD=$BIN/concurd
CONFORM=$HELP/conform
[ -x "$CONCURD" ] || skip_all "bin/concurd is not built"
[ -x "$CONFORM" ] || skip_all "build/tests/conform is not built (make tools)"


# conform DESC CHECK ARGS...: 0 pass, 1 fail, 77 skip (with a reason).
conform() {
	local desc=$1 out st; shift
	out=$("$CONFORM" "$@" 2>&1)
	st=$?
	case $st in
	0) pass "$desc" ;;
	77) skip "$desc: $out" ;;
	*) fail "$desc" "$out" ;;
	esac
	return $st
}

finish() {
	local desc=$1
	stop_concurd
	if [ "$STOP_HUNG" = 1 ]; then
		fail "$desc: exits on SIGTERM" "still running 10 s after SIGTERM; killed"
	else
		is "$SERVER_STATUS" 0 "$desc: exits 0 on SIGTERM"
	fi
	SUMMARY=$(grep '^concurd: summary:' "$log")
	like "$SUMMARY" '=' "$desc: summary line"
}

ip6=no
grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null && ip6=yes

for s in echo discard chargen daytime time; do
	for host in 127.0.0.1 ::1; do
		[ "$host" = ::1 ] && [ "$s" != echo ] && continue
		[ "$host" = ::1 ] && [ "$ip6" = no ] && { skip "udp echo on ::1: no IPv6"; continue; }
		desc="udp $s on $host"
		log=$T/$s.$host.log
		if ! start_server "$log" "$CONCURD" --udp -s "$s" -p 0 -b "$host"; then
			stop_concurd
			fail "$desc: starts" "$(cat "$log")"
			continue
		fi
		what=answers
		[ "$s" = discard ] && what="stays silent"
		conform "$desc: $what" udp "$host" "$PORT" "$s"
		guard=
		if [ "$s" = echo ]; then
			conform "$desc: guard drops a datagram from a port below 1024" \
			    udp-guard "$host" "$PORT"
			guard=$?
		fi
		finish "$desc"
		if [ "$guard" = 0 ]; then
			# The summary counts drops if it has a field for them.
			dropped=$(printf '%s\n' "$SUMMARY" | grep -o '[a-z_]*dropped=[0-9]*' | head -n 1)
			if [ -n "$dropped" ]; then
				ok $(( ${dropped#*=} < 1 )) "$desc: summary counts the drop ($dropped)"
			else
				skip "$desc: the summary reports no dropped count"
			fi
		fi
	done
done

done_testing
