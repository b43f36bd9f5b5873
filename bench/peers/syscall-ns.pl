#!/usr/bin/perl
# syscall-ns.pl [N]: what one system call costs on this machine, in ns on
# stdout: N (default a million) getppid(2) calls, timed.  perl makes the
# call every time (glibc does not cache the parent's pid), and its loop
# adds a few tens of ns.  The epoll servers make a call or more for every
# read and write, io_uring's loops one for many operations, so the gap
# between them moves with this figure: the peers and floor reports give it.
use strict;
use warnings;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my $n = shift // 1_000_000;
die "usage: syscall-ns.pl [N]\n" unless $n =~ /^[1-9]\d*$/;
my $t0 = clock_gettime(CLOCK_MONOTONIC);
my $ppid;
$ppid = getppid() for 1 .. $n;
my $t1 = clock_gettime(CLOCK_MONOTONIC);
printf "%.0f\n", ($t1 - $t0) * 1e9 / $n;
