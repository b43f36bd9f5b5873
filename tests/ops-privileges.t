#!/bin/bash
# ops-privileges: --user/--group drop root after binding (so port 7 can be
# bound as root and served as nobody), in the main process and in the
# children of the process models; an unknown user exits 67; without root a
# privileged port exits 77 with a hint to use -p 8007.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"
[ "$(id -u)" = 0 ] || skip_all "needs root"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
NUID=$(id -u nobody)
NGID=$(id -g nobody)

ids_of() {	# PID: "uid ruid euid suid fsuid / gid ... / groups"
	awk '/^Uid:/ {u=$2" "$3" "$4" "$5} /^Gid:/ {g=$2" "$3" "$4" "$5}
	    /^Groups:/ {$1=""; gr=$0} END {print u " / " g " /" gr}' /proc/"$1"/status
}
WANT="$NUID $NUID $NUID $NUID / $NGID $NGID $NGID $NGID /"
# initgroups gives nobody its supplementary groups (normally none, or its
# own group): none may be root's.
groups_ok() { ! grep -Eq '^Groups:.*\b0\b' /proc/"$1"/status; }

for m in epoll fork prefork thread; do
	if ! start_server "$T/log" "$BIN/concurd" -m "$m" -p 0 -b 127.0.0.1 --user nobody; then
		fail "$m --user nobody: server starts"; continue
	fi
	like "$(ids_of "$SERVER_PID")" "^$WANT" "$m --user nobody: the server runs as uid/gid $NUID/$NGID (all four ids)"
	check "$m --user nobody: no root supplementary group" groups_ok "$SERVER_PID"
	exec {fd}<>/dev/tcp/127.0.0.1/"$PORT"
	printf 'ping\n' >&"$fd"; IFS= read -r -t 3 line <&"$fd"
	is "${line:-}" ping "$m --user nobody: still serves"
	for kid in $(children_of "$SERVER_PID"); do
		like "$(ids_of "$kid")" "^$WANT" "$m --user nobody: child $kid runs as nobody too"
	done
	exec {fd}>&-
	stop_server
	is "$SERVER_STATUS" 0 "$m --user nobody: stops with 0"
done

# The point of it: bind port 7 as root, serve as nobody.
if [ -z "$(ss -Htln 'sport = :7' 2>/dev/null)" ]; then
	if start_server "$T/log" "$BIN/concurd" -p 7 -b 127.0.0.1 --user nobody; then
		is "$PORT" 7 "--user nobody -p 7: listening on port 7"
		like "$(ids_of "$SERVER_PID")" "^$WANT" "--user nobody -p 7: running as nobody"
		is "$("$CL" talk 127.0.0.1 7 -d $'seven\n')" seven "--user nobody -p 7: serves on port 7"
		stop_server
	else
		fail "--user nobody -p 7: server starts"
	fi
else
	skip "port 7 is in use here"; skip "port 7"; skip "port 7"
fi

# --group alone, and --user with --group.
GRP=$(getent group "$NGID" | cut -d: -f1)
if start_server "$T/log" "$BIN/concurd" -p 0 -b 127.0.0.1 --user nobody --group "$GRP"; then
	like "$(ids_of "$SERVER_PID")" "^$WANT" "--user nobody --group $GRP: uid and gid"
	stop_server
else
	fail "--user nobody --group $GRP: server starts"
fi
if start_server "$T/log" "$BIN/concurd" -p 0 -b 127.0.0.1 --group "$GRP"; then
	like "$(ids_of "$SERVER_PID")" "^0 0 0 0 / $NGID $NGID $NGID $NGID / $NGID\$" \
		"--group $GRP alone: gid $NGID and no other group, uid unchanged"
	stop_server
else
	fail "--group $GRP: server starts"
fi

# --inetd drops too.
if [ -x "$HELP/ops_socketpair" ]; then
	out=$("$HELP/ops_socketpair" -- "$BIN/concurd" --inetd --user nobody -s exec -- id -u 2>&1)
	is "$out" "$NUID" "--inetd --user nobody -s exec: the program runs as nobody"
fi

out=$("$BIN/concurd" -p 0 -b 127.0.0.1 --user no-such-user 2>&1); st=$?
is "$st" 67 "--user no-such-user: exit 67"
like "$out" "no user 'no-such-user'" "--user no-such-user: the message names it"
out=$("$BIN/concurd" -p 0 -b 127.0.0.1 --group no-such-group 2>&1); st=$?
is "$st" 67 "--group no-such-group: exit 67"

# Without root: port 7 is refused with a hint.
unpriv=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
if ! command -v setpriv >/dev/null; then
	skip "setpriv is missing"; skip "setpriv is missing"
elif [ "$unpriv" -le 7 ]; then
	skip "ip_unprivileged_port_start=$unpriv: port 7 needs no root here"; skip "port 7"
else
	out=$(timeout 10 setpriv --reuid=nobody --regid="$NGID" --clear-groups \
		"$BIN/concurd" -p 7 -b 127.0.0.1 2>&1); st=$?
	is "$st" 77 "as nobody, -p 7: exit 77"
	like "$out" 'Permission denied.*try -p 8007' "as nobody, -p 7: the message suggests -p 8007"
	# A non-root user cannot drop to another one: refuse rather than go on.
	out=$(timeout 10 setpriv --reuid=nobody --regid="$NGID" --clear-groups \
		"$BIN/concurd" -p 0 -b 127.0.0.1 --user root 2>&1); st=$?
	is "$st" 77 "as nobody, --user root: the change fails, exit 77"
fi

done_testing
