#!/usr/bin/env bash
# observe.sh MODEL [OUTDIR]: how the model pages' excerpts were made.
#
# Starts `concurd -m MODEL -w 2 -p 0` under
#     strace -f -e trace=network,process,desc
# connects one TCPecho client that sends "hello" and stays 1 s, and while it
# is connected records every process and thread of the server (ps -L), the
# descriptors each process holds (/proc/PID/fd) and the sockets (ss -tnp).
# Then it sends SIGTERM and keeps the summary line.  Everything lands in
# OUTDIR (default: a temporary directory, printed): strace.txt (the loader
# noise before the first socket() dropped), fds.txt, ss.txt, ps.txt,
# server.log.  Run it as any user; nothing is left running.
#
#     docs/models/observe.sh prefork /tmp/prefork && less /tmp/prefork/strace.txt
set -u
model=${1:?usage: observe.sh MODEL [OUTDIR]}
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BIN:-$top/bin}
out=${2:-$(mktemp -d "${TMPDIR:-/tmp}/observe-$model.XXXXXX")}
mkdir -p "$out"
command -v strace >/dev/null || { echo "observe.sh: strace is not installed" >&2; exit 69; }

# Descriptors above 2 that our caller left open would show up in the
# server's table and confuse the reader: close them.
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
done

strace -f -qq -e trace=network,process,desc -o "$out/raw.txt" \
	"$bin/concurd" -m "$model" -w 2 -p 0 </dev/null 2>"$out/server.log" &
spid=$!
cleanup() { kill -TERM "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; }
trap cleanup EXIT

port=
for ((i = 0; i < 200; i++)); do
	port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$out/server.log")
	[ -n "$port" ] && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$port" ] || { echo "observe.sh: concurd did not start" >&2; cat "$out/server.log" >&2; exit 70; }
pid=$(cat /proc/"$spid"/task/*/children | tr ' ' '\n' | sed -n 1p)
sleep 0.3	# let a pool settle

{ printf 'hello\n'; sleep 1; } | "$bin/TCPecho" localhost "$port" >"$out/client.out" &
cpid=$!
sleep 0.5
tree() {	# the server and its descendants
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}
{
	for p in $(tree "$pid"); do
		echo "== pid $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)) threads $(awk '/^Threads:/ {print $2}' /proc/"$p"/status)"
		for fd in /proc/"$p"/fd/*; do
			printf '%s -> %s\n' "${fd##*/}" "$(readlink "$fd")"
		done | sort -n
	done
} >"$out/fds.txt" 2>/dev/null
ps -L -o pid,lwp,ppid,stat,wchan:22,comm --ppid "$pid" -p "$pid" >"$out/ps.txt"
ss -tnpe "( sport = :$port or dport = :$port )" >"$out/ss.txt" 2>/dev/null
ss -tlnp "( sport = :$port )" >>"$out/ss.txt" 2>/dev/null
wait "$cpid"
echo "client exit $?" >>"$out/client.out"
sleep 0.3
kill -TERM "$pid"
wait "$spid"
trap - EXIT
# From the first socket() on: the dynamic loader before it says nothing
# about the model.
awk '/socket\(/ {on = 1} on' "$out/raw.txt" >"$out/strace.txt"
rm -f "$out/raw.txt"
echo "$out"
