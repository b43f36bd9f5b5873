#!/bin/bash
# Memory pressure: concurd in a memory cgroup of the test's own, limited
# to REL_MEM_MIB (default 16) MiB -- cgroup v2's memory.max, or v1's
# memory.limit_in_bytes where the memory controller is on v1, as here --
# takes a canary client, then 1,000 never-reading clients (256 KiB sent
# each, nothing read) and 10,000 idle ones (build/tests/rel_mem).  It must
# not be OOM-killed (the cgroup counts no OOM kill), must echo the canary
# every 100 ms within 2 s all along, and serve a new client afterwards;
# what it refuses it counts and says ("memory: ... refusing new
# connections").  The pools do not refuse: they take what their workers
# can, and the rest waits in the listen backlog.
#
# REL_MEM_MODELS: the models (default: a loop, io_uring, a thread and a
# process per connection, a process pool and a thread pool).
. "$(dirname "$0")/rel.sh"
[ -x "$HELP/rel_mem" ] || skip_all "$HELP/rel_mem is not built (make tools)"
[ "$(id -u)" = 0 ] || skip_all "making a cgroup needs root"
[ "$(ulimit -n)" -ge 12000 ] || ulimit -n 12000 2>/dev/null ||
	skip_all "11,000 connections need 'ulimit -n 12000' (it is $(ulimit -n))"

MIB=${REL_MEM_MIB:-16}
models=${REL_MEM_MODELS:-"epoll uring thread fork prefork prethread-queue"}

# Our memory cgroup: v2 where memory is a controller of our cgroup's
# hierarchy, else v1's memory hierarchy.
# mount FSTYPE [OPTION]: where that cgroup hierarchy is mounted, and the
# part of it the mount shows (in a container, not the root).
mount_of() {
	awk -v t="$1" -v o="${2:-}" '{
		for (i = 7; $i != "-"; i++) ;
		if ($(i + 1) == t && (o == "" || $(i + 3) ~ o)) { print $5, $4; exit }
	}' /proc/self/mountinfo
}
# path_in MOUNT ROOT CGPATH: the directory of CGPATH under that mount.
path_in() { local p=$3; [ "$2" != / ] && p=${p#"$2"}; echo "$1$p"; }
read -r v2mnt v2r <<<"$(mount_of cgroup2)"
read -r v1mnt v1r <<<"$(mount_of cgroup '(^|,)memory(,|$)')"
cgv2=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
cgv1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
v2dir=${v2mnt:+$(path_in "$v2mnt" "$v2r" "$cgv2")}
v1dir=${v1mnt:+$(path_in "$v1mnt" "$v1r" "$cgv1")}
if [ -n "$v2dir" ] && grep -qw memory "$v2dir/cgroup.controllers" 2>/dev/null; then
	# A cgroup that has processes can have no children with
	# controllers on v2 (no internal processes): ours is a sibling.
	PARENT=$(dirname "$v2dir")
	grep -qw memory "$PARENT/cgroup.subtree_control" 2>/dev/null ||
		skip_all "cgroup v2: memory is not delegated to children of $PARENT"
	V=2 LIMITF=memory.max EVENTS=memory.events
elif [ -n "$v1dir" ] && [ -w "$v1dir" ]; then
	PARENT=$v1dir V=1 LIMITF=memory.limit_in_bytes EVENTS=memory.oom_control
else
	skip_all "no writable cgroup memory controller (v2 memory.max or v1 memory.limit_in_bytes)"
fi
CG=$PARENT/concurd-mem.$$
mkdir "$CG" || skip_all "cannot make a cgroup under $PARENT"
cg_cleanup() {
	local p i
	for ((i = 0; i < 50; i++)); do
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		rmdir "$CG" 2>/dev/null && return
		sleep 0.1
	done
}
trap '_cleanup; cg_cleanup' EXIT
echo $((MIB * 1024 * 1024)) >"$CG/$LIMITF" || skip_all "cannot set $CG/$LIMITF"
diag "cgroup v$V $CG, $LIMITF = $MIB MiB"
oom_kills() { awk '$1 == "oom_kill" {print $2}' "$CG/$EVENTS"; }

# concurd runs in the cgroup from its first instruction.
REL_WRAP=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG")

for m in $models; do
	before=$(oom_kills)
	rel_serve "$m" -m "$m" -s echo -b 127.0.0.1 || continue
	pid=$SERVER_PID
	if out=$("$HELP/rel_mem" 127.0.0.1 "$PORT" --never-read 1000 --idle 10000 \
	    --hold 5 --timeout 2 2>&1); then
		pass "$m: 1,000 never-reading and 10,000 idle clients; the canary served all along, and a client afterwards"
	else
		fail "$m: 1,000 never-reading and 10,000 idle clients; the canary served all along, and a client afterwards"
	fi
	printf '%s\n' "$out" | sed "s/^/# $m: /" >&2
	is "$(oom_kills)" "${before:-0}" "$m: no OOM kill in the cgroup"
	ok $(kill -0 "$pid" 2>/dev/null; echo $?) "$m: concurd is alive"
	# The clients the server closed are the connections it refused.
	closed=$(printf '%s\n' "$out" | sed -n 's/.*, \([0-9]*\) then closed by the server.*/\1/p' |
	    awk '{n += $1} END {print n + 0}')
	rel_finish "$m"
	is "$(rel_summary_field refused)" "$closed" "$m: every client it closed is counted refused"
	case $m in
	prefork*|prethread*) ;;	# they leave clients in the backlog
	*)	like "$(grep -E 'memory: ' "$LOG")" 'memory: [0-9]+ of '"$MIB"' MiB used \(the cgroup.s limit\): (refusing new connections|no new worker)' \
		    "$m: it says it refuses for memory" ;;
	esac
done
done_testing
