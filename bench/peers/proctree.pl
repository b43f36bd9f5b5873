#!/usr/bin/perl
# proctree.pl PID: the CPU time and memory of a server's whole process tree,
# for bench/peers/run.sh.  Prints one line:
#
#	ticks NPROCS RSS_KB
#
# ticks: utime+stime+cutime+cstime (clock ticks, getconf CLK_TCK) summed over
# PID and every live descendant.  A process's cutime/cstime hold the times of
# the children it has reaped (and theirs, recursively), so a forking server
# whose children come and go is counted whole: live children by their own
# times, dead ones through their parent.  Threads are in their process's
# line.  Read it while the tree is quiet (between runs) and a child cannot be
# missed or counted twice as it dies.  NPROCS: processes in the tree;
# RSS_KB: their resident set (VmRSS) summed.
#
# proctree.pl --pids PID: the descendants' pids, one a line (deepest last),
# so a stop can end what the server left behind.
use strict;
use warnings;

my $pids = @ARGV && $ARGV[0] eq '--pids' ? shift : 0;
my $root = shift // die "usage: proctree.pl [--pids] PID\n";
my (%ppid, %ticks);
opendir(my $d, '/proc') or die "proctree.pl: /proc: $!\n";
for my $pid (grep { /^\d+$/ } readdir $d) {
	open(my $f, '<', "/proc/$pid/stat") or next;	# gone meanwhile
	my $line = <$f>;
	close $f;
	next unless defined $line && $line =~ /^\d+ \(.*\) (.*)$/s;
	my @f = split ' ', $1;	# $f[0] is field 3 (state) of proc(5)
	$ppid{$pid} = $f[1];
	$ticks{$pid} = $f[11] + $f[12] + $f[13] + $f[14];
}
closedir $d;
die "proctree.pl: no process $root\n" unless exists $ticks{$root};
my %kids;
push @{ $kids{ $ppid{$_} } }, $_ for keys %ppid;
my @todo = ($root);
my ($sum, $n, $rss) = (0, 0, 0);
my @seen;
while (defined(my $p = shift @todo)) {
	push @seen, $p;
	$sum += $ticks{$p};
	$n++;
	if (open(my $s, '<', "/proc/$p/status")) {
		while (<$s>) { $rss += $1 if /^VmRSS:\s+(\d+)/ }
		close $s;
	}
	push @todo, @{ $kids{$p} // [] };
}
if ($pids) {
	shift @seen;
	print "$_\n" for @seen;
} else {
	print "$sum $n $rss\n";
}
