#!/usr/bin/perl
# report.pl RUN OUT: bench/soak/run.sh's rows as OUT/soak.md (the part
# between its markers; the reading around it is kept), OUT/soak.csv (every
# sample) and a chart (gnuplot: OUT/soak.png and .svg).
use strict;
use warnings;

my ($run, $out) = @ARGV;
die "usage: report.pl RUN OUT\n" unless defined $out;
sub rows {
	my ($file) = @_;
	open(my $f, '<', "$run/$file") or die "$run/$file: $!\n";
	my $h = <$f>;
	chomp $h;
	my @k = split /\t/, $h;
	my @r;
	while (<$f>) {
		chomp;
		my @v = split /\t/, $_, -1;
		push @r, { map { $k[$_] => $v[$_] // '' } 0 .. $#k };
	}
	return @r;
}
my %m;
open(my $mf, '<', "$run/machine.tsv") or die "$run/machine.tsv: $!\n";
while (<$mf>) { chomp; my ($k, $x) = split /\t/, $_, 2; $m{$k} = $x; }
my @s = rows('samples.tsv');
my @l = rows('loads.tsv');
my @v = rows('servers.tsv');
die "report.pl: no samples in $run\n" unless @s;

my (%by, @order);
for my $r (@s) {
	my $k = "$r->{model}/$r->{service}";
	push @order, $k unless $by{$k};
	$r->{mem} = $r->{rss_kb} + $r->{children_rss_kb};
	push @{ $by{$k} }, $r;
}
# The slope of y over t (least squares), per hour.
sub slope {
	my ($pts, $f) = @_;
	my $n = @$pts;
	return 0 if $n < 2;
	my ($st, $sy, $stt, $sty) = (0, 0, 0, 0);
	for my $p (@$pts) {
		my ($t, $y) = ($p->{t}, $f->($p));
		$st += $t; $sy += $y; $stt += $t * $t; $sty += $t * $y;
	}
	my $d = $n * $stt - $st * $st;
	return $d ? ($n * $sty - $st * $sy) / $d * 3600 : 0;
}
sub max { my $x = shift; for (@_) { $x = $_ if $_ > $x } $x }

my $secs = $m{secs};
my $warm = $secs >= 600 ? 300 : int($secs / 5);
my $md = "Hardware: $m{machine}, $m{cpus} CPUs, Linux $m{kernel}; "
    . sprintf("%.0f", $secs / 60) . " minutes, all servers at once, "
    . "$m{date}, commit $m{commit}.\n\n";
$md .= "| server | memory after ${warm} s | at the end of the load | largest | trend after ${warm} s | once the load is gone | descriptors (after ${warm} s / end / largest / load gone) | threads | children (end / largest) | flat |\n";
$md .= "|---|---:|---:|---:|---:|---:|---|---:|---|---|\n";
my $allflat = 1;
my $csv = "t,model,service,rss_kb,children_rss_kb,fds,threads,children\n";
for my $k (@order) {
	my @all = @{ $by{$k} };
	my @p = grep { $_->{t} < $secs } @all;	# under load
	@p = @all unless @p;
	my $idle = $all[-1]{t} >= $secs ? $all[-1] : undef;	# after it
	my @after = grep { $_->{t} >= $warm } @p;
	@after = @p unless @after;
	my ($a, $e) = ($after[0], $p[-1]);
	my $mmax = max(map { $_->{mem} } @all);
	my $fmax = max(map { $_->{fds} } @all);
	my $kmax = max(map { $_->{children} } @all);
	my $tr = slope(\@after, sub { $_[0]{mem} });
	my $ftr = slope(\@after, sub { $_[0]{fds} });
	# Flat: what one process holds does not grow.  A pool that starts a
	# worker more under load holds a worker's memory more, and that is
	# not a leak: so the server's own memory and its workers' memory per
	# worker each end within 10% (and 2 MiB, 512 KiB) of what they held
	# after the warm-up, and neither's trend adds more than 1 MiB (256
	# KiB) over that time; descriptors per process end within 8 of it.
	my $span = ($e->{t} - $a->{t}) / 3600;
	my $per = sub { $_[0]{children} ? $_[0]{children_rss_kb} / $_[0]{children} : 0 };
	my $fper = sub { $_[0]{fds} / ($_[0]{children} + 1) };
	my $flat = $e->{rss_kb} <= $a->{rss_kb} * 1.10 + 2048 &&
	    $per->($e) <= $per->($a) * 1.10 + 512 &&
	    slope(\@after, sub { $_[0]{rss_kb} }) * $span < 1024 &&
	    slope(\@after, $per) * $span < 256 &&
	    $fper->($e) <= $fper->($a) + 8;
	$allflat &&= $flat;
	$md .= sprintf("| %s | %.1f MiB | %.1f MiB | %.1f MiB | %+.0f KiB/h | %s | %d / %d / %d / %s (%+.1f/h) | %d | %d / %d | %s |\n",
	    $k, $a->{mem} / 1024, $e->{mem} / 1024, $mmax / 1024, $tr,
	    $idle ? sprintf("%.1f MiB", $idle->{mem} / 1024) : '—',
	    $a->{fds}, $e->{fds}, $fmax, $idle ? $idle->{fds} : '—', $ftr,
	    $e->{threads}, $e->{children}, $kmax, $flat ? 'yes' : '**no**');
}
for my $r (@s) {
	$csv .= join(',', map { $r->{$_} } qw(t model service rss_kb
	    children_rss_kb fds threads children)) . "\n";
}
$md .= "\nMemory is the resident set of the server and its children (a "
    . "pool's workers, fork's children); the trend is a least-squares "
    . "slope over the samples after the warm-up.  Flat means that what "
    . "one process holds did not grow: the server's own memory, its "
    . "workers' memory per worker and the descriptors per process (a "
    . "pool that starts a worker more under load holds one worker's "
    . "memory more).\n\n";
$md .= "| load | exit status | requests (sessions) | errors |\n|---|---:|---:|---|\n";
for my $r (@l) {
	$md .= "| $r->{model}/$r->{service} $r->{load} | $r->{status} | "
	    . ($r->{requests} eq '' ? '—' : $r->{requests}) . " | "
	    . ($r->{errors} eq '' ? '—' : $r->{errors}) . " |\n";
}
$md .= "\n| server | exit status | summary |\n|---|---:|---|\n";
for my $r (@v) {
	my $sum = $r->{summary};
	$sum =~ s/ user=.*//;
	$md .= "| $r->{model}/$r->{service} | $r->{status} | `$sum` |\n";
}
$md .= "\nEvery server flat: " . ($allflat ? "yes" : "**no**") . ".\n";

my $doc = "$out/soak.md";
my $gen = "<!-- generated by bench/soak/report.pl: -->\n![memory and descriptors of each server over the soak](soak.svg)\n\n$md<!-- end of generated -->\n";
my $text = '';
if (open(my $df, '<', $doc)) { local $/; $text = <$df>; }
if ($text =~ /<!-- generated by bench\/soak\/report\.pl: -->.*?<!-- end of generated -->\n/s) {
	$text =~ s/<!-- generated by bench\/soak\/report\.pl: -->.*?<!-- end of generated -->\n/$gen/s;
} else {
	$text = "# A long soak\n\n`make soak-long` (bench/soak/run.sh) runs each model's echo, nbytes and\nfile servers, as shipped, under mixed load for an hour, and samples\nwhat each holds every 10 seconds.\n\n$gen";
}
open(my $o, '>', $doc) or die "$doc: $!\n";
print $o $text;
close $o;
open($o, '>', "$out/soak.csv") or die "$out/soak.csv: $!\n";
print $o $csv;
close $o;

# The chart: memory (MiB) and descriptors over time, a line a server.
my $dat = "$run/soak.dat";
open($o, '>', $dat) or die "$dat: $!\n";
for my $k (@order) {
	print $o "\"$k\"\n";
	printf $o "%.1f %.2f %d\n", $_->{t} / 60, $_->{mem} / 1024, $_->{fds} for @{ $by{$k} };
	print $o "\n\n";
}
close $o;
my $n = @order;
my $gp = "$run/soak.gp";
open($o, '>', $gp) or die "$gp: $!\n";
for my $term (['pngcairo size 1100,500 font "sans,10"', 'png'], ['svg size 1100,500 font "sans,10" dynamic', 'svg']) {
	print $o "set terminal $term->[0]\nset output '$out/soak.$term->[1]'\n";
	print $o "set multiplot layout 1,2\nset key outside bottom center horizontal maxrows 3 font ',8'\nset grid\nset xlabel 'minutes'\n";
	print $o "set ylabel 'resident memory, server and children (MiB)'\nset logscale y\n";
	print $o "plot for [i=0:" . ($n - 1) . "] '$dat' index i using 1:2 with lines title columnheader(1)\n";
	print $o "unset logscale y\nset ylabel 'descriptors, server and children'\n";
	print $o "plot for [i=0:" . ($n - 1) . "] '$dat' index i using 1:3 with lines title columnheader(1)\n";
	print $o "unset multiplot\n";
}
close $o;
system('gnuplot', $gp) == 0 or die "gnuplot failed\n";
print "wrote $doc, $out/soak.csv, $out/soak.png, $out/soak.svg\n";
