#!/bin/sh
# Install what concurd needs to build, test and benchmark on Debian (12+).
# Run as root (or with sudo).  Safe to run again.
set -eu
if [ "$(id -u)" != 0 ]; then
	echo "debian-deps.sh: run as root (sudo $0)" >&2
	exit 77
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	make gcc clang libc6-dev liburing-dev \
	perl netbase procps iproute2 psmisc \
	graphviz haproxy strace tcpdump net-tools groff-base man-db \
	libclang-rt-14-dev llvm valgrind jq systemd parallel \
	>/dev/null
echo "debian-deps.sh: build and test dependencies installed"
