#!/bin/bash
# Conformance: every model of concurd runs every service correctly.
#
# For each model x service pair that `concurd --list` names, start concurd on
# 127.0.0.1 with a kernel-chosen port, run the service's checks from
# build/tests/conform against it, stop it with SIGTERM and check that it
# exits 0 with one summary line that counts exactly the connections made.
# Then every model once more on ::1 with echo, and the pool models with
# -w 4 against 12 persistent clients (3x the pool: pools must grow).
# A model that cannot run here (uring without io_uring) exits 69 at start
# and is skipped, with its reason.
. "$(dirname "$0")/lib.sh"

CONCURD=$BIN/concurd
CONFORM=$HELP/conform
[ -x "$CONCURD" ] || skip_all "bin/concurd is not built"
[ -x "$CONFORM" ] || skip_all "build/tests/conform is not built (make tools)"


# serve DESC ARGS...: start concurd ARGS -p 0; returns 0 when it listens,
# 2 when it says it cannot run here (exit 69), 3 when it refuses the
# combination (exit 64) and COMBO_OK=1 says that is documented, 1 otherwise.
serve() {
	local desc=$1 st; shift
	LOG=$T/log.$((++nlog))
	CONNS=0
	CONNS_KNOWN=1
	if start_server "$LOG" "$CONCURD" -p 0 "$@"; then
		pass "$desc: starts and listens"
		return 0
	fi
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		stop_concurd
		fail "$desc: starts and listens" "no 'listening on' line in 10 s"
		return 1
	fi
	wait "$SERVER_PID" 2>/dev/null
	st=$?
	if [ "$st" = 69 ]; then
		UNAVAILABLE="$(tail -n 1 "$LOG")"
		skip "$desc: unavailable here (exit 69): $UNAVAILABLE"
		return 2
	fi
	if [ "$st" = 64 ] && [ "${COMBO_OK:-0}" = 1 ]; then
		skip "$desc: not a valid combination (exit 64): $(tail -n 1 "$LOG")"
		return 3
	fi
	fail "$desc: starts and listens" "exit status $st"
	tail -n 5 "$LOG" | sed 's/^/#   /' >&2
	return 1
}

# conform DESC HOST CHECK ARGS...: one conform check against the server.
conform() {
	local desc=$1 host=$2 chk=$3 out n; shift 3
	if out=$("$CONFORM" "$chk" "$host" "$PORT" "$@" 2>"$T/conform.err"); then
		pass "$desc: $chk${1:+ $*}"
		n=$(printf '%s\n' "$out" | sed -n 's/.* connections=\([0-9][0-9]*\)$/\1/p')
		CONNS=$((CONNS + ${n:-0}))
	else
		fail "$desc: $chk${1:+ $*}" "$(cat "$T/conform.err")"
		CONNS_KNOWN=0	# a failed check stops part way
	fi
}

# finish DESC: SIGTERM; exit 0, one summary line with connections=CONNS.
finish() {
	local desc=$1 summary got
	stop_concurd
	if [ "$STOP_HUNG" = 1 ]; then
		fail "$desc: exits on SIGTERM" "still running 10 s after SIGTERM; killed"
	else
		is "$SERVER_STATUS" 0 "$desc: exits 0 on SIGTERM"
	fi
	summary=$(grep '^concurd: summary:' "$LOG")
	is "$(printf '%s\n' "$summary" | count_lines)" 1 "$desc: one summary line"
	got=$(printf '%s\n' "$summary" | sed -n 's/.*[ :]connections=\([0-9][0-9]*\).*/\1/p' | head -n 1)
	if [ "$CONNS_KNOWN" = 1 ]; then
		is "connections=${got:-missing}" "connections=$CONNS" \
		    "$desc: summary counts the $CONNS connections made"
	else
		like "$summary" 'connections=[0-9]+' "$desc: summary has connections="
	fi
	if [ "${FAILED_BEFORE:-0}" != "$_tap_fail" ]; then
		diag "$desc: server log:"
		tail -n 20 "$LOG" | sed 's/^/#   /' >&2
		FAILED_BEFORE=$_tap_fail
	fi
}

# The file service's tree: a text file, a binary one in a directory, an
# empty one; the paths concurbench asks for.
FILES=$T/files
mkdir -p "$FILES/docs"
printf 'notes: hello from the file service\n' >"$FILES/notes.txt"
head -c 300000 /dev/urandom >"$FILES/docs/big.bin"
: >"$FILES/empty"
printf '/notes.txt\n3 /docs/big.bin\n/empty\n' >"$T/paths"

# tool DESC COUNT CMD...: a client that must exit 0; COUNT connections.
tool() {
	local desc=$1 n=$2; shift 2
	if "$@" >"$T/tool.out" 2>"$T/tool.err"; then
		pass "$desc"
		CONNS=$((CONNS + n))
	else
		fail "$desc" "$(head -c 600 "$T/tool.err")"
		CONNS_KNOWN=0
	fi
}

# file_checks DESC MODEL: both framings, with curl, wget and concurbench,
# every answer compared with the file.
file_checks() {
	local desc=$1 m=$2 c=8 out n u=http://127.0.0.1:$PORT
	[ "$m" = iterative ] && c=1	# one connection at a time
	tool "$desc: curl gopher: the menu" 1 curl -sS --max-time 10 \
	    -o "$T/menu" "gopher://127.0.0.1:$PORT/1/"
	like "$(cat "$T/menu")" $'^0notes.txt\t/notes.txt\t[^\t]+\t'"$PORT"$'\r' \
	    "$desc: the menu lists notes.txt with this host and port"
	tool "$desc: curl gopher: a file" 1 curl -sS --max-time 10 \
	    -o "$T/g1" "gopher://127.0.0.1:$PORT/0/docs/big.bin"
	check "$desc: gopher: the file byte for byte" cmp -s "$T/g1" "$FILES/docs/big.bin"
	tool "$desc: curl http: two files on one connection" 1 curl -sS \
	    --max-time 10 -o "$T/h1" -o "$T/h2" "$u/notes.txt" "$u/docs/big.bin"
	check "$desc: http: both files byte for byte" eval \
	    'cmp -s "$T/h1" "$FILES/notes.txt" && cmp -s "$T/h2" "$FILES/docs/big.bin"'
	tool "$desc: wget" 1 wget -q -T 10 -t 1 -O "$T/w1" "$u/docs/big.bin"
	check "$desc: wget: the file byte for byte" cmp -s "$T/w1" "$FILES/docs/big.bin"
	for mode in --http plain; do
		out=$("$BIN/concurbench" 127.0.0.1 "$PORT" -m file \
		    $([ $mode = --http ] && echo --http) --paths "$T/paths" \
		    --root "$FILES" -n 200 -c "$c" -t 1 --io-timeout 10s 2>&1)
		st=$?
		n=$(printf '%s\n' "$out" | sed -n 's/^connections *\([0-9]*\) opened.*/\1/p')
		if [ "$st" = 0 ] && printf '%s\n' "$out" | grep -q '^errors  *none' &&
		    printf '%s\n' "$out" | grep -q '^requests  *200 '; then
			pass "$desc: concurbench $mode: 200 files, every byte checked"
			CONNS=$((CONNS + ${n:-0} + 1))	# and its probe
		else
			fail "$desc: concurbench $mode: 200 files, every byte checked" "$out"
			CONNS_KNOWN=0
		fi
	done
}

# checks HOST MODEL SERVICE DESC: the checks that fit the service.
checks() {
	local host=$1 model=$2 svc=$3 desc=$4
	case $svc in
	echo|exec)	# exec runs /bin/cat: an echo server, a process each
		if [ "$model" = iterative ]; then
			conform "$desc" "$host" echo-many --serial
			conform "$desc" "$host" echo-many --clients 1 --messages 8
		else
			conform "$desc" "$host" echo-many --clients 64 --messages 3
		fi
		conform "$desc" "$host" halfclose ;;
	discard)	conform "$desc" "$host" discard ;;
	chargen)	conform "$desc" "$host" chargen ;;
	daytime)	conform "$desc" "$host" daytime ;;
	time)		conform "$desc" "$host" time ;;
	nbytes)
		conform "$desc" "$host" nbytes-valid
		conform "$desc" "$host" nbytes-malformed ;;
	file)	file_checks "$desc" "$model" ;;
	*)
		# A new service needs its checks here.
		echo "not ok $((++_tap_n)) - $desc: no conformance check for service '$svc' # TODO write one" ;;
	esac
}

list=$("$CONCURD" --list 2>"$T/list.err")
st=$?
is "$st" 0 "concurd --list exits 0"
models=$(printf '%s\n' "$list" | awk '$1 == "model" {print $2}')
services=$(printf '%s\n' "$list" | awk '$1 == "service" {print $2}')
like "$models" '.' "concurd --list names models"
like "$services" '.' "concurd --list names services"

start=$SECONDS
nlog=0
FAILED_BEFORE=0
declare -A unavailable
for m in $models; do
	for s in $services; do
		desc="$m/$s"
		if [ "$s" = exec ]; then
			# Only the process models run programs (concurd(8)).
			COMBO_OK=1 serve "$desc" -m "$m" -s exec -b 127.0.0.1 -- /bin/cat
		elif [ "$s" = file ]; then
			serve "$desc" -m "$m" -s file --root "$FILES" -b 127.0.0.1
		else
			serve "$desc" -m "$m" -s "$s" -b 127.0.0.1
		fi
		case $? in
		0) checks 127.0.0.1 "$m" "$s" "$desc"; finish "$desc" ;;
		2) unavailable[$m]=$UNAVAILABLE; break ;;
		esac
	done
done

# IPv6: every model once with echo on ::1.
if grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
	for m in $models; do
		[ -n "${unavailable[$m]:-}" ] && { skip "$m/echo on ::1: unavailable"; continue; }
		desc="$m/echo on ::1"
		serve "$desc" -m "$m" -s echo -b ::1 || continue
		like "$(cat "$LOG")" 'listening on \[?::1\]? port' "$desc: reports ::1"
		if [ "$m" = iterative ]; then
			conform "$desc" ::1 echo-many --serial
		else
			conform "$desc" ::1 echo-many --clients 8 --messages 2
		fi
		conform "$desc" ::1 halfclose
		finish "$desc"
	done
else
	skip "no ::1 on this host"
fi

# Pools serve more persistent clients than they start with.
for m in $models; do
	case $m in pre*) ;; *) continue ;; esac
	[ -n "${unavailable[$m]:-}" ] && continue
	desc="$m -w 4"
	serve "$desc" -m "$m" -s echo -b 127.0.0.1 -w 4 || continue
	conform "$desc" 127.0.0.1 echo-many --clients 12 --messages 2 --timeout 10
	finish "$desc"
	diag "$desc: $(grep '^concurd: summary:' "$LOG")"
done

diag "conformance: $((SECONDS - start)) s for $(echo $models | wc -w) models x $(echo $services | wc -w) services"
done_testing
