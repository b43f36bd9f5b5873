# tests/reliability/rel.sh: what the reliability suites share, on top of
# tests/lib.sh.  Source it first thing:
#     . "$(dirname "$0")/rel.sh"
#
# These suites are not part of `make check` (they live outside tests/*.t);
# mk/reliability.mk and mk/sanitize.mk run them.  REL_MODELS picks the models
# (default: every model concurd --list names); a model that cannot run here
# (exit 69: uring without io_uring) is skipped with its reason.

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

CONCURD=$BIN/concurd
[ -x "$CONCURD" ] || skip_all "$CONCURD is not built"

# Every model, or the ones asked for.
rel_models() {
	if [ -n "${REL_MODELS:-}" ]; then
		printf '%s\n' $REL_MODELS
	else
		"$CONCURD" --list | awk '$1 == "model" {print $2}'
	fi
}

# rel_serve DESC ARGS...: start "${REL_WRAP[@]}" concurd -p 0 ARGS; 0 when
# it listens, 2 when it cannot run here (exit 69: a skip was printed), 1
# when it failed (a failure was printed).  Sets LOG, SERVER_PID, PORT.
REL_WRAP=()
nlog=0
rel_serve() {
	local desc=$1 st; shift
	LOG=$T/log.$((++nlog))
	if start_server "$LOG" "${REL_WRAP[@]}" "$CONCURD" -p 0 "$@"; then
		return 0
	fi
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		fail "$desc: starts and listens" "no 'listening on' line in 10 s"
		return 1
	fi
	wait "$SERVER_PID" 2>/dev/null
	st=$?
	if [ "$st" = 69 ]; then
		skip "$desc: unavailable here (exit 69): $(tail -n 1 "$LOG")"
		return 2
	fi
	fail "$desc: starts and listens" "exit status $st: $(tail -n 3 "$LOG")"
	return 1
}

# rel_stop [SECONDS]: SIGTERM, wait (default 20 s), SIGKILL after that;
# sets SERVER_STATUS and STOP_HUNG.
rel_stop() {
	local secs=${1:-20}
	STOP_HUNG=0
	kill -TERM "$SERVER_PID" 2>/dev/null
	if ! wait_gone "$SERVER_PID" "$secs"; then
		STOP_HUNG=1
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	wait "$SERVER_PID" 2>/dev/null
	SERVER_STATUS=$?
}

# The summary line, with or without the timestamp -v adds.
REL_SUMMARY='^([0-9T:.-]+ )?concurd: summary:'

# rel_finish DESC: stop the server; it must exit 0 on SIGTERM with one
# summary line.  Prints the log's tail on any failure.
rel_finish() {
	local desc=$1 before=$_tap_fail
	rel_stop "${2:-20}"
	if [ "$STOP_HUNG" = 1 ]; then
		fail "$desc: exits on SIGTERM" "still running after SIGTERM; killed"
	else
		is "$SERVER_STATUS" 0 "$desc: exits 0 on SIGTERM"
	fi
	is "$(grep -cE "$REL_SUMMARY" "$LOG")" 1 "$desc: one summary line"
	# A pool that lost track of a child (reaped but not recorded) says so
	# at stop; a pid it still holds could be signalled after reuse.
	unlike "$(cat "$LOG")" "would not end|have not ended" \
	    "$desc: every worker was accounted for and ended"
	if [ "$before" != "$_tap_fail" ]; then
		diag "$desc: server log:"
		tail -n 15 "$LOG" | sed 's/^/#   /' >&2
	fi
}

# rel_summary_field NAME: the summary's NAME=value.
rel_summary_field() {
	grep -E "$REL_SUMMARY" "$LOG" | sed -n "s/.*[ :]$1=\([0-9][0-9]*\).*/\1/p" | head -n 1
}

# rel_hostile DESC MODEL SECS [EXTRA...]: the hostile driver against the
# running server, resources checked against its /proc.  The iterative model
# serves one connection at a time: fewer hostile clients, or the normal
# ones would only wait.
rel_hostile() {
	local desc=$1 m=$2 secs=$3 out; shift 3
	local args=(--secs "$secs" --pid "$SERVER_PID")
	[ -n "${REL_SEED:-}" ] && args+=(--seed "$REL_SEED")
	# Sanitizers' shadow memory grows with use: REL_HOSTILE_ARGS loosens.
	args+=(${REL_HOSTILE_ARGS:-})
	case $m in
	iterative) args+=(--hostile 2 --normal 1 --timeout 60) ;;
	esac
	if out=$("$HELP/rel_hostile" 127.0.0.1 "$PORT" "${args[@]}" "$@" 2>&1); then
		pass "$desc: hostile clients for ${secs}s, normal echoes exact, nothing leaked"
		printf '%s\n' "$out" | grep -E 'seed=|normal:|hostile:|baseline|after|memory' | sed 's/^/# /' >&2
	else
		fail "$desc: hostile clients for ${secs}s, normal echoes exact, nothing leaked"
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/#   /' >&2
	fi
}
