#!/bin/bash
# Each model in REL_MODELS through every stateful service's conformance
# checks (build/tests/conform), then a short hostile run on echo, each time
# stopped by SIGTERM with exit 0.  `make tsan` runs it against the
# ThreadSanitizer build for the threaded models: a data race, a lock-order
# inversion or a signal-unsafe call in a handler is a report and fails it.
#
# REL_HOSTILE_SECS (default 3) for the hostile part; 0 leaves it out.
. "$(dirname "$0")/rel.sh"
CONFORM=$HELP/conform
[ -x "$CONFORM" ] || skip_all "$CONFORM is not built (make tools)"

conform() {
	local desc=$1 chk=$2; shift 2
	if "$CONFORM" "$chk" 127.0.0.1 "$PORT" "$@" >"$T/conform.out" 2>"$T/conform.err"; then
		pass "$desc: $chk${1:+ $*}"
	else
		fail "$desc: $chk${1:+ $*}" "$(cat "$T/conform.err")"
	fi
}

# The file service's tree and the paths concurbench asks for.
FILES=$T/files
mkdir -p "$FILES/d"
head -c 200000 /dev/urandom >"$FILES/d/a.bin"
printf 'text\n' >"$FILES/t.txt"
printf '/d/a.bin\n/t.txt\n' >"$T/paths"

# file_conform DESC MODEL: both framings, every byte checked.
file_conform() {
	local desc=$1 c=4 mode
	[ "$2" = iterative ] && c=1
	for mode in http plain; do
		# Bounded: -n alone would retry for ever if the server died.
		if timeout 120 "$BIN/concurbench" 127.0.0.1 "$PORT" -m file \
		    $([ $mode = http ] && echo --http) --paths "$T/paths" \
		    --root "$FILES" -n 100 -c "$c" -t 1 --io-timeout 30s \
		    >"$T/conform.out" 2>&1; then
			pass "$desc: file $mode: 100 files byte-exact"
		else
			fail "$desc: file $mode: 100 files byte-exact" \
			    "$(tail -n 5 "$T/conform.out")"
		fi
	done
}

secs=${REL_HOSTILE_SECS:-3}
for m in $(rel_models); do
	for s in echo discard chargen daytime time nbytes file; do
		desc="$m/$s"
		extra=()
		[ "$s" = file ] && extra=(--root "$FILES")
		rel_serve "$desc" -m "$m" -s "$s" -b 127.0.0.1 "${extra[@]}"
		case $? in 0) ;; 2) continue 2 ;; *) continue ;; esac
		case $s in
		echo)
			if [ "$m" = iterative ]; then
				conform "$desc" echo-many --serial
			else
				conform "$desc" echo-many --clients 32 --messages 4
			fi
			conform "$desc" halfclose ;;
		discard) conform "$desc" discard --bytes 8388608 ;;
		chargen) conform "$desc" chargen ;;
		daytime) conform "$desc" daytime ;;
		time) conform "$desc" time ;;
		nbytes)
			conform "$desc" nbytes-valid
			conform "$desc" nbytes-malformed ;;
		file) file_conform "$desc" "$m" ;;
		esac
		[ "$s" = echo ] && [ "$secs" != 0 ] && rel_hostile "$desc" "$m" "$secs"
		rel_finish "$desc" 30
	done
done
done_testing
