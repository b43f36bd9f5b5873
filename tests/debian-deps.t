#!/usr/bin/env bash
# debian-deps.t: contrib/debian-deps.sh installs the set asked for, as root
# without sudo and as a user through sudo, and nothing when all is there.
#
# apt-get, dpkg-query and sudo are stand-ins that record their calls (a
# test touches no package and no network): dpkg-query answers from a list
# of installed packages, apt-get installs nothing, sudo runs its command
# without changing user.  "Without sudo" is a PATH where no sudo exists.
. "$(dirname "$0")/lib.sh"

DEPS=$TOP/contrib/debian-deps.sh
STUB=$T/stub NOSUDO=$T/nosudo LOG=$T/log/calls INST=$T/log/installed
mkdir -p "$STUB" "$NOSUDO" "$T/log"
# Another user (nobody) must reach the stubs and write the log.
chmod 755 "$T" "$STUB" "$NOSUDO"
chmod 777 "$T/log"

cat >"$STUB/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get uid=$(id -u) DEBIAN_FRONTEND=${DEBIAN_FRONTEND-} $*" >>"$LOG"
EOF
cat >"$STUB/dpkg-query" <<'EOF'
#!/bin/sh
# dpkg-query -W -f=FORMAT PACKAGE
for p; do :; done
if grep -qx "$p" "$INST" 2>/dev/null; then printf installed; exit 0; fi
echo "dpkg-query: no packages found matching $p" >&2
exit 1
EOF
cat >"$T/sudo" <<'EOF'
#!/bin/sh
echo "sudo $*" >>"$LOG"
[ "$1" = -- ] && shift
exec "$@"
EOF
cat >"$STUB/systemctl" <<'EOF'
#!/bin/sh
echo "systemctl $*" >>"$LOG"
EOF
chmod 755 "$STUB"/* "$T/sudo"
path_without "$NOSUDO" sudo
WITHSUDO=$T/withsudo
mkdir -p "$WITHSUDO" && chmod 755 "$WITHSUDO" && ln -s "$T/sudo" "$WITHSUDO/sudo"

BUILD="make gcc libc6-dev liburing-dev libseccomp-dev nettle-dev netbase man-db"
TESTS="perl procps iproute2 jq strace haproxy systemd graphviz groff-base tcpdump net-tools parallel curl wget wrk apache2-utils python3-prometheus-client ethtool"
CI="clang libclang-rt-14-dev llvm valgrind"

# deps AS PATHKIND INSTALLED ARGS...: run the script; sets OUT, ST and
# CALLS (the recorded calls).  AS: me, or nobody; PATHKIND: nosudo or
# sudo.
deps() {
	local as=$1 pk=$2 inst=$3; shift 3
	local path=$STUB:$NOSUDO
	[ "$pk" = sudo ] && path=$STUB:$WITHSUDO:$NOSUDO
	: >"$LOG"; chmod 666 "$LOG"
	printf '%s\n' $inst >"$INST"; chmod 644 "$INST"
	local run=(env -i PATH="$path" LOG="$LOG" INST="$INST" HOME=/ sh "$DEPS" "$@")
	[ "$as" = nobody ] && run=(setpriv --reuid=nobody --regid=nogroup --clear-groups "${run[@]}")
	OUT=$(cd "$T" && "${run[@]}" 2>&1); ST=$?
	CALLS=$(cat "$LOG")
}
# The packages of the recorded apt-get install, sorted, one line.
installs() { sed -n 's/^apt-get .* install .*--no-install-recommends //p' <<<"$CALLS" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' '; }
sorted() { printf '%s\n' $* | sort | tr '\n' ' '; }

root=
[ "$(id -u)" = 0 ] && root=yes
if [ -n "$root" ]; then
	deps me nosudo ""
	is "$ST" 0 "as root, no sudo on PATH: exit 0"
	[ "$ST" = 0 ] || diag "$OUT"
	is "$(installs)" "$(sorted $BUILD)" "no option: the build and run set only"
	like "$CALLS" '^apt-get uid=0 DEBIAN_FRONTEND=noninteractive update' "apt-get update as root, non-interactive"
	unlike "$CALLS" '^sudo' "sudo is not called"
	for p in haproxy valgrind llvm graphviz tcpdump systemd clang; do
		unlike "$(installs)" "(^| )$p( |$)" "no option: $p is not installed"
	done

	deps me nosudo "" --tests
	is "$ST" 0 "--tests as root: exit 0"
	is "$(installs)" "$(sorted $BUILD $TESTS)" "--tests: the build set and the test set"
	deps me nosudo "" --ci
	is "$(installs)" "$(sorted $BUILD $TESTS $CI)" "--ci: and clang, sanitizer runtimes, valgrind"

	deps me nosudo "$BUILD jq" --tests
	is "$(installs)" "$(sorted $TESTS | sed 's/\bjq //')" "only what is missing is installed"
else
	skip "not root: the root cases"
fi

deps me nosudo "$BUILD $TESTS $CI" --ci
is "$ST" 0 "all installed: exit 0"
is "$CALLS" "" "all installed: no apt-get, no sudo"
like "$OUT" 'is installed' "all installed: says so"

# An unprivileged user: nobody (as root), else whoever runs the test.
user=
if [ -n "$root" ]; then
	command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 && user=nobody
else
	user=me
fi
if [ -n "$user" ]; then
	deps "$user" sudo ""
	is "$ST" 0 "a user with sudo: exit 0"
	[ "$ST" = 0 ] || diag "$OUT"
	like "$CALLS" '^sudo -- env DEBIAN_FRONTEND=noninteractive apt-get update' "apt-get update through sudo"
	like "$CALLS" '(^|\n)sudo -- env DEBIAN_FRONTEND=noninteractive apt-get install' "apt-get install through sudo"
	is "$(grep -c '^apt-get' <<<"$CALLS")" "$(grep -c '^sudo' <<<"$CALLS")" "every apt-get through sudo"
	is "$(installs)" "$(sorted $BUILD)" "a user with sudo: the build set"

	deps "$user" nosudo ""
	is "$ST" 77 "a user without sudo, packages missing: exit 77"
	like "$OUT" 'run this as root, or install sudo' "... and says how to get on"
	is "$CALLS" "" "... and calls nothing"

	deps "$user" nosudo "$BUILD"
	is "$ST" 0 "a user without sudo, nothing missing: exit 0"
else
	skip "no unprivileged user to run as"
fi

deps me nosudo "" --bogus
is "$ST" 64 "an unknown option: exit 64"
like "$OUT" "unknown option '--bogus'" "... named"
is "$CALLS" "" "... and nothing installed"
deps me nosudo "" --help
is "$ST" 0 "--help: exit 0"
like "$OUT" '--tests' "--help names --tests"
done_testing
