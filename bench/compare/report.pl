#!/usr/bin/perl
# report.pl RUN_DIR OUT_DIR: the design-comparison report from the rows of
# bench/compare/run.sh.
#
# Reads RUN_DIR/results.tsv (one row per cell: client figures from
# concurbench's JSON, server figures from concurd's exit summary) and
# RUN_DIR/machine.tsv, and writes into OUT_DIR:
#   compare.csv         one row per model x load, medians over rounds
#   compare.md          the tables, the machine, the command; if the file
#                       exists, only the part between the "compare:begin"
#                       and "compare:end" markers is replaced, so the
#                       hand-written reading around it survives a re-run
#   compare.png/.svg    the chart, drawn by gnuplot
#
# Server CPU per request: the summary's cpu (user + sys of concurd and all
# its children, its whole life) divided by what it served in that life:
# pingpong, the 64-byte messages echoed (bytes_in / 64); connrate and
# nbytes, the connections.  Process control, after UNP chapter 30: a model's
# CPU per connection minus the iterative server's for the same load.
use strict;
use warnings;

my ($run, $out) = @ARGV;
die "usage: report.pl RUN_DIR OUT_DIR\n" unless defined $out;

# Paths in the report are relative to the tree (run.sh runs from its top).
use Cwd qw(getcwd);
my $cwd = getcwd();
(my $runrel = $run) =~ s{^\Q$cwd\E/}{};

my %m;
open(my $mf, '<', "$run/machine.tsv") or die "report.pl: $run/machine.tsv: $!\n";
while (<$mf>) { chomp; my ($k, $v) = split /\t/, $_, 2; $m{$k} = $v // '' }
close $mf;

open(my $rf, '<', "$run/results.tsv") or die "report.pl: $run/results.tsv: $!\n";
my $hdr = <$rf>; chomp $hdr;
my @cols = split /\t/, $hdr;
my (@rows, %models_seen, @model_order);
while (<$rf>) {
	chomp;
	my @f = split /\t/, $_, -1;
	my %r; @r{@cols} = @f;
	push @rows, \%r;
	push @model_order, $r{model} unless $models_seen{$r{model}}++;
}
close $rf;
die "report.pl: no rows in $run/results.tsv\n" unless @rows;

my @loads = grep { my $l = $_; grep { $_->{load} eq $l } @rows } qw(pingpong connrate nbytes);
# Models in concurd's own order (-l), whatever order the rounds ran them in.
my @models = grep { $models_seen{$_} } split ' ', ($m{models} || join ' ', @model_order);

sub median {
	my @v = sort { $a <=> $b } grep { defined && $_ ne '' } @_;
	return undef unless @v;
	my $n = @v;
	return $n % 2 ? $v[$n / 2] : ($v[$n / 2 - 1] + $v[$n / 2]) / 2;
}
sub minv { my @v = sort { $a <=> $b } grep { defined } @_; $v[0] }
sub maxv { my @v = sort { $a <=> $b } grep { defined } @_; $v[-1] }

# spread: how many connections each worker slot served.  Over the slots that
# served at least one: how many, the fewest, the most, and the coefficient of
# variation (standard deviation / mean).
sub spread_stats {
	my ($s) = @_;
	return () if !defined $s || $s eq '' || $s eq '-';
	my @v = grep { $_ > 0 } split /,/, $s;
	return () unless @v;
	my $n = @v;
	my $mean = 0; $mean += $_ for @v; $mean /= $n;
	my $var = 0; $var += ($_ - $mean) ** 2 for @v; $var /= $n;
	return (slots => scalar(split /,/, $s), served => $n, min => minv(@v), max => maxv(@v),
		cv => $mean > 0 ? sqrt($var) / $mean : 0);
}

my (%cell, @notes);
for my $l (@loads) {
	for my $mo (@models) {
		my @rs = grep { $_->{load} eq $l && $_->{model} eq $mo } @rows;
		next unless @rs;
		my %c = (load => $l, model => $mo, clients => $rs[0]{clients}, rounds => scalar @rs,
			workers_opt => $rs[0]{workers_opt});
		my @unavail = grep { $_->{status} eq 'unavailable' } @rs;
		if (@unavail == @rs) { $c{unavailable} = 1; $cell{$l}{$mo} = \%c; next }
		my @ok = grep { ($_->{requests} // '') ne '' && ($_->{srv_cpu_s} // '') ne '' } @rs;
		for my $r (grep { $_->{status} ne 'ok' } @rs) {
			push @notes, "$l/$mo round $r->{round}: status $r->{status}"
			    . ($r->{client_errors} ? ", $r->{client_errors} client errors" : '');
		}
		$c{good} = scalar @ok;
		next unless @ok;
		for my $r (@ok) {
			my $served = $l eq 'pingpong' ? $r->{srv_bytes_in} / 64 : $r->{srv_conns};
			$r->{srv_us} = $served > 0 ? $r->{srv_cpu_s} * 1e6 / $served : undef;
			my %sp = spread_stats($r->{spread});
			$r->{"sp_$_"} = $sp{$_} for keys %sp;
		}
		for my $k (qw(rate p50_us p99_us p999_us srv_us client_us_per_req srv_workers
		    sp_served sp_min sp_max sp_cv client_errors srv_errors srv_conns requests)) {
			$c{$k} = median(map { $_->{$k} } @ok);
		}
		$c{rate_min} = minv(map { $_->{rate} } @ok);
		$c{rate_max} = maxv(map { $_->{rate} } @ok);
		$c{srv_us_min} = minv(map { $_->{srv_us} } @ok);
		$c{srv_us_max} = maxv(map { $_->{srv_us} } @ok);
		$c{workers_max} = maxv(map { $_->{srv_workers} } @ok);
		$cell{$l}{$mo} = \%c;
	}
	# UNP's process control: the excess over the iterative server.
	my $base = $cell{$l}{iterative};
	next if $l eq 'pingpong' || !$base || !defined $base->{srv_us};
	for my $mo (@models) {
		my $c = $cell{$l}{$mo} or next;
		$c->{pc_us} = $c->{srv_us} - $base->{srv_us} if defined $c->{srv_us};
	}
}

sub fmt {
	my ($v, $d) = @_;
	return '' unless defined $v;
	my $s = sprintf "%.${d}f", $v;
	1 while $s =~ s/^(-?\d+)(\d{3})/$1,$2/;
	return $s;
}
sub pct { my ($lo, $hi, $med) = @_; return '' unless $med; sprintf "%.0f%%", 100 * ($hi - $lo) / $med }
sub is_pool { $_[0] =~ /^pre(fork|thread)/ }

# --- CSV ---------------------------------------------------------------------

open(my $csv, '>', "$out/compare.csv.tmp") or die "report.pl: $out/compare.csv: $!\n";
print $csv join(',', qw(load model service clients concurd_workers rounds rate_per_s rate_min rate_max
    p50_us p99_us p999_us server_cpu_us_per_req server_cpu_min server_cpu_max process_control_us
    client_cpu_us_per_req workers_final workers_served conns_per_worker_min conns_per_worker_max
    conns_per_worker_cv note)), "\n";
for my $l (@loads) {
	for my $mo (@models) {
		my $c = $cell{$l}{$mo} or next;
		my $svc = $l eq 'nbytes' ? 'nbytes' : 'echo';
		my $note = $c->{unavailable} ? 'unavailable here (concurd exit 69)'
		    : ($l eq 'pingpong' && $mo eq 'iterative') ? 'one connection: serves one at a time' : '';
		my @v = ($c->{rate}, $c->{rate_min}, $c->{rate_max}, $c->{p50_us}, $c->{p99_us},
		    $c->{p999_us}, $c->{srv_us}, $c->{srv_us_min}, $c->{srv_us_max}, $c->{pc_us},
		    $c->{client_us_per_req});
		my @d = (1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2);
		my @o = map { defined $v[$_] ? sprintf("%.$d[$_]f", $v[$_]) : '' } 0 .. $#v;
		my $pool = is_pool($mo) || $mo =~ /^(select|poll|epoll|uring)$/;
		print $csv join(',', $l, $mo, $svc, $c->{clients}, $c->{workers_opt} eq '-' ? '' : $c->{workers_opt},
		    $c->{good} // 0, @o,
		    $c->{workers_max} // '',
		    $pool ? ($c->{sp_served} // '', $c->{sp_min} // '', $c->{sp_max} // '',
			defined $c->{sp_cv} ? sprintf("%.3f", $c->{sp_cv}) : '') : ('', '', '', ''),
		    $note), "\n";
	}
}
close $csv;
rename "$out/compare.csv.tmp", "$out/compare.csv" or die "report.pl: $!\n";

# --- chart -------------------------------------------------------------------

open(my $dat, '>', "$run/chart.dat") or die "report.pl: $run/chart.dat: $!\n";
print $dat "# model  connrate(med min max)  nbytes(med min max)  pingpong-k/s(med min max)\n";
for my $mo (@models) {
	my @v;
	for my $l (qw(connrate nbytes)) {
		my $c = $cell{$l}{$mo};
		push @v, map { defined $c && defined $c->{$_} ? sprintf("%.2f", $c->{$_}) : 'NaN' } qw(srv_us srv_us_min srv_us_max);
	}
	my $c = $cell{pingpong}{$mo};
	push @v, map { defined $c && defined $c->{$_} ? sprintf("%.2f", $c->{$_} / 1000) : 'NaN' } qw(rate rate_min rate_max);
	# The pingpong panel marks the one-connection iterative run.
	my $label = $mo eq 'iterative' && $c ? 'iterative*' : $mo;
	print $dat join("\t", "\"$mo\"", @v, "\"$label\""), "\n";
}
close $dat;

my $nm = scalar @models;
my $title_m = "$m{cpu}, $m{cores} cores, $m{kernel}, $m{date}";
my %have = map { $_ => 1 } @loads;
my @cpu_plots;
push @cpu_plots, "using 2:3:4:xtic(1) title 'connrate: 16 workers, 64 B echo' lc rgb '#4c72b0'" if $have{connrate};
push @cpu_plots, "using 5:6:7" . (@cpu_plots ? '' : ':xtic(1)') . " title 'nbytes: 16 workers, 4,000-byte replies' lc rgb '#dd8452'" if $have{nbytes};
my $panels = (@cpu_plots ? 1 : 0) + ($have{pingpong} ? 1 : 0);
my $gp = <<"GP";
set datafile missing 'NaN'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb '#dddddd'
set xtics rotate by 30 right nomirror
set xrange [-0.6:$nm - 0.4]
set ytics nomirror
set key top right
set yrange [0:*]
set multiplot layout $panels,1 title "concurd models, UNP ch. 30 re-measured ($title_m); medians of $m{rounds} rounds, bars: min-max" font ',10'
GP
if (@cpu_plots) {
	$gp .= "set title 'Server CPU per connection (user+sys of concurd and children / connections); lower is better'\n"
	    . "set ylabel 'µs per connection'\n"
	    . "plot " . join(", \\\n     ", map { "'$run/chart.dat' $_" } @cpu_plots) . "\n";
}
if ($have{pingpong}) {
	$gp .= "set title 'pingpong: 64 persistent connections, 64-byte echo (*iterative: 1 connection); higher is better'\n"
	    . "set ylabel 'thousand requests/s'\n"
	    . "plot '$run/chart.dat' using 8:9:10:xtic(11) notitle lc rgb '#55a868'\n";
}
$gp .= "unset multiplot\n";
open(my $g, '>', "$run/chart.gp") or die "report.pl: $run/chart.gp: $!\n";
print $g $gp;
close $g;
for my $t (['pngcairo size 1000,900 font "sans,10"', 'png'], ['svg size 1000,900 dynamic font "sans,10" background "white"', 'svg']) {
	my ($term, $ext) = @$t;
	system('gnuplot', '-e', "set terminal $term; set output '$out/compare.$ext.tmp'", "$run/chart.gp") == 0
	    or die "report.pl: gnuplot failed for $ext\n";
	rename "$out/compare.$ext.tmp", "$out/compare.$ext" or die "report.pl: $!\n";
}

# --- Markdown -----------------------------------------------------------------

my $md = '';
$md .= "<!-- compare:begin: generated by bench/compare/report.pl from $runrel; edit outside the markers -->\n";
$md .= "## Results\n\n";
$md .= "| | |\n|---|---|\n";
$md .= "| machine | $m{cpu}, $m{cores} cores" . ($m{virt} ? " ($m{virt} virtual machine)" : '') . ", shared: the client runs on the same cores |\n";
$md .= "| kernel | $m{kernel} |\n";
$md .= "| date | $m{date} |\n";
$md .= "| concurd | $m{concurd} |\n";
$md .= "| command | `$m{command}` |\n";
$md .= "| rounds | $m{rounds}, the order of models alternating; medians shown |\n";
$md .= "| each cell | a fresh `concurd -b 127.0.0.1 -p 0`, concurbench with a $m{warmup} s warm-up, then "
    . ($m{loops} ? "$m{loops} connections per worker (nbytes) or " : '') . "$m{duration} s measured, SIGTERM, the summary line |\n";
$md .= "| load average | $m{load_before} before, " . ($m{load_after} // '?') . " after; elapsed " . fmt(($m{elapsed_s} // 0) / 60, 1) . " min |\n";
for my $l (@loads) { $md .= "| $l | `$m{\"load_$l\"}` |\n" }
$md .= "\n";

my %what = (
	pingpong => 'pingpong: 64 persistent connections, 64-byte echo. Server CPU per request (one 64-byte message echoed).',
	connrate => 'connrate: 16 client workers, each connection one 64-byte echo, closed with a reset. Server CPU per connection.',
	nbytes => 'nbytes: UNP\'s load: 16 client workers, each connection asks for 4,000 bytes, closed with a reset. Server CPU per connection.',
);
for my $l (@loads) {
	$md .= "### $what{$l}\n\n";
	my $pc = $l ne 'pingpong';
	$md .= "| model | req/s | ±rounds | p50 µs | p99 µs | server CPU µs/req |"
	    . ($pc ? " process control µs |" : '') . " client CPU µs/req | workers | served (min–max, CV) |\n";
	$md .= "|---|--:|--:|--:|--:|--:|" . ($pc ? '--:|' : '') . "--:|--:|---|\n";
	for my $mo (@models) {
		my $c = $cell{$l}{$mo} or next;
		if ($c->{unavailable}) {
			$md .= "| $mo | unavailable here: concurd exits 69 | | | | |" . ($pc ? ' |' : '') . " | | |\n";
			next;
		}
		unless ($c->{good}) { $md .= "| $mo | no valid run | | | | |" . ($pc ? ' |' : '') . " | | |\n"; next }
		my $name = $mo;
		$name .= ' (1 conn.)' if $l eq 'pingpong' && $mo eq 'iterative';
		my $served = '';
		# In pingpong a pool worker keeps its one connection for the whole
		# run: only the event loops' split of connections says something.
		if (defined $c->{sp_served} && $mo ne 'iterative'
		    && !($l eq 'pingpong' && is_pool($mo))) {
			$served = sprintf "%d: %s–%s, %.2f", $c->{sp_served}, fmt($c->{sp_min}, 0),
			    fmt($c->{sp_max}, 0), $c->{sp_cv};
		}
		my $workers = ($mo eq 'fork' || $mo eq 'thread') ? 'per conn.'
		    : $mo eq 'iterative' ? '1' : fmt($c->{workers_max}, 0);
		$workers .= " (-w $c->{workers_opt})" if $c->{workers_opt} ne '-';
		$md .= "| $name | " . fmt($c->{rate}, 0) . " | " . pct($c->{rate_min}, $c->{rate_max}, $c->{rate})
		    . " | " . fmt($c->{p50_us}, 0) . " | " . fmt($c->{p99_us}, 0)
		    . " | " . fmt($c->{srv_us}, 1) . " |"
		    . ($pc ? ' ' . ($mo eq 'iterative' ? '(baseline)' : fmt($c->{pc_us}, 1)) . ' |' : '')
		    . " " . fmt($c->{client_us_per_req}, 1) . " | $workers | $served |\n";
	}
	$md .= "\n";
}
$md .= "±rounds: the range of the rate over the rounds, as a share of the median. "
    . "workers: the pool's or event loops' size at the end (pools start at -w and grow when fewer than 2 are idle). "
    . "served: over the worker slots that served at least one connection, how many there were, the fewest and most connections one served, and the coefficient of variation (0 is perfectly even), from the summary's spread; medians over rounds. "
    . "For pingpong, where each connection stays with one worker for the whole run, it shows the assignment of connections, not load balance.\n\n";
$md .= "![Server CPU per connection and pingpong rate by model](compare.svg)\n\n";
for my $r (grep { ($_->{requests} // '') ne '' && $_->{requests} == 0 } @rows) {
	push @notes, "$r->{load}/$r->{model} round $r->{round}: no request completed in the measured time "
	    . "(" . ($r->{issued} // '?') . " begun; a stall of the whole run), the server served $r->{srv_conns} connections in its life";
}
my @cont = grep { ($_->{foreign} // 0) > 0 } @rows;
push @notes, scalar(@cont) . " of " . scalar(@rows) . " cells started while another concurbench was running on the machine" if @cont;
my @busy = grep { defined } map { $_->{busy_pct} } @rows;
if (@busy) {
	my $hot = grep { $_ > 25 } @busy;
	push @notes, sprintf("CPU busy with other people's work just before a cell: median %s%%, max %s%%; %d of %d cells started above 25%%",
	    median(@busy), maxv(@busy), $hot, scalar @busy);
}
if (@notes) { $md .= "Notes:\n\n" . join('', map { "- $_\n" } @notes) . "\n" }
$md .= "Raw rows (not committed): `$runrel/results.tsv`, one per cell, the JSON of each run and each server's log beside it.\n";
$md .= "<!-- compare:end -->\n";

my $path = "$out/compare.md";
my $doc;
if (open(my $old, '<', $path)) {
	local $/; my $t = <$old>; close $old;
	if ($t =~ /<!-- compare:begin.*?<!-- compare:end -->\n?/s) {
		$t =~ s/<!-- compare:begin.*?<!-- compare:end -->\n?/$md/s;
		$doc = $t;
	}
}
$doc //= "# The design comparison: UNP chapter 30 on today's kernel\n\n"
    . "Made by `make compare` (bench/compare/run.sh, report.pl); the part between the markers is regenerated.\n\n"
    . $md;
open(my $o, '>', "$path.tmp") or die "report.pl: $path: $!\n";
print $o $doc;
close $o or die "report.pl: $path: $!\n";
rename "$path.tmp", $path or die "report.pl: $!\n";
