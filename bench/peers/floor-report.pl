#!/usr/bin/perl
# floor-report.pl FLOOR_TSV [SYSCALL_NS]: the report of bench/peers/floor.sh, in
# Markdown on stdout.  Per load, each server's CPU per operation split by
# what did the work (medians over rounds, in µs), and two ratios taken
# within each round: the server's whole cost to the reference's
# (epoll-ref), and its socket work (send, receive, accept, close) to the
# reference's whole cost.  The least of that second ratio is as cheap as
# any server could be against the reference on this kernel, unless it did
# less socket work per operation.  SYSCALL_NS, what a system call cost
# before the run (syscall-ns.pl), heads the report: the reference's events
# grow with it, io_uring's much less.
use strict;
use warnings;

sub fail { print STDERR "floor-report.pl: @_\n"; exit 2 }
my $file = shift // fail("usage: floor-report.pl FLOOR_TSV [SYSCALL_NS]");
my $syscall_ns = shift;
fail("SYSCALL_NS: not a number of ns: $syscall_ns") if defined $syscall_ns && $syscall_ns !~ /^\d+$/;
open(my $in, '<', $file) or fail("$file: $!");
my $head = <$in> // fail("$file: empty");
chomp $head;
my @col = split /\t/, $head;
my (%row, @loads, @servers, %seen);
while (my $line = <$in>) {
	chomp $line;
	my %f;
	@f{@col} = split /\t/, $line;
	next unless defined $f{server_code};
	push @loads, $f{load} unless $seen{"l $f{load}"}++;
	push @servers, $f{server} unless $seen{"s $f{server}"}++;
	my $cpu = $f{cpu_us_per_op};
	my %us = map { $_ => $f{$_} / 100 * $cpu } qw(send receive accept close sleep server_code);
	$us{socket} = $us{send} + $us{receive} + $us{accept} + $us{close};
	$us{events} = $cpu - $us{socket} - $us{sleep} - $us{server_code};
	$us{events} = 0 if $us{events} < 0;
	$us{total} = $cpu;
	$row{$f{load}}{$f{server}}{$f{round}} = \%us;
}
close $in;
fail("$file: no rows") unless @loads;

sub median {
	my @v = sort { $a <=> $b } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}
sub us { my $v = shift; return '–' unless defined $v; return $v >= 10 ? sprintf('%.1f', $v) : sprintf('%.2f', $v) }
sub ratio { my $v = shift; return '–' unless defined $v; return sprintf('×%.2f', $v) }
sub span {
	my @v = sort { $a <=> $b } @_;
	return @v ? sprintf('%.2f–%.2f', $v[0], $v[-1]) : '–';
}

my %title = (
	'pp64' => '64 persistent connections, 64 B ping-pong: µs of server CPU per request',
	'conn-reset' => 'Short connections, reset close: µs of server CPU per connection',
);
my @cat = qw(send receive accept close sleep events server_code);
printf "A system call cost %.2f µs on this machine before the run (getppid(2), timed): "
    . "the events of a server that makes one or more for every read and write grow with it.\n\n",
    $syscall_ns / 1000 if defined $syscall_ns;
for my $load (@loads) {
	my $ref = $row{$load}{'epoll-ref'};
	print "## ", $title{$load} // $load, "\n\n";
	print "| server | total | send | receive | accept | close | sleep | events | server's code | total ×epoll-ref | socket work ×epoll-ref's total |\n";
	print "|---|", "---:|" x 10, "\n";
	my @low;	# each server's median socket work against the reference
	for my $s (@servers) {
		my $by = $row{$load}{$s} or next;
		my (@tot, @sock);
		for my $r (sort keys %$by) {
			next unless $ref && $ref->{$r};
			push @tot, $by->{$r}{total} / $ref->{$r}{total};
			push @sock, $by->{$r}{socket} / $ref->{$r}{total};
		}
		push @low, median(@sock) if @sock;
		my @cells = map { my $c = $_; us(median(map { $_->{$c} } values %$by)) } ('total', @cat);
		printf "| %s | %s | %s | %s |\n", $s, join(' | ', @cells),
		    @tot ? ratio(median(@tot)) . ' (' . span(@tot) . ')' : '–',
		    @sock ? ratio(median(@sock)) . ' (' . span(@sock) . ')' : '–';
	}
	print "\n";
	if (@low) {
		my ($least) = sort { $a <=> $b } @low;
		printf "The socket work alone is ×%.2f of epoll-ref's whole cost at the least "
		    . "(the median over rounds of the server that did the least): a server that "
		    . "spent nothing on sleeping, events or its own code could not cost less.\n\n", $least;
	} else {
		print "No epoll-ref rows: no ratios.\n\n";
	}
}
