#!/usr/bin/perl
# report.pl RUN_DIR OUT_DIR: the file-server report from bench/files/run.sh's
# rows (RUN_DIR/results.tsv, cold.tsv): OUT_DIR/files-results.md (the
# tables) and OUT_DIR/files.svg and files.png (rate and server CPU per
# request, 1 KiB keep-alive) through gnuplot.
#
# Every figure is the median over the rounds.  Ratios to nginx are taken
# within each round (the same minutes of the same machine) and their median
# shown.
use strict;
use warnings;

my ($run, $out) = @ARGV;
die "usage: report.pl RUN_DIR OUT_DIR\n" unless defined $out;

sub slurp {
	my ($file) = @_;
	open(my $f, '<', $file) or return ();
	chomp(my $h = <$f> // '');
	my @cols = split /\t/, $h;
	my @rows;
	while (<$f>) {
		chomp;
		my %r;
		@r{@cols} = split /\t/;
		push @rows, \%r;
	}
	return @rows;
}

sub sum {
	my $t = 0;
	$t += $_ for grep { defined && /^[0-9]+$/ } @_;
	return $t;
}

sub median {
	my @v = sort { $a <=> $b } grep { defined && $_ ne '' && $_ ne '-' && $_ ne 'null' } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

my @rows = slurp("$run/results.tsv");
my @cold = slurp("$run/cold.tsv");
my (%cell, %order, @servers);
for my $r (@rows) {
	my $k = "$r->{load}\t$r->{client}";
	$order{$k} //= scalar keys %order;
	push @servers, $r->{server} unless grep { $_ eq $r->{server} } @servers;
	push @{ $cell{$k}{$r->{server}} }, $r;
}

sub col {
	my ($list, $f) = @_;
	return median(map { $_->{$f} } @$list);
}

# Per round: server's figure / nginx's figure, then the median.
sub ratio {
	my ($k, $s, $f) = @_;
	my %ng = map { $_->{round} => $_->{$f} } @{ $cell{$k}{nginx} // [] };
	my @q;
	for my $r (@{ $cell{$k}{$s} // [] }) {
		my $n = $ng{ $r->{round} };
		push @q, $r->{$f} / $n if defined $n && $n > 0;
	}
	return median(@q);
}

open(my $o, '>', "$out/files-results.md") or die "$out/files-results.md: $!\n";
for my $k (sort { $order{$a} <=> $order{$b} } keys %order) {
	my ($load, $client) = split /\t/, $k;
	my $big = $load =~ /^1g/;
	printf $o "\n**%s, %s** (median of %d rounds)\n\n", $load, $client,
	    scalar @{ (values %{ $cell{$k} })[0] };
	print $o "| server | ", ($big ? "MB/s | x nginx" : "req/s | x nginx"),
	    " | p99 (us) | server CPU (us/req) | x nginx | errors |\n";
	print $o "|---|---:|---:|---:|---:|---:|---:|\n";
	for my $s (@servers) {
		my $l = $cell{$k}{$s} or next;
		my $f = $big ? 'MBps' : 'rate';
		my ($rt, $cpu) = (ratio($k, $s, $f), ratio($k, $s, 'server_cpu_us_per_req'));
		printf $o "| %s | %.0f | %s | %.0f | %.1f | %s | %s |\n", $s, col($l, $f),
		    defined $rt ? sprintf('%.2f', $rt) : '-', col($l, 'p99_us') // 0,
		    col($l, 'server_cpu_us_per_req') // 0,
		    defined $cpu ? sprintf('%.2f', $cpu) : '-',
		    join('+', map { $_->{errors} } @$l);
	}
}
if (@cold) {
	my (%c, @cs);
	for my $r (@cold) {
		push @cs, $r->{server} unless grep { $_ eq $r->{server} } @cs;
		push @{ $c{$r->{server}}{$r->{phase}} }, $r;
	}
	print $o "\n**Disk stall: 64 clients of a 1 KiB file at 2,000 req/s, alone and beside a cold 1 GiB download** (one run per round, the download stopped every other second: a phase's p99 is the median of its seconds' p99; medians of the rounds, the ratio taken within each round; -w 1: one loop)\n\n";
	print $o "| server | p99 alone (us) | p99 during (us) | ratio | max during (us) | download (MB/s) | errors |\n";
	print $o "|---|---:|---:|---:|---:|---:|---:|\n";
	for my $s (@cs) {
		my ($a, $d) = map { median(map { $_->{p99_us} } @{ $c{$s}{$_} // [] }) } qw(alone download);
		# The ratio within each round, then their median.
		my %alone = map { $_->{round} => $_->{p99_us} } @{ $c{$s}{alone} // [] };
		my $ratio = median(map { $alone{$_->{round}} ? $_->{p99_us} / $alone{$_->{round}} : () }
		    @{ $c{$s}{download} // [] });
		printf $o "| %s | %.0f | %.0f | %.2f | %.0f | %.0f | %s |\n", $s, $a // 0, $d // 0,
		    $ratio // 0, median(map { $_->{max_us} } @{ $c{$s}{download} }) // 0,
		    median(map { $_->{download_MBps} } @{ $c{$s}{download} }) // 0,
		    sum(map { $_->{errors} } map { @{ $c{$s}{$_} } } qw(alone download));
	}
}
close $o;

# The chart: 1 KiB keep-alive (wrk): rate and server CPU per request.
my $k = "1k-keepalive\twrk";
open(my $d, '>', "$out/files.dat") or die;
for my $s (@servers) {
	my $l = $cell{$k}{$s} or next;
	printf $d "%s %.0f %.2f\n", $s, col($l, 'rate'), col($l, 'server_cpu_us_per_req');
}
close $d;
for my $t (['svg', 'svg size 760,380 font "sans,11"'], ['png', 'pngcairo size 760,380 font "sans,10"']) {
	open(my $g, '|-', 'gnuplot') or die "gnuplot: $!\n";
	print $g <<EOF;
set terminal $t->[1]
set output "$out/files.$t->[0]"
set multiplot layout 1,2 title "1 KiB file, HTTP keep-alive, 64 connections (wrk; median of rounds)"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set xtics rotate by -30 noenhanced
set grid ytics
unset key
set yrange [0:*]
set title "requests/s (more is better)"
plot "$out/files.dat" using 2:xtic(1) lc rgb "#4477aa"
set title "server CPU, us per request (less is better; log scale)"
set logscale y
set yrange [1:*]
plot "$out/files.dat" using 3:xtic(1) lc rgb "#cc6677"
unset multiplot
EOF
	close $g;
}
unlink "$out/files.dat";
