#!/usr/bin/perl
# report.pl RUNDIR: bench/ab/run.sh's results as a markdown table (stdout).
# Per model and load: median rate and server CPU per operation of A and B
# over the rounds, B/A of the medians, and the range of the per-round
# ratios (B and A measured back to back): the run's own noise.
use strict;
use warnings;

my $dir = shift or die "usage: report.pl RUNDIR\n";
my (%m, %rows, @order, %seen);
open(my $mf, '<', "$dir/machine.tsv") or die "$dir/machine.tsv: $!\n";
while (<$mf>) { chomp; my ($k, $v) = split /\t/, $_, 2; $m{$k} = $v; }
open(my $f, '<', "$dir/results.tsv") or die "$dir/results.tsv: $!\n";
<$f>;
while (<$f>) {
	chomp;
	my ($round, $load, $model, $build, $rate, $ops, $cpu, $us) = split /\t/;
	my $key = "$load\t$model";
	push @order, $key unless $seen{$key}++;
	$rows{$key}{$build}{$round} = [$rate, $us];
}

sub median {
	my @v = sort { $a <=> $b } grep { defined && $_ > 0 } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}
sub fmt { defined $_[0] ? sprintf($_[1], $_[0]) : '-' }

print "# concurd A/B: the same loads on two builds\n\n";
printf "%s, %s cores, %s; %s; %s rounds of %s s (%s s warm-up), A and B "
    . "back to back in each, the order alternating. Load average %s before, "
    . "%s after. A is %s, B is %s (sha256 prefixes).\n\n",
    $m{cpu} // '?', $m{cores} // '?', $m{kernel} // '?', $m{date} // '?',
    $m{rounds} // '?', $m{duration} // '?', $m{warmup} // '?',
    $m{load_before} // '?', $m{load_after} // '?', $m{a} // '?', $m{b} // '?';
print "| load | model | rate A | rate B | B/A (rounds) | CPU A us/op | CPU B us/op | B/A (rounds) |\n";
print "|---|---|---:|---:|---|---:|---:|---|\n";
for my $key (@order) {
	my ($load, $model) = split /\t/, $key;
	my $r = $rows{$key};
	my (@ra, @rb, @ca, @cb, @rr, @cr);
	for my $round (sort keys %{ $r->{a} // {} }) {
		my $a = $r->{a}{$round};
		my $b = $r->{b}{$round} or next;
		push @ra, $a->[0]; push @rb, $b->[0];
		push @ca, $a->[1]; push @cb, $b->[1];
		push @rr, $b->[0] / $a->[0] if $a->[0] > 0 && $b->[0] > 0;
		push @cr, $b->[1] / $a->[1] if $a->[1] > 0 && $b->[1] > 0;
	}
	my ($mra, $mrb, $mca, $mcb) = (median(@ra), median(@rb), median(@ca), median(@cb));
	my $range = sub {
		my @v = sort { $a <=> $b } @_;
		return @v ? sprintf('%.2f-%.2f', $v[0], $v[-1]) : '-';
	};
	printf "| %s | %s | %s | %s | %s (%s) | %s | %s | %s (%s) |\n", $load, $model,
	    fmt($mra, '%.0f'), fmt($mrb, '%.0f'),
	    ($mra && $mrb) ? sprintf('%.2f', $mrb / $mra) : '-', $range->(@rr),
	    fmt($mca, '%.2f'), fmt($mcb, '%.2f'),
	    ($mca && $mcb) ? sprintf('%.2f', $mcb / $mca) : '-', $range->(@cr);
}
