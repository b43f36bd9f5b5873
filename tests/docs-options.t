#!/usr/bin/env bash
# docs-options.t: --help, the man pages and the option parsers agree.
#
# For every program (programs/NAME becomes bin/NAME, documented in
# man/NAME.1 or man/NAME.8):
#   - it has a man page, and the page is clean roff (groff -ww, if groff is
#     installed);
#   - every long option in `NAME --help` appears in the man page, and every
#     long option in the man page appears in --help (`--[a-z][a-z-]*`);
#   - every long option either shows is accepted by the program: probed as
#     `NAME --OPT[=VALUE] --version`, which must exit 0 and print the
#     version.  getopt handles the options in order, so --OPT is parsed
#     (and its value checked) and --version then exits before anything
#     runs.  A bogus option must fail the same probe with exit 64, so the
#     probe can tell.
. "$(dirname "$0")/lib.sh"

progs=$(cd "$TOP/programs" && for d in */; do d=${d%/}; ls "$d"/*.c >/dev/null 2>&1 && echo "$d"; done)
[ -n "$progs" ] || skip_all "no programs found"

# A harmless value for an option that takes one: by name, else by the
# metavar --help shows.
value_for() {	# value_for OPTION METAVAR
	case $1 in
	--model) echo epoll ;;
	--service) echo echo ;;
	--mode) echo pingpong ;;
	--bind) echo 127.0.0.1 ;;
	--port) echo 0 ;;
	--allow|--deny|--proxy-from) echo 127.0.0.1/32 ;;
	--user) echo nobody ;;
	--group) echo nogroup ;;
	--close) echo reset ;;
	--io) echo auto ;;
	--keepalive) echo 60,10,5 ;;
	--unix-mode) echo 0660 ;;
	--unix-owner) echo nobody ;;
	--sigpipe) echo handle ;;
	--size) echo 64 ;;
	--pid-file|--log-file|--histogram) echo "$T/probe-file" ;;
	*)	case $2 in
		SEC*|TIME*|DURATION*) echo 1 ;;
		BYTES*|SIZE*) echo 64 ;;
		FILE*) echo "$T/probe-file" ;;
		*) echo 1 ;;
		esac ;;
	esac
}

opts_of() { grep -o -- '--[a-z][a-z-]*' | sort -u; }

for p in $progs; do
	exe=$BIN/$p
	if [ ! -x "$exe" ]; then fail "$p is built ($exe)"; continue; fi
	man=
	for s in 1 8; do [ -e "$TOP/man/$p.$s" ] && man=$TOP/man/$p.$s; done
	if [ -z "$man" ]; then fail "$p has a man page (man/$p.1 or man/$p.8)"; continue; fi
	pass "$p has a man page (${man#"$TOP"/})"
	if command -v groff >/dev/null; then
		w=$(groff -man -ww -z -t "$man" 2>&1)
		is "$w" "" "$p: ${man#"$TOP"/} formats without a groff warning"
	fi

	help=$("$exe" --help 2>&1)
	hopts=$(printf '%s\n' "$help" | opts_of)
	# Roff writes a hyphen as \- ; fonts and escapes do not matter here.
	mopts=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$man" | opts_of)
	only_help=$(comm -23 <(echo "$hopts") <(echo "$mopts") | tr '\n' ' ')
	only_man=$(comm -13 <(echo "$hopts") <(echo "$mopts") | tr '\n' ' ')
	is "$only_help" "" "$p: every option in --help is in ${man#"$TOP"/}"
	is "$only_man" "" "$p: every option in ${man#"$TOP"/} is in --help"

	version=$("$exe" --version 2>/dev/null | head -n1)
	like "$version" '[0-9]+\.[0-9]+' "$p --version prints a version"
	"$exe" --no-such-option-zz --version >/dev/null 2>&1
	is "$?" 64 "$p: the probe fails on an option it does not know (exit 64)"

	for o in $(printf '%s\n%s\n' "$hopts" "$mopts" | sort -u); do
		[ -n "$o" ] || continue
		# From --help: "--opt X", "--opt=X", "--opt reset|normal" take a
		# value.
		line=$(printf '%s\n' "$help" | grep -E -- "(^|[ ,\[])$o([ =]|\]|\$)" | head -n1)
		meta=$(printf '%s\n' "$line" | sed -nE "s/.*$o[ =]([A-Z][A-Z.]*|[a-z]+\|[a-z|]+).*/\1/p")
		# "--merge FILE...": a flag; the files are operands.
		case $meta in *...) meta= ;; esac
		if [ -n "$meta" ]; then
			arg=("$o=$(value_for "$o" "$meta")")
		else
			arg=("$o")
		fi
		case $o in
		--help|--version|--list)	# they exit by themselves
			out=$(timeout 5 "$exe" "$o" </dev/null 2>&1); st=$?
			is "$st" 0 "$p $o exits 0"
			continue ;;
		esac
		out=$(timeout 5 "$exe" "${arg[@]}" --version </dev/null 2>&1); st=$?
		if [ "$st" = 0 ] && [ "$(printf '%s\n' "$out" | tail -n1)" = "$version" ]; then
			pass "$p accepts ${arg[*]}"
		else
			fail "$p accepts ${arg[*]}" "exit $st: $(printf '%s' "$out" | head -c 300)"
		fi
	done
done
done_testing
