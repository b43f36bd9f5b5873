#!/bin/bash
# Valgrind memcheck on the process models: concurd under memcheck, children
# traced (fork children, pool workers; not the programs -s exec runs), each
# service's conformance checks, SIGTERM.  Every process's log must end with
# "ERROR SUMMARY: 0 errors" (no invalid access, no uninitialised use, no
# definite leak) and the server must exit 0, not memcheck's 99.
#
# REL_MODELS (make valgrind: iterative fork prefork*), REL_SERVICES (default
# every service but udp ones).  Not for uring: memcheck does not model
# io_uring (the server does not even stop under it).
. "$(dirname "$0")/rel.sh"
CONFORM=$HELP/conform
[ -x "$CONFORM" ] || skip_all "$CONFORM is not built (make tools)"
command -v valgrind >/dev/null || skip_all "valgrind is not installed"

conform() {
	local desc=$1 chk=$2; shift 2
	if "$CONFORM" "$chk" 127.0.0.1 "$PORT" "$@" >"$T/conform.out" 2>"$T/conform.err"; then
		pass "$desc: $chk${1:+ $*}"
	else
		fail "$desc: $chk${1:+ $*}" "$(cat "$T/conform.err")"
	fi
}

# vg_logs DESC: every memcheck log of this run is clean.
vg_logs() {
	local desc=$1 f bad=0 n=0
	for f in "$VGDIR"/vg.*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		# A child that exec'd the -s exec program leaves only the header.
		grep -q 'ERROR SUMMARY' "$f" || ! grep -Evq \
		    '^==[0-9]+== ((Memcheck|Copyright|Using Valgrind|Command:|Parent PID:).*)?$' "$f" &&
		    continue
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
			bad=$((bad + 1))
			diag "$desc: $f:" "$(grep -E '^==[0-9]+== ' "$f" | head -n 40)"
		fi
	done
	ok $(( bad > 0 || n == 0 )) "$desc: memcheck clean in all $n process(es)"
	[ "$bad" = 0 ] || cp -r "$VGDIR" "${REL_KEEP:-$TOP/build}/" 2>/dev/null
}

services=${REL_SERVICES:-echo discard chargen daytime time nbytes file exec}
FILES=$T/files
mkdir -p "$FILES"
head -c 100000 /dev/urandom >"$FILES/a.bin"
printf 'text\n' >"$FILES/t.txt"
for m in $(rel_models); do
	for s in $services; do
		desc="valgrind $m/$s"
		VGDIR=$T/vg.$m.$s
		mkdir -p "$VGDIR"
		REL_WRAP=(valgrind --tool=memcheck --leak-check=full
			--errors-for-leak-kinds=definite --error-exitcode=99
			--trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*'
			--child-silent-after-fork=no --log-file="$VGDIR/vg.%p")
		case $s/$m in
		exec/iterative|exec/fork|exec/prefork*) ;;
		exec/*) skip "$desc: -s exec is for the process models"; continue ;;
		esac
		if [ "$s" = exec ]; then
			rel_serve "$desc" -m "$m" -s exec -b 127.0.0.1 -- /bin/cat || continue
		elif [ "$s" = file ]; then
			rel_serve "$desc" -m "$m" -s file --root "$FILES" -b 127.0.0.1 || continue
		else
			rel_serve "$desc" -m "$m" -s "$s" -b 127.0.0.1 || continue
		fi
		case $s in
		echo|exec)
			if [ "$m" = iterative ]; then
				conform "$desc" echo-many --clients 1 --messages 8 --timeout 60
			else
				conform "$desc" echo-many --clients 8 --messages 3 --timeout 60
			fi
			conform "$desc" halfclose
			# make valgrind (not -ci): hostile clients under memcheck.
			[ "$s" = echo ] && [ "${REL_HOSTILE_SECS:-0}" != 0 ] &&
				rel_hostile "$desc" "$m" "$REL_HOSTILE_SECS" \
				    --mem-slack 1024 --timeout 60 --settle 60 ;;
		discard) conform "$desc" discard --bytes 4194304 ;;
		chargen) conform "$desc" chargen ;;
		daytime) conform "$desc" daytime ;;
		time) conform "$desc" time ;;
		nbytes)
			conform "$desc" nbytes-valid
			conform "$desc" nbytes-malformed ;;
		file)
			for fm in --http plain; do
				if "$BIN/concurbench" 127.0.0.1 "$PORT" -m file \
				    $([ $fm = --http ] && echo --http) --path /a.bin \
				    --path /t.txt --root "$FILES" -n 40 -c 2 -t 1 \
				    --io-timeout 60s >"$T/conform.out" 2>&1; then
					pass "$desc: file $fm: 40 files byte-exact"
				else
					fail "$desc: file $fm: 40 files byte-exact" \
					    "$(tail -n 5 "$T/conform.out")"
				fi
			done ;;
		esac
		rel_finish "$desc" 60
		vg_logs "$desc"
	done
done
REL_WRAP=()
done_testing
