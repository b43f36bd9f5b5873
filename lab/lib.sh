# lab/lib.sh: what every lab scenario shares.  Source it first thing:
#     . "$(dirname "$0")/lib.sh"
#
# A scenario explains itself (its header comment is printed), shows commands
# and their output, and checks each observation with `observe`.  Run alone
# it talks to a student and exits 0 when every observation was made, 1 when
# one was not, 77 when it cannot run here (skipped).  With LAB_TAP=1 (what
# tests/lab-*.t set) the same checks come out as TAP for prove.
#
# Everything a scenario starts is tracked and stopped by its PID at exit,
# pass or fail; the scratch directory $W is removed; at_exit registers more
# cleanup (namespaces, for example).  Every wait is bounded.

set -u
LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$LAB/.." && pwd)
BIN=${BIN:-$TOP/bin}
HELP=${HELP:-$TOP/build/tests}
W=$(mktemp -d "${TMPDIR:-/tmp}/concurd-lab.XXXXXX")
TAP=${LAB_TAP:-0}
_n=0 _failed=0 _pids=() _at_exit=()

# ---- talking to the student (or to prove) ----

_out() {	# lines to the student; comments under TAP
	if [ "$TAP" = 1 ]; then sed 's/^/# /'; else cat; fi
}
# The scenario's header comment, without the '#'s: what to look for.
explain() {
	sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$0" | _out
	echo | _out
}
say() { printf '%s\n' "$@" | _out; }
part() { printf '\n== %s ==\n' "$*" | _out; }
# show CMD...: print the command and its output, indented.
show() {
	printf '$ %s\n' "$*" | _out
	"$@" 2>&1 | sed 's/^/    /' | _out
}
# show_as LABEL CMD...: the same, the command line shown as LABEL.
show_as() {
	printf '$ %s\n' "$1" | _out; shift
	"$@" 2>&1 | sed 's/^/    /' | _out
}
# shown TEXT...: print text as a command's output (already computed).
shown() { printf '%s\n' "$@" | sed 's/^/    /' | _out; }

# ---- observations ----

observe() {	# observe STATUS DESCRIPTION: STATUS 0 means it was seen
	_n=$((_n + 1))
	if [ "$1" = 0 ]; then
		if [ "$TAP" = 1 ]; then echo "ok $_n - $2"
		else echo "  [seen]     $2"; fi
	else
		_failed=$((_failed + 1))
		if [ "$TAP" = 1 ]; then echo "not ok $_n - $2"
		else echo "  [NOT SEEN] $2"; fi
	fi
}
expect() {	# expect DESCRIPTION COMMAND...: seen if the command succeeds
	local d=$1; shift
	if "$@"; then observe 0 "$d"; else observe 1 "$d"; fi
}
expect_eq() {	# expect_eq GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then observe 0 "$3"
	else observe 1 "$3"; say "    (got '$1', expected '$2')" >&2; fi
}
# The scenario cannot run here: say why and stop.
skip_scenario() {
	if [ "$TAP" = 1 ]; then
		[ "$_n" = 0 ] && echo "1..0 # SKIP $*" || echo "1..$_n"
		exit 0
	fi
	echo "SKIPPED: $*"
	exit 77
}
# The end: a summary and the exit status.
finish() {
	if [ "$TAP" = 1 ]; then echo "1..$_n"
	elif [ "$_failed" = 0 ]; then printf '\nAll %d observations made.\n' "$_n"
	else printf '\n%d of %d observations NOT made.\n' "$_failed" "$_n"; fi
	[ "$_failed" = 0 ] && exit 0
	exit 1
}

# ---- processes, stopped by PID whatever happens ----

track() { _pids+=("$@"); }
at_exit() { _at_exit+=("$1"); }
_cleanup() {
	local p i
	trap '' INT TERM	# a second Ctrl-C must not cut the cleanup short
	# Only our own children: a pid we already reaped may belong to
	# someone else by now.
	for p in "${_pids[@]}"; do ours "$p" && kill -TERM "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do
		ours "$p" || continue
		wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null
	done
	for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do eval "${_at_exit[i]}"; done
	rm -rf "$W"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
# wait_gone PID SECONDS: true once PID has exited (and is reaped if ours).
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		if [ "$(state_of "$pid")" = Z ]; then
			wait "$pid" 2>/dev/null; return 0
		fi
		sleep 0.05
	done
	return 1
}
# Fields of /proc/PID/stat after the command name (which may hold spaces).
state_of() { sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -d' ' -f1; }
ours() { [ "$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -d' ' -f2)" = "$$" ]; }
children_of() {	# direct children of PID, one per line
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d'
}
zombies_of() {
	local c
	for c in $(children_of "$1"); do
		[ "$(state_of "$c")" = Z ] && echo "$c"
	done
	return 0
}
count() { sed '/^$/d' | wc -l | tr -d ' '; }

# start_server LOG COMMAND...: start a server (stderr to LOG), wait 10 s at
# most for its "listening on ... port N" line; sets SERVER_PID and PORT.
start_server() {
	local log=$1 i; shift
	: >"$log"
	"$@" 2>"$log" &
	SERVER_PID=$!
	track "$SERVER_PID"
	PORT=
	for ((i = 0; i < 200; i++)); do
		PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
		[ -n "$PORT" ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	say "the server did not start: $*" "$(cat "$log")" >&2
	return 1
}
# stop_server PID: SIGTERM, wait 10 s at most (then SIGKILL); sets STATUS.
stop_server() {
	local i
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		[ -z "$(state_of "$1")" ] || [ "$(state_of "$1")" = Z ] && break
		sleep 0.05
	done
	[ "$i" = 200 ] && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	STATUS=$?
}

# need PROGRAM...: the programs must be built.
need() {
	local p
	for p in "$@"; do
		[ -x "$p" ] || { echo "lab: $p is missing: run make (and make tools)" >&2; exit 1; }
	done
}
