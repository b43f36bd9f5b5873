# tests/lib.sh: TAP for bash tests, and servers started and stopped by PID.
#
# Source it first thing in a .t file:
#     . "$(dirname "$0")/lib.sh"
# Every process started with spawn/start_server is killed on exit, pass or
# fail, and the scratch directory $T is removed.  Every wait is bounded.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$TOP/bin}
HELP=${HELP:-$TOP/build/tests}
T=$(mktemp -d "${TMPDIR:-/tmp}/concurd-test.XXXXXX")
_tap_n=0
_tap_fail=0
_tap_planned=
_pids=()

plan() { _tap_planned=$1; echo "1..$1"; }
diag() { printf '# %s\n' "$@" >&2; }
ok() {	# ok CONDITION-STATUS DESCRIPTION  (pass "$?" or use: ok $(( ... )))
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then echo "ok $_tap_n - $2"
	else echo "not ok $_tap_n - $2"; _tap_fail=$((_tap_fail + 1)); fi
}
pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; [ $# -gt 1 ] && diag "${@:2}"; return 0; }
check() {	# check DESCRIPTION command...: ok if the command succeeds
	local d=$1; shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"
	else ok 1 "$3"; diag "got:      '$1'" "expected: '$2'"; fi
}
like() {	# like STRING REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"
	else ok 1 "$3"; diag "got: '$(printf '%s' "$1" | head -c 400)'" "expected to match: $2"; fi
}
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 1 "$3"
		diag "got: '$(printf '%s' "$1" | head -c 400)'" "expected not to match: $2"
	else ok 0 "$3"; fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # skip $*"; }

done_testing() {
	[ -z "$_tap_planned" ] && echo "1..$_tap_n"
	[ "$_tap_fail" = 0 ]
}

# Track a PID so that it is killed at exit.
track() { _pids+=("$1"); }

_cleanup() {
	local p
	for p in "${_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${_pids[@]}"; do
		wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# wait_gone PID SECONDS: true once PID has exited (reaped or not ours).
wait_gone() {
	local pid=$1 i n=$(( ${2:-5} * 20 ))
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		# A zombie child of ours counts as gone once we reap it.
		if [ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" = Z ]; then
			wait "$pid" 2>/dev/null; return 0
		fi
		sleep 0.05
	done
	return 1
}

# wait_for SECONDS COMMAND...: poll a command until it succeeds.
wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# start_server LOG cmd...: start a server whose stderr goes to LOG, wait (10 s
# at most) for its "listening on ... port N" line; sets SERVER_PID and PORT.
start_server() {
	local log=$1; shift
	: >"$log"
	"$@" 2>"$log" &
	SERVER_PID=$!
	track "$SERVER_PID"
	PORT=
	local i
	for ((i = 0; i < 200; i++)); do
		PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
		[ -n "$PORT" ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	diag "server did not start: $*" "$(cat "$log")"
	return 1
}

# stop_server [SIGNAL]: signal SERVER_PID, wait 10 s at most (then SIGKILL,
# and SERVER_HUNG=1); sets SERVER_STATUS.
stop_server() {
	kill -"${1:-TERM}" "$SERVER_PID" 2>/dev/null
	local i
	SERVER_HUNG=0
	for ((i = 0; i < 1000; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		[ "$(awk '{print $3}' /proc/"$SERVER_PID"/stat 2>/dev/null)" = Z ] && break
		sleep 0.01
	done
	if ((i == 1000)); then
		SERVER_HUNG=1
		diag "server $SERVER_PID did not stop in 10 s: SIGKILL"
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	wait "$SERVER_PID" 2>/dev/null
	SERVER_STATUS=$?
}
# The same with SIGTERM, under the name the concurd suites use (STOP_HUNG).
stop_concurd() { stop_server TERM; STOP_HUNG=$SERVER_HUNG; }

# Direct children of PID, one per line.
children_of() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d'
}
# Zombie children of PID.
zombies_of() {
	local c
	for c in $(children_of "$1"); do
		[ "$(awk '{print $3}' /proc/"$c"/stat 2>/dev/null)" = Z ] && echo "$c"
	done
}
count_lines() { sed '/^$/d' | wc -l | tr -d ' '; }
nthreads_of() { awk '/^Threads:/ {print $2}' /proc/"$1"/status 2>/dev/null; }
nfds_of() { ls /proc/"$1"/fd 2>/dev/null | wc -l | tr -d ' '; }

# path_without DIR NAME...: fill DIR with links to every command on PATH
# but the NAMEs, so that PATH=DIR is this system without them (e.g. a
# fresh Debian, where root has no sudo).
path_without() {
	local dir=$1 d f n; shift
	local skip=" $* " dirs
	mkdir -p "$dir"
	IFS=: read -ra dirs <<<"$PATH"
	for d in "${dirs[@]}"; do
		for f in "$d"/*; do
			n=${f##*/}
			[[ $skip == *" $n "* ]] && continue
			[ -e "$dir/$n" ] || [ -d "$f" ] || [ ! -x "$f" ] || ln -s "$f" "$dir/$n"
		done
	done
}
