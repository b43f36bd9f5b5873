#!/bin/sh
# debian-deps.sh: install from Debian (12 or later) what concurd needs.
#
#   contrib/debian-deps.sh          to build and run the programs
#   contrib/debian-deps.sh --tests  ... and to run the test suite: make
#                                   check, make lab-check, make docs-check
#   contrib/debian-deps.sh --ci     ... and everything .ci/run runs besides:
#                                   clang builds, sanitizers, valgrind, fuzzing
#
# Run it as root, or as a user who may use sudo: it calls sudo itself, and
# only for apt-get, only when something is missing.  What is installed
# already is not touched, so running it again is quick and needs no root.
set -eu

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "$0"
}

BUILD="make gcc libc6-dev liburing-dev libseccomp-dev nettle-dev netbase man-db"
# tests/*.t and lab/*.sh: prove, ps, ss and ip, jq, strace, haproxy in front
# of concurd, systemd-socket-activate, dot (the diagrams are up to date),
# groff (man pages are clean), tcpdump and netstat (the lab), GNU parallel
# (several load generators at once), curl, wget, wrk and ab (the file
# service's clients), the Prometheus client's parsers (the --metrics
# endpoint, scraped and checked), ethtool (a bad network's veths with their
# offloads off).
TESTS="perl procps iproute2 jq strace haproxy systemd graphviz groff-base
	tcpdump net-tools parallel curl wget wrk apache2-utils
	python3-prometheus-client ethtool"
# The clang build, ASan/UBSan/TSan and libFuzzer (clang's runtime
# libraries, llvm-symbolizer), memcheck.
CI="clang libclang-rt-14-dev llvm valgrind"

which=build what="to build and run"
[ $# -le 1 ] || { echo "debian-deps.sh: one option at most" >&2; usage >&2; exit 64; }
case ${1-} in
'') ;;
--tests) which=tests what="to build, run and test" ;;
--ci) which=ci what="for everything CI runs" ;;
-h|--help) usage; exit 0 ;;
*) echo "debian-deps.sh: unknown option '$1'" >&2; usage >&2; exit 64 ;;
esac

pkgs=$BUILD
[ "$which" = build ] || pkgs="$pkgs $TESTS"
[ "$which" = ci ] && pkgs="$pkgs $CI"

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}
missing=
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "debian-deps.sh: what concurd needs $what is installed"
	exit 0
fi

# as_root CMD...: run CMD as root, through sudo unless we are root.
if [ "$(id -u)" = 0 ]; then
	as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
	as_root() { sudo -- "$@"; }
else
	echo "debian-deps.sh: to install$missing: run this as root, or install sudo" >&2
	exit 77
fi

echo "debian-deps.sh: installing$missing"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# $missing is a list of words: split on purpose.
# shellcheck disable=SC2086
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends $missing >/dev/null
case " $missing " in
*" haproxy "*)
	# The tests start haproxy themselves: the system service the package
	# has just started (with Debian's empty configuration) goes again.
	if [ -d /run/systemd/system ]; then
		as_root systemctl disable --now haproxy.service >/dev/null 2>&1 &&
			echo "debian-deps.sh: haproxy.service stopped and disabled (the tests start their own haproxy)"
	fi ;;
esac
echo "debian-deps.sh: installed what concurd needs $what"
