#!/usr/bin/env bash
# docs-commands.t: every command shown in README.md and docs/ runs.
#
# The convention, for whoever writes docs:
#   - Every ```sh block of README.md and docs/**/*.md is run, one line at a
#     time, unless the line before the block is
#         <!-- notest: WHY -->
#     (say why: it changes the system, needs other hosts...).
#   - A line must exit 0, or the status its trailing comment names:
#         bin/concurd -p 8007          # exit 69
#   - A line that starts a server -- bin/concurd or bin/TCPechod (not
#     --list, --help, --version, --inetd), or systemd-socket-activate -- is
#     started in the background; the test waits for its "listening on"
#     line (on stderr, or in its --log-file), and at the end of the block
#     sends it SIGTERM and expects exit 0 (concurd and TCPechod).  A server
#     started on a port an earlier server of the block holds replaces it,
#     as a reader would Ctrl-C the first.
#   - Example ports are 8000-8099 and 9000-9099: each is rewritten to a free
#     port, the same one throughout its block.  A client line (exit 0
#     expected) on a port no server of its block holds gets one first:
#     `bin/concurd -p PORT`, with -s nbytes for `-m nbytes` (a server's
#     --metrics port counts as held by it).
#   - Also rewritten: /tmp/ to the test's directory, and concurbench's
#     `-d N` to `-d 300ms` (the suite stays quick).
#   - Lines run with bash in a scratch directory where bin/, man/, docs/,
#     contrib/ and lab/ are links to the tree's, stdin from /dev/null,
#     30 s at most each.  `sudo CMD` runs CMD as root only (skipped
#     otherwise); a command that is not installed is skipped; other lines
#     that run make check or make install are skipped.
#   - A line that runs contrib/debian-deps.sh (the README's first two
#     commands: install, build, start concurd or run the tests) runs as
#     written, in a copy of the tree of its own, where it builds from
#     scratch.  As root it runs in a network namespace of its own, so its
#     port is the one written too, and with no sudo on PATH, as on a fresh
#     Debian (elsewhere its ports are rewritten as above).  A test touches
#     no package and no network: apt-get there only says what it would
#     install (where everything is installed, as in CI, it is not called).
#     And the suite cannot run itself: `make check` there runs
#     DEPS_TESTS, a few quick files, with no make variable of ours
#     passed down.
. "$(dirname "$0")/lib.sh"

W=$T/work
mkdir -p "$W" "$T/tmp"
for d in bin man docs contrib lab; do ln -s "$TOP/$d" "$W/$d"; done
# Programs in BIN (sanitizer builds) stand in for bin/.
[ "$BIN" != "$TOP/bin" ] && { rm "$W/bin"; ln -s "$BIN" "$W/bin"; }

files=("$TOP/README.md")
while IFS= read -r f; do files+=("$f"); done < <(find "$TOP/docs" -name '*.md' | sort)

free_port() {	# sets FREE (in this shell: it remembers what it gave)
	local p i
	# Below the ephemeral range: a client's local port there blocks bind().
	for ((i = 0; i < 100; i++)); do
		p=$((lo_port + RANDOM % (hi_port - lo_port)))
		[ -z "$(ss -Htuan "sport = :$p" 2>/dev/null)" ] && ! [[ " ${used_ports[*]} " == *" $p "* ]] &&
			{ used_ports+=("$p"); FREE=$p; return 0; }
	done
	return 1
}
used_ports=()
hi_port=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
hi_port=${hi_port:-32768}
lo_port=$((hi_port - 12000))

# --- the README's install-and-build lines ------------------------------------
DEPS_TESTS="tests/lib.t tests/tcpechod.t tests/udp.t"
DPATH=
deps_setup() {	# once: the copy of the tree, apt-get's stand-in, DPATH
	[ -n "$DPATH" ] && return 0
	mkdir -p "$T/tree" "$T/dstub"
	tar -C "$TOP" --exclude=./.git --exclude=./bin --exclude=./build \
		--exclude='./build-*' -cf - . | tar -C "$T/tree" -xf -
	printf '%s\n' '#!/bin/sh' \
		'echo "apt-get, a stand-in in tests/docs-commands.t, installs nothing: $*" >&2' \
		>"$T/dstub/apt-get"
	chmod 755 "$T/dstub/apt-get"
	DPATH=$T/dstub:$PATH
	if [ "$(id -u)" = 0 ]; then
		path_without "$T/nosudo" sudo
		DPATH=$T/dstub:$T/nosudo
	fi
}

# descendant_named PID NAME: PID or the first process in its tree named NAME.
descendant_named() {
	local c
	[ "$(cat /proc/"$1"/comm 2>/dev/null)" = "$2" ] && { echo "$1"; return 0; }
	for c in $(children_of "$1"); do descendant_named "$c" "$2" && return 0; done
	return 1
}

deps_line() {	# deps_line LINE LABEL
	local line=$1 label=$2 how log=$T/deps.$RANDOM.log pid srv st i out
	deps_setup
	local run=(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u MAKEOVERRIDES
		-u BIN -u HELP -u SANITIZER PATH="$DPATH" TESTS="$DEPS_TESTS")
	if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null && command -v ip >/dev/null; then
		how="as root without sudo, in a network namespace"
		run+=(unshare -n sh -c 'ip link set lo up && exec bash -c "$1"' sh "$line")
	else
		how="as $(id -un)"
		rewrite "$line"; line=$LINE
		run+=(bash -c "$line")
	fi
	label="$label ($how, in a copy of the tree)"
	nrun=$((nrun + 1))
	if ! is_server "${line##*&& }"; then
		out=$(cd "$T/tree" && timeout 900 "${run[@]}" </dev/null 2>&1); st=$?
		is "$st" 0 "$label"
		[ "$st" = 0 ] || diag "$(printf '%s\n' "$out" | tail -n 15)"
		return 0
	fi
	(cd "$T/tree" && exec "${run[@]}") </dev/null >"$log" 2>&1 &
	pid=$!
	track "$pid"
	# It installs and builds first: minutes at most.
	for ((i = 0; i < 3000; i++)); do
		grep -q 'listening on' "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	srv=$(descendant_named "$pid" concurd)
	if ! grep -q 'listening on' "$log" || [ -z "$srv" ]; then
		fail "$label (concurd listening)" "$(tail -n 15 "$log")"
		return 0
	fi
	pass "$label (concurd listening)"
	kill -TERM "$srv"
	wait_gone "$pid" 10 || kill -KILL "$srv" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null; st=$?
	is "$st" 0 "$label: concurd stops on SIGTERM, exit 0"
	[ "$st" = 0 ] || diag "$(tail -n 15 "$log")"
	return 0
}

declare -A PORTMAP	# doc port -> free port, per block
declare -A SRV_PID SRV_LOG SRV_KIND SRV_ALSO	# by free port (ALSO: --metrics)
SRV_PORTS=()
nrun=0

rewrite() {	# rewrite LINE: ports, /tmp/, durations; sets LINE
	local line=$1 p
	for p in $(grep -oE '\b(80[0-9][0-9]|90[0-9][0-9])\b' <<<"$line" | sort -u); do
		[ -n "${PORTMAP[$p]:-}" ] || { free_port; PORTMAP[$p]=$FREE; }
		line=$(sed -E "s/\b$p\b/${PORTMAP[$p]}/g" <<<"$line")
	done
	line=${line//\/tmp\//$T/tmp/}
	[[ $line == *concurbench* ]] && line=$(sed -E 's/ -d [0-9]+[a-z]*/ -d 300ms/g' <<<"$line")
	LINE=$line
}

is_server() {
	case $1 in
	bin/concurd\ *|bin/TCPechod\ *|bin/TCPechod|bin/concurd|systemd-socket-activate\ *) ;;
	*) return 1 ;;
	esac
	[[ $1 =~ (^|\ )(--list|-l|--help|-h|--version|-V|--inetd\ *$)(\ |$) ]] && [[ $1 != systemd-socket-activate* ]] && return 1
	[[ $1 == *\&* || $1 == *\;* || $1 == *\|* ]] && return 1
	return 0
}

stop_srv() {	# stop_srv PORT: SIGTERM, wait, check status; forget it
	local port=$1 pid=${SRV_PID[$1]} kind=${SRV_KIND[$1]} st
	kill -TERM "$pid" 2>/dev/null
	wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null; }
	wait "$pid" 2>/dev/null; st=$?
	if [ "$kind" = bin ]; then
		is "$st" 0 "$where: the server on port $port stops on SIGTERM with exit 0"
		[ "$st" = 0 ] || diag "$(tail -n 5 "${SRV_LOG[$port]}")"
	fi
	unset "SRV_PID[$port]" "SRV_LOG[$port]" "SRV_KIND[$port]"
}

start_srv() {	# start_srv LINE PORT LABEL: background, wait for listening
	local line=$1 port=$2 label=$3 log=$T/srv.$RANDOM.log lf i
	[ -n "$port" ] && [ -n "${SRV_PID[$port]:-}" ] && stop_srv "$port"
	(cd "$W" && exec bash -c "exec $line" </dev/null >"$log.out" 2>"$log") &
	local pid=$!
	track "$pid"
	lf=$(sed -nE 's/.*--log-file[ =]([^ ]+).*/\1/p' <<<"$line")
	[ -n "$lf" ] && lf=$W/$lf
	for ((i = 0; i < 200; i++)); do
		grep -qi 'listening on' "$log" ${lf:+"$lf"} 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if grep -qi 'listening on' "$log" ${lf:+"$lf"} 2>/dev/null; then
		pass "$label (server, listening)"
		port=${port:-pid$pid}
		SRV_PID[$port]=$pid SRV_LOG[$port]=$log
		# Its --metrics port is its too: a client there needs no server.
		local mport
		mport=$(sed -nE 's/.*--metrics[ =][^ ]*:([0-9]+).*/\1/p' <<<"$line")
		[ -n "$mport" ] && SRV_ALSO[$mport]=$pid
		[[ $line == bin/* ]] && SRV_KIND[$port]=bin || SRV_KIND[$port]=other
		SRV_PORTS+=("$port")
	else
		wait "$pid" 2>/dev/null; local st=$?
		if [ "$st" = 69 ] && grep -qi 'uring' "$log"; then
			skip "$label: io_uring is not available here"
		else
			fail "$label (server, listening)" "exit $st: $(head -c 400 "$log")"
		fi
	fi
}

run_block() {	# run_block FILE LINENO LINES...
	local file=$1 at=$2; shift 2
	local raw line expect label first port p
	PORTMAP=()
	SRV_PORTS=()
	for raw in "$@"; do
		[[ $raw =~ ^[[:space:]]*(#|$) ]] && continue
		where="${file#"$TOP"/}:$at"
		expect=0
		[[ $raw =~ \#\ exit\ ([0-9]+)[[:space:]]*$ ]] && expect=${BASH_REMATCH[1]}
		label="$where: $raw"
		if [[ $raw == *contrib/debian-deps.sh* ]]; then
			deps_line "$raw" "$label"; continue
		fi
		if [[ $raw == *"make check"* || $raw == *"make install"* ]]; then
			skip "$label: changes the system or runs the suite"; continue
		fi
		line=$raw
		if [[ $line == sudo\ * ]]; then
			[ "$(id -u)" = 0 ] || { skip "$label: needs root"; continue; }
			line=${line#sudo }
		fi
		first=${line%% *}
		if [[ $first == bin/* ]]; then
			[ -x "$W/$first" ] || { fail "$label" "$first is not built"; continue; }
		elif [[ $first != *[\{\(\$]* ]] && ! command -v "$first" >/dev/null 2>&1; then
			skip "$label: $first is not installed"; continue
		fi
		rewrite "$line"; line=$LINE
		nrun=$((nrun + 1))
		if [ "$expect" = 0 ] && is_server "$line"; then
			port=$(grep -oE '(-p|-l) [0-9]+' <<<"$line" | grep -oE '[0-9]+' | head -n1)
			[[ $line == bin/TCPechod* ]] && port=$(grep -oE '\b[0-9]{4,5}\b' <<<"$line" | head -n1)
			start_srv "$line" "$port" "$label"
			continue
		fi
		# A client with no server in its block gets a default one.
		if [ "$expect" = 0 ]; then
			for p in "${PORTMAP[@]}"; do
				[[ $line =~ (^|[^0-9])$p([^0-9]|$) ]] || continue
				[ -n "${SRV_PID[$p]:-}" ] && continue
				[ -n "${SRV_ALSO[$p]:-}" ] && continue
				if [[ $line == *"-m nbytes"* ]]; then
					start_srv "bin/concurd -s nbytes -p $p" "$p" "$where: (a server for it) concurd -s nbytes -p $p"
				else
					start_srv "bin/concurd -p $p" "$p" "$where: (a server for it) concurd -p $p"
				fi
			done
		fi
		local out st
		out=$(cd "$W" && timeout 30 bash -c "$line" </dev/null 2>&1); st=$?
		if [ "$st" = "$expect" ]; then
			pass "$label"
		else
			fail "$label" "ran: $line" "exit $st, expected $expect" "$(printf '%s' "$out" | tail -n 8)"
		fi
	done
	for p in "${SRV_PORTS[@]}"; do
		[ -n "${SRV_PID[$p]:-}" ] && stop_srv "$p"
	done
	SRV_ALSO=()
	return 0
}

for f in "${files[@]}"; do
	n=0 inblock=0 prev= notest= block=() start=0
	while IFS= read -r l || [ -n "$l" ]; do
		n=$((n + 1))
		if [ $inblock = 0 ]; then
			if [[ $l == '```sh' ]]; then
				inblock=1 block=() start=$n notest=
				[[ $prev =~ \<!--\ notest:\ (.*)\ --\> ]] && notest=${BASH_REMATCH[1]}
			fi
			[[ $l =~ [^[:space:]] ]] && prev=$l
			continue
		fi
		if [[ $l == '```' ]]; then
			inblock=0
			if [ -n "$notest" ]; then
				skip "${f#"$TOP"/}:$start: block not run: $notest"
			else
				run_block "$f" "$start" "${block[@]}"
			fi
			prev=$l
			continue
		fi
		block+=("$l")
	done <"$f"
done

# docs/models/README.md points here for observe.sh: run it for one model.
if command -v strace >/dev/null; then
	out=$("$TOP/docs/models/observe.sh" iterative "$T/observe" 2>&1)
	check "docs/models/observe.sh iterative traces one connection's accept4, read and close" \
		grep -q 'accept4(5' "$T/observe/strace.txt"
	check "... and records the server's descriptors" grep -q 'socket:' "$T/observe/fds.txt"
else
	skip "observe.sh: strace is not installed"
fi
check "the docs have commands to run ($nrun lines ran)" test "$nrun" -ge 20
done_testing
