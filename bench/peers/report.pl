#!/usr/bin/perl
# report.pl RUN_DIR OUT_DIR: the peers report from bench/peers/run.sh's raw
# rows (RUN_DIR/results.tsv, idle.tsv, machine.tsv): OUT_DIR/peers.md, and
# the charts peers.svg/png (server CPU per operation) and
# peers-sweep.svg/png (the message-size sweep) through gnuplot.
#
# Every figure is a median over the rounds, with the spread (min-max) beside
# it where it matters.  Ratios ("x ref") are taken within each round, server
# against reference measured minutes apart on the same machine, and then the
# median of those ratios is shown: that is the figure to compare across
# machines, not the absolute rates.
use strict;
use warnings;

my ($run, $out) = @ARGV;
die "usage: report.pl RUN_DIR OUT_DIR\n" unless defined $out;

sub slurp_tsv {
	my ($file) = @_;
	open(my $f, '<', $file) or return ();
	my $h = <$f>;
	return () unless defined $h;
	chomp $h;
	my @cols = split /\t/, $h;
	my @rows;
	while (<$f>) {
		chomp;
		my @v = split /\t/;
		my %r;
		@r{@cols} = @v;
		push @rows, \%r;
	}
	return @rows;
}

my %m;
if (open(my $f, '<', "$run/machine.tsv")) {
	while (<$f>) { chomp; my ($k, $v) = split /\t/, $_, 2; $m{$k} = $v }
}
my @rows = grep { ($_->{requests} // '') ne 'FAILED' } slurp_tsv("$run/results.tsv");
my @failed = grep { ($_->{requests} // '') eq 'FAILED' } slurp_tsv("$run/results.tsv");
my @idle = grep { ($_->{conns} // '') ne 'FAILED' } slurp_tsv("$run/idle.tsv");
my $dur = $m{duration} || 1;

sub median {
	my @v = sort { $a <=> $b } grep { defined } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}
sub minmax {
	my @v = sort { $a <=> $b } grep { defined } @_;
	return @v ? ($v[0], $v[-1]) : (undef, undef);
}

# Per row: server CPU per operation (request, connection) in microseconds.
for my $r (@rows) {
	$r->{cpu_us} = $r->{requests} > 0 ? $r->{server_cpu_s} * 1e6 / $r->{requests} : undef;
	$r->{client_us} = $r->{client_cpu_us_per_req} || undef;
	$r->{gbps} = $r->{rx_bytes_per_s} / 1e9;
	# stream: CPU per MiB echoed
	my $mib = $r->{rx_bytes_per_s} * $dur / 1048576;
	$r->{cpu_us_mib} = $mib > 0 ? $r->{server_cpu_s} * 1e6 / $mib : undef;
}

# cells{load/size}{server} = [rows...]
my (%cell, %order);
for my $r (@rows) {
	my $k = "$r->{load}/$r->{size}";
	push @{ $cell{$k}{ $r->{server} } }, $r;
	# The client load's rows name load generators, not servers.
	$order{ $r->{server} } //= scalar keys %order unless $r->{load} eq 'client';
}
sub rowsof { my ($k, $s) = @_; return @{ $cell{$k}{$s} // [] } }
sub med { my ($k, $s, $f) = @_; return median(map { $_->{$f} } rowsof($k, $s)) }

# ratio(k, s, ref, field): median over rounds of s/ref in the same round.
sub ratio {
	my ($k, $s, $ref, $f) = @_;
	my %refby = map { $_->{round} => $_->{$f} } rowsof($k, $ref);
	return median(map { defined $refby{ $_->{round} } && $refby{ $_->{round} } > 0 &&
	    defined $_->{$f} ? $_->{$f} / $refby{ $_->{round} } : undef } rowsof($k, $s));
}

sub fmt {
	my ($v, $d) = @_;
	return '–' unless defined $v;
	$d //= abs($v) >= 100 ? 0 : abs($v) >= 10 ? 1 : 2;
	my $s = sprintf "%.${d}f", $v;
	1 while $s =~ s/^(\d+)(\d{3})/$1,$2/;
	return $s;
}
sub spread {
	my ($k, $s, $f, $d) = @_;
	my ($lo, $hi) = minmax(map { $_->{$f} } rowsof($k, $s));
	return '' unless defined $lo && @{ [rowsof($k, $s)] } > 1;
	return ' (' . fmt($lo, $d) . '–' . fmt($hi, $d) . ')';
}

sub servers_in {
	my ($k) = @_;
	return sort { $order{$a} <=> $order{$b} } keys %{ $cell{$k} // {} };
}
sub errs { my ($k, $s) = @_; my $e = 0; $e += $_->{errors} for rowsof($k, $s); return $e }

# Noise: the relative spread (max-min)/median of rate and of server CPU per
# operation, over every cell with more than one round.
my (@nrate, @ncpu);
for my $k (keys %cell) {
	for my $s (keys %{ $cell{$k} }) {
		my @r = rowsof($k, $s);
		next unless @r > 1;
		for ([\@nrate, 'rate'], [\@ncpu, 'cpu_us']) {
			my ($list, $f) = @$_;
			my $md = median(map { $_->{$f} } @r);
			my ($lo, $hi) = minmax(map { $_->{$f} } @r);
			push @$list, ($hi - $lo) / $md if $md;
		}
	}
}

my @md;
sub p { push @md, @_ }

my $REF = 'epoll-ref';
my %desc = (
	'epoll-ref' => 'hand-written single-threaded epoll echo (bench/peers/epoll-echo.c)',
	'libuv' => 'minimal libuv echo, one loop (bench/peers/uv-echo.c)',
	'libevent' => 'minimal libevent bufferevent echo, one loop (bench/peers/event-echo.c)',
	'socat' => '`socat TCP-LISTEN:PORT,fork,reuseaddr PIPE`: a process per connection',
	'xinetd' => "xinetd's built-in echo (`type = INTERNAL UNLISTED`): a process per connection",
	'ncat' => '`ncat --keep-open --exec /bin/cat`: a process (cat) per connection',
	'concurd' => '`concurd` with no flag, as shipped: io_uring where the kernel allows it, one loop to start with, more while every loop is busy (see concurd(8))',
);

p "# concurd and its peers, side by side\n\n";
p "What an echo endpoint costs, for the servers a user could install instead of concurd and for concurd's models, measured under the same loads on one machine. Produced by:\n\n";
p "```\n$m{command}\n```\n\n";
p "| machine | |\n|---|---|\n";
p "| CPU | $m{cpu} |\n| cores | $m{cores} |\n| kernel | $m{kernel} |\n| date | $m{date} |\n";
p "| load average before / after | $m{load_before} / " . ($m{load_after} // '?') . " |\n";
# Runs before this row was measured have none; say nothing then.
my @syscall_us = map { defined $_ && /^\d+$/ ? $_ / 1000 : undef } @m{qw(syscall_ns_before syscall_ns_after)};
my $syscall_known = grep { defined } @syscall_us;
p sprintf("| a system call, before / after (getppid(2), timed) | %s / %s µs |\n",
    map { defined $_ ? fmt($_, 2) : '?' } @syscall_us) if $syscall_known;
p "| concurd | $m{concurd} |\n| peers | $m{versions} |\n";
p "| runs | $m{rounds} alternating rounds × $m{duration} s per measurement, after a $m{warmup} s warm-up |\n\n";
sub pctile { my ($q, @v) = @_; @v = sort { $a <=> $b } @v; return @v ? $v[int($q * $#v + 0.5)] : undef }
p sprintf("**Noise.** Each figure is the median of %d rounds; in each round every load visits every server in turn, a fresh server per measurement. The spread over rounds, (max−min)/median, was %s for rates and %s for server CPU per operation (median over all cells; 9 cells in 10 within %s and %s). Figures in parentheses are min–max over rounds. Ratios (×ref) are taken within a round and their median shown: compare those, not absolute rates from different runs.\n\n",
    $m{rounds}, pct(median(@nrate)), pct(median(@ncpu)), pct(pctile(0.9, @nrate)), pct(pctile(0.9, @ncpu)))
    if @nrate;
sub pct { my ($v) = @_; return defined $v ? sprintf('%.0f%%', 100 * $v) : '–' }
my @load;
if (open(my $lf, '<', "$run/load.txt")) { @load = grep { /^[\d.]+$/ } map { chomp; $_ } <$lf> }
if (@load) {
	my ($lo, $hi) = minmax(@load);
	my $busy = median(@load) > $m{cores} + 1;
	p sprintf("**Load.** The 1-minute load average, sampled every 30 s during the run, was %s median, %s–%s (this run itself accounts for about 2). %s\n\n",
	    fmt(median(@load), 1), fmt($lo, 1), fmt($hi, 1),
	    $busy ? "The machine was busy: other work shared the $m{cores} cores, so absolute rates are low and noisy; server CPU per operation and the within-round ratios hold better." : '');
}
p "**Server CPU per operation** is user+system time of the server's whole process tree, read from /proc before and after the measured run (`bench/peers/proctree.pl`: the server, its live descendants, and the cumulative times of the children it reaped), divided by the requests (or connections) concurbench completed. Loopback's softirq work is charged to whichever process is on the CPU, client or server, alike for every server. On 2 cores the client and server share the CPUs, so near the top the rate is capped by the machine and CPU per operation is what separates servers.\n\n";
p "**System calls.** The epoll servers (the hand-written one, libuv, libevent, concurd's select, poll and epoll) make a system call or more for every read and every write; concurd's io_uring loops make one for many operations. How far apart they are therefore depends on what a system call costs on the machine (the table above; see [where an echo server's CPU goes](floor.md)): compare runs that cost about the same.\n\n"
    if $syscall_known;
p "![server CPU per operation](peers.svg)\n\n";

# --- targets ---------------------------------------------------------------
# The event models, with their default loop count (one per CPU) and with
# one loop, the like-for-like match for the single-threaded references.
my @ev = grep { $cell{'pp64/-'}{$_} || $cell{'conn-reset/-'}{$_} }
    qw(concurd-epoll concurd-uring concurd-epoll-w1 concurd-uring-w1);
sub best_by {
	my ($k, $f, @s) = @_;
	my @c = grep { defined med($k, $_, $f) } @s;
	return (sort { med($k, $a, $f) <=> med($k, $b, $f) } @c)[0];
}
sub verdict { return $_[0] ? '**met**' : '**not met**' }
# A target in µs per operation (or GB/s) was set on another machine,
# against a reference server's figure there; restated as a ratio to that
# reference, taken within a round, it carries over to this machine.  A
# target is met when both readings are, for one configuration, so a row
# has one verdict; when they disagree it says which reading fails.
#
# cpu_target(cell, servers, ref, max_cpu_us, cpu_ratio, rate_ratio): the
# configuration the verdict is about (the cheapest that meets both
# readings, else the cheapest that meets one, else the cheapest), then its
# measured text and verdict.  Both readings also ask for a rate of at
# least rate_ratio of ref's within a round (0.97: the same rate).
sub cpu_target {
	my ($k, $srv, $ref, $max, $cr, $rr, $unit) = @_;
	my @c = grep { defined med($k, $_, 'cpu_us') && defined ratio($k, $_, $ref, 'cpu_us') } @$srv;
	return () unless @c;
	my $rate_ok = sub { my $y = ratio($k, $_[0], $ref, 'rate'); defined $y && $y >= $rr };
	my $abs_ok = sub { $rate_ok->($_[0]) && med($k, $_[0], 'cpu_us') <= $max };
	my $rat_ok = sub { $rate_ok->($_[0]) && ratio($k, $_[0], $ref, 'cpu_us') <= $cr };
	my @both = grep { $abs_ok->($_) && $rat_ok->($_) } @c;
	my @one = grep { $abs_ok->($_) || $rat_ok->($_) } @c;
	my $b = best_by($k, 'cpu_us', @both ? @both : @one ? @one : @c);
	my ($c, $x, $y) = (med($k, $b, 'cpu_us'), ratio($k, $b, $ref, 'cpu_us'), ratio($k, $b, $ref, 'rate'));
	my $m = sprintf("%s: %s µs/%s (%s %s), CPU ×%s and rate ×%s %s's", $b, fmt($c), $unit, $ref,
	    fmt(med($k, $ref, 'cpu_us')), fmt($x), fmt($y), $ref);
	my $v;
	if (!$rate_ok->($b)) {
		$v = sprintf("**not met**: rate ×%s %s's, not ≥ ×%.2f", fmt($y), $ref, $rr);
	} elsif ($abs_ok->($b) && $rat_ok->($b)) {
		$v = '**met**';
	} elsif ($abs_ok->($b)) {
		$v = sprintf("**not met**: %s µs ≤ %s here, but CPU ×%s %s's, not ≤ ×%.2f", fmt($c), $max, fmt($x), $ref, $cr);
	} elsif ($rat_ok->($b)) {
		$v = sprintf("**not met**: CPU ×%s %s's ≤ ×%.2f, but %s µs here, not ≤ %s", fmt($x), $ref, $cr, fmt($c), $max);
	} else {
		$v = '**not met**';
	}
	return ($m, $v);
}
my @t;
if (my ($m, $v) = cpu_target('pp64/-', \@ev, $REF, 5.0, 5.0 / 6.2, 0.97, 'request')) {
	push @t, ["64 persistent connections, 64 B",
	    sprintf("≤ 5.0 µs/request (as a ratio: CPU ≤ ×%.2f epoll-ref's), rate ≥ epoll-ref's", 5.0 / 6.2), $m, $v];
}
if (my ($m, $v) = cpu_target('conn-reset/-', \@ev, $REF, 20, 20 / 25, 0.97, 'connection')) {
	push @t, ["short connections, reset close",
	    sprintf("≤ 20 µs/connection (as a ratio: CPU ≤ ×%.2f epoll-ref's), rate ≥ epoll-ref's", 20 / 25), $m, $v];
}
# With no tuning flag (concurd as shipped) against the cheapest peer on
# the load, at its rate; and the best concurd configuration, tuned.
sub peer_target {
	my ($k, $unit, $load, $want_default, $want_tuned) = @_;
	my @srv = keys %{ $cell{$k} // {} };
	my @peers = grep { !/^concurd/ && defined med($k, $_, 'cpu_us') } @srv;
	my @tuned = grep { /^concurd/ && defined med($k, $_, 'cpu_us') } @srv;
	my $bp = best_by($k, 'cpu_us', @peers);
	return () unless defined $bp;
	my @rows;
	my $one = sub {
		my ($s, $want, $what) = @_;
		my ($x, $y) = (ratio($k, $s, $bp, 'cpu_us'), ratio($k, $s, $bp, 'rate'));
		return unless defined $x && defined $y;
		push @rows, [$load, sprintf("%s: CPU ≤ ×%.2f the cheapest peer's at ≥ its rate", $what, $want),
		    sprintf("%s: %s µs/%s, the cheapest peer %s %s: CPU ×%s, rate ×%s", $s, fmt(med($k, $s, 'cpu_us')),
		    $unit, $bp, fmt(med($k, $bp, 'cpu_us')), fmt($x), fmt($y)),
		    $x <= $want && $y >= 0.97 ? '**met**' : $y < 0.97 ?
		    sprintf("**not met**: rate ×%s", fmt($y)) : sprintf("**not met**: CPU ×%s, not ≤ ×%.2f", fmt($x), $want)];
	};
	$one->('concurd', $want_default, 'as shipped (no flag)') if defined med($k, 'concurd', 'cpu_us');
	my @ok = grep { my $y = ratio($k, $_, $bp, 'rate'); defined $y && $y >= 0.97 } @tuned;
	my $bt = best_by($k, 'cpu_us', @ok ? @ok : @tuned);
	$one->($bt, $want_tuned, 'tuned (the best configuration)') if defined $bt;
	return @rows;
}
push @t, peer_target('pp64/-', 'request', '64 persistent connections, 64 B', 0.8, 0.7);
push @t, peer_target('conn-reset/-', 'connection', 'short connections, reset close', 0.8, 0.7);
if ($cell{'conn-normal/-'}) {
	my @peers = grep { !/^concurd/ } servers_in('conn-normal/-');
	my $bp = (sort { med('conn-normal/-', $b, 'rate') <=> med('conn-normal/-', $a, 'rate') } @peers)[0];
	my @cd = grep { /^concurd/ } servers_in('conn-normal/-');
	my $bc = (sort { med('conn-normal/-', $b, 'rate') <=> med('conn-normal/-', $a, 'rate') } @cd)[0];
	if ($bp && $bc) {
		my $rr = ratio('conn-normal/-', $bc, $bp, 'rate');
		push @t, ["short connections, plain close", "reach the peers' ceiling",
		    sprintf("%s %s conn/s, best peer (%s) %s conn/s: ×%s", $bc, fmt(med('conn-normal/-', $bc, 'rate')), $bp, fmt(med('conn-normal/-', $bp, 'rate')), fmt($rr)),
		    verdict(defined $rr && $rr >= 0.95)];
	}
}
if ($cell{'conn-reset/-'}{'concurd-fork'} && $cell{'conn-reset/-'}{xinetd}) {
	my $k = 'conn-reset/-';
	if (my ($m, $v) = cpu_target($k, ['concurd-fork'], 'xinetd', 320, 320 / 454, 1.3, 'connection')) {
		push @t, ["fork per connection, short connections",
		    sprintf("fork ≤ 320 µs/connection (as a ratio: CPU ≤ ×%.2f xinetd's), rate ≥ ×1.3 xinetd's", 320 / 454), $m, $v];
	}
	for my $pool (qw(concurd-prefork concurd-prethread)) {
		next unless $cell{$k}{$pool};
		my $x = ratio($k, 'concurd-fork', $pool, 'cpu_us');
		push @t, ["", "$pool an order of magnitude cheaper than fork",
		    sprintf("%s %s µs/connection: fork costs ×%s", $pool, fmt(med($k, $pool, 'cpu_us')), fmt($x)),
		    verdict(defined $x && $x >= 10)];
	}
}
# stream: 2.4 GB/s against libuv's 2.0 there is ×1.2.
if ($cell{'stream/-'}) {
	my $k = 'stream/-';
	my @cd = grep { /^concurd/ } servers_in($k);
	my $b = (sort { med($k, $b, 'gbps') <=> med($k, $a, 'gbps') } @cd)[0];
	if ($b) {
		my ($g, $x) = (med($k, $b, 'gbps'), $cell{$k}{libuv} ? ratio($k, $b, 'libuv', 'gbps') : undef);
		my $v = $g >= 2.4 && (!defined $x || $x >= 1.2) ? '**met**'
		    : $g >= 2.4 ? sprintf("**not met**: %s GB/s here, but ×%s libuv's, not ≥ ×1.2", fmt($g, 2), fmt($x))
		    : defined $x && $x >= 1.2 ? sprintf("**not met**: ×%s libuv's, but %s GB/s here, not ≥ 2.4", fmt($x), fmt($g, 2))
		    : '**not met**';
		push @t, ["one connection streaming", "≥ 2.4 GB/s verified echo (as a ratio: ≥ ×1.2 libuv's)",
		    sprintf("%s: %s GB/s (libuv %s, epoll-ref %s)%s", $b, fmt($g, 2), fmt(med($k, 'libuv', 'gbps'), 2),
			fmt(med($k, $REF, 'gbps'), 2), defined $x ? sprintf(", ×%s libuv's", fmt($x)) : ''), $v];
	}
}
my @sizes = sort { sz($a) <=> sz($b) } map { (split m{/})[1] } grep { m{^sweep/} } keys %cell;
sub sz { my ($s) = @_; $s =~ /^(\d+)([kM]?)$/ or return 0; return $1 * ($2 eq 'k' ? 1024 : $2 eq 'M' ? 1048576 : 1) }
if (@sizes) {
	for my $s (grep { $cell{"sweep/$sizes[0]"}{$_} } qw(concurd-epoll concurd-uring)) {
		my ($worst, $at) = (undef, undef);
		for my $z (@sizes) {
			my $r = ratio("sweep/$z", $s, $REF, 'rate');
			($worst, $at) = ($r, $z) if defined $r && (!defined $worst || $r < $worst);
		}
		push @t, ["message sizes 1 B – 1 MiB", "no cliff ($s)",
		    sprintf("lowest rate against epoll-ref at the same size: ×%s at %s", fmt($worst), $at // '?'),
		    verdict(defined $worst && $worst >= 0.5)];
	}
}
for my $s (qw(concurd-epoll concurd-uring concurd-poll)) {
	my @r = grep { $_->{server} eq $s } @idle;
	next unless @r;
	my $b = median(map { $_->{bytes_per_conn} } @r);
	push @t, ["idle connections", "≤ 1 KiB user memory per connection ($s)",
	    sprintf("%s B per connection at %s connections", fmt($b, 0), $r[0]{established}), verdict($b <= 1024)];
}
# The load generator: concurbench as shipped against the least a ping-pong
# generator can do, both driving concurd as shipped.
my $GREF = 'ref-pingpong';
if ($cell{'client/-'} && $cell{'client/-'}{$GREF} && $cell{'client/-'}{concurbench}) {
	my $k = 'client/-';
	my ($x, $y) = (ratio($k, 'concurbench', $GREF, 'client_us'), ratio($k, 'concurbench', $GREF, 'rate'));
	push @t, ["the load generator, 64 × 64 B ping-pong",
	    "concurbench as shipped: rate ≥ ${GREF}'s at ≤ its client CPU per request",
	    sprintf("concurbench %s requests/s at %s µs/request, %s %s at %s: rate ×%s, client CPU ×%s",
		fmt(med($k, 'concurbench', 'rate'), 0), fmt(med($k, 'concurbench', 'client_us')), $GREF,
		fmt(med($k, $GREF, 'rate'), 0), fmt(med($k, $GREF, 'client_us')), fmt($y), fmt($x)),
	    !defined $x || !defined $y ? '**not met**' : $y < 0.97 ? sprintf("**not met**: rate ×%s", fmt($y))
	    : $x > 1.0 ? sprintf("**not met**: client CPU ×%s", fmt($x)) : '**met**'];
}
if (@t) {
	p "## Targets\n\n";
	p "Verdicts by these rules: \"same or higher rate\" counts a within-round ratio of 0.97 or more as the same (the runs' own noise); \"no cliff\" means every size keeps at least half epoll-ref's rate at that size.\n\n";
	p "The targets in µs and GB/s were set on a quieter machine, with another load generator, against the figures of a peer there; each is also restated as a ratio to that peer (e.g. 5.0 µs against the hand-written epoll's 6.2 µs is ×0.81), taken within a round here, which carries over from one machine to another. A target is met when both readings are, for one configuration: the best one there is (the cheapest that meets both, or else one).\n\n";
	p "| load | target | measured | verdict |\n|---|---|---|---|\n";
	p "| " . join(' | ', @$_) . " |\n" for @t;
	p "\n";
}

# --- tables ------------------------------------------------------------------
sub load_table {
	my ($k, $title, $unit, $ref, @only) = @_;
	return unless $cell{$k};
	my @s = @only ? grep { $cell{$k}{$_} } @only : servers_in($k);
	@s = sort { (med($k, $a, 'cpu_us') // 1e99) <=> (med($k, $b, 'cpu_us') // 1e99) } @s;
	p "## $title\n\n";
	p "| server | $unit/s | p50 µs | p99 µs | server CPU µs/$unit | CPU ×$ref | rate ×$ref | errors |\n";
	p "|---|---:|---:|---:|---:|---:|---:|---:|\n";
	for my $s (@s) {
		p sprintf "| %s | %s%s | %s | %s | %s%s | %s | %s | %d |\n", $s,
		    fmt(med($k, $s, 'rate'), 0), spread($k, $s, 'rate', 0),
		    fmt(med($k, $s, 'p50_us')), fmt(med($k, $s, 'p99_us')),
		    fmt(med($k, $s, 'cpu_us')), spread($k, $s, 'cpu_us'),
		    fmt(ratio($k, $s, $ref, 'cpu_us')), fmt(ratio($k, $s, $ref, 'rate')), errs($k, $s);
	}
	p "\n";
}

load_table('pp64/-', '64 persistent connections, 64 B ping-pong', 'request', $REF);
p "`concurbench -c 64 -s 64`: each connection sends 64 bytes and waits for them to come back, then again.\n\n";
load_table('conn-reset/-', 'Short connections, reset close (no TIME_WAIT)', 'conn', $REF);
p "`concurbench -m connrate -c 16 -s 64 --close reset`: 16 workers each connect, exchange 64 bytes, and close with a reset (SO_LINGER 0), so no TIME_WAIT is left behind and the rate is the servers' own.\n\n";
load_table('conn-normal/-', 'Short connections, plain close', 'conn', $REF);
if ($cell{'conn-normal/-'}) {
	my ($lo, $hi) = split ' ', ($m{port_range} // '32768 60999');
	my $ports = $hi - $lo + 1;
	p "`concurbench -m connrate -c 16 -s 64 --close normal`. The client closes first, so each connection leaves a TIME_WAIT socket on the client's side, holding one of its $ports ephemeral ports (ip_local_port_range $lo–$hi) for 60 s. Linux lets connect(2) reuse such a port for loopback (tcp_tw_reuse = $m{tw_reuse}) only once the TIME_WAIT socket's last timestamp is at least one clock second old, so each port serves at most about one connection per second, and connect's search through a port range full of young TIME_WAIT sockets grows costly: the ceiling is the client's port space and connect(2), not the server. Every fast server meets it at about the same rate; the server's CPU per connection is what still differs. Reset close, a larger port range, or more client addresses (127.0.0.2, ...) lift it.\n\n";
}
my @forky = qw(xinetd socat ncat concurd-fork concurd-prefork concurd-prethread concurd-thread);
load_table('conn-reset/-', 'Process and thread per connection, short connections (reset close)', 'conn', 'xinetd', @forky) if $cell{'conn-reset/-'}{xinetd};
p "The same runs as the reset-close table, the servers that give each connection a process or a thread, against xinetd (UNP chapter 30's comparison, re-measured): prefork and prethread pay for a process or thread once, not per connection.\n\n" if $cell{'conn-reset/-'}{xinetd};

if ($cell{'stream/-'}) {
	my $k = 'stream/-';
	my @s = sort { med($k, $b, 'gbps') <=> med($k, $a, 'gbps') } servers_in($k);
	p "## One connection streaming\n\n";
	p "`concurbench -m stream -c 1`: 16 KiB messages sent while the echo is read back and verified byte for byte; GB/s = 10^9 bytes echoed per second.\n\n";
	p "| server | GB/s echoed | server CPU µs per MiB | CPU ×$REF | rate ×$REF | errors |\n|---|---:|---:|---:|---:|---:|\n";
	my @stalled;
	for my $s (@s) {
		push @stalled, $s if (med($k, $s, 'gbps') // 0) < 0.01;
		p sprintf "| %s | %s%s | %s%s | %s | %s | %d |\n", $s, fmt(med($k, $s, 'gbps'), 2), spread($k, $s, 'gbps', 2),
		    fmt(med($k, $s, 'cpu_us_mib')), spread($k, $s, 'cpu_us_mib'), fmt(ratio($k, $s, $REF, 'cpu_us_mib')),
		    fmt(ratio($k, $s, $REF, 'gbps')), errs($k, $s);
	}
	p "\n";
	p "**Stalled:** " . join(', ', @stalled) . " echoed almost nothing (its CPU per MiB is then meaningless). " .
	    (grep({ $_ eq 'ncat' } @stalled) ? "ncat --exec relays between the socket and the program through pipes with blocking writes: while the client keeps sending, ncat blocks writing into cat's full input pipe, cat blocks writing into its full output pipe that ncat no longer reads, and the connection deadlocks for good (the processes outlive the client; the harness kills them). Any full-duplex client with more than about 128 KiB in flight meets it; ping-pong with small messages does not." : '') . "\n\n"
	    if @stalled;
}

if (@sizes) {
	my @s = sort { $order{$a} <=> $order{$b} } keys %{ $cell{"sweep/$sizes[0]"} };
	p "## Message sizes from 1 B to 1 MiB\n\n";
	p "`concurbench -c $m{sweep_conns} -s SIZE`: ping-pong on $m{sweep_conns} connections. Requests per second (median); a cliff is a size where a server's rate falls far below its neighbours' and the reference's (xinetd's built-in echo writes 1 KiB pieces and leaves Nagle on: a 4 KiB message waits for a delayed ACK).\n\n";
	p "![message-size sweep](peers-sweep.svg)\n\n";
	p "| server | " . join(' | ', map { "$_ B" } @sizes) . " |\n|---|" . ('---:|' x @sizes) . "\n";
	for my $s (@s) {
		p "| $s | " . join(' | ', map { fmt(med("sweep/$_", $s, 'rate'), 0) } @sizes) . " |\n";
	}
	p "\nServer CPU µs per request:\n\n";
	p "| server | " . join(' | ', map { "$_ B" } @sizes) . " |\n|---|" . ('---:|' x @sizes) . "\n";
	for my $s (@s) {
		p "| $s | " . join(' | ', map { fmt(med("sweep/$_", $s, 'cpu_us')) } @sizes) . " |\n";
	}
	p "\n";
}

if ($cell{'client/-'}) {
	my $k = 'client/-';
	my @g = sort { (med($k, $a, 'client_us') // 1e99) <=> (med($k, $b, 'client_us') // 1e99) } keys %{ $cell{$k} };
	p "## The load generator\n\n";
	p "Each generator in turn drives concurd as shipped with 64 connections of 64-byte ping-pong (`concurbench -c 64 -s 64`, `ref-pingpong HOST PORT 64 64 SECS`); client CPU per request is what the generator reports from getrusage(2). $GREF (`bench/ref-pingpong.c`) is the least a ping-pong generator can do: one thread, one epoll loop, one send(2) and one recv(2) a request, no timing and no verification. concurbench times and verifies every request.\n\n";
	p "| generator | request/s | client CPU µs/request | rate ×$GREF | client CPU ×$GREF | server CPU µs/request | errors |\n|---|---:|---:|---:|---:|---:|---:|\n";
	my %what = ('concurbench' => 'concurbench (as shipped)', 'concurbench-epoll' => 'concurbench --io epoll');
	for my $s (@g) {
		p sprintf "| %s | %s%s | %s%s | %s | %s | %s | %d |\n", $what{$s} // $s,
		    fmt(med($k, $s, 'rate'), 0), spread($k, $s, 'rate', 0),
		    fmt(med($k, $s, 'client_us')), spread($k, $s, 'client_us'),
		    fmt(ratio($k, $s, $GREF, 'rate')), fmt(ratio($k, $s, $GREF, 'client_us')),
		    fmt(med($k, $s, 'cpu_us')), errs($k, $s);
	}
	p "\n";
}

if (@idle) {
	my %by;
	push @{ $by{ $_->{server} } }, $_ for @idle;
	p "## Idle connections\n\n";
	my $per = $m{idle_period} || 4;
	p "concurbench holds $m{idle_conns} connections open (`-c $m{idle_conns} -s 64 -r " . int($m{idle_conns} / $per) . "`: each connection sends one 64 B message every $per s; the server's RSS is read one such period after all are established, so each has talked and then sits idle); user-space memory per connection = (VmRSS then − VmRSS after a warm-up) / established connections. Socket buffers are kernel memory and not in these figures.\n\n";
	p "| server | connections | RSS before kB | RSS with connections kB | bytes per connection | errors |\n|---|---:|---:|---:|---:|---:|\n";
	for my $s (sort { median(map { $_->{bytes_per_conn} } @{ $by{$a} }) <=> median(map { $_->{bytes_per_conn} } @{ $by{$b} }) } keys %by) {
		my @r = @{ $by{$s} };
		my ($lo, $hi) = minmax(map { $_->{bytes_per_conn} } @r);
		my $e = 0; $e += $_->{errors} for @r;
		p sprintf "| %s | %s | %s | %s | %s%s | %d |\n", $s, fmt(median(map { $_->{established} } @r), 0),
		    fmt(median(map { $_->{rss0_kb} } @r), 0), fmt(median(map { $_->{rss1_kb} } @r), 0),
		    fmt(median(map { $_->{bytes_per_conn} } @r), 0), (@r > 1 ? ' (' . fmt($lo, 0) . '–' . fmt($hi, 0) . ')' : ''), $e;
	}
	p "\n";
}

p "## The servers\n\n";
p "| name | what |\n|---|---|\n";
for my $s (sort { $order{$a} <=> $order{$b} } keys %order) {
	# concurd-MODEL-wN: N loops (run.sh), not a model of its own.
	my $d = $desc{$s} // ($s =~ /^concurd-(.*)-w(\d+)$/ ? "`concurd -m $1 -w $2` (see concurd(8))"
	    : $s =~ /^concurd-(.*)/ ? "`concurd -m $1` (see concurd(8))" : '');
	p "| $s | $d |\n";
}
p "\nThe hand-written, libuv and libevent servers are single-threaded, set TCP_NODELAY and stop reading a connection whose echo cannot be sent; concurd's event models without `-w` start one loop and add one, up to one per core ($m{cores} here), while every loop is busy.\n\n";
if (@failed) {
	p "**Failed measurements** (no result): " . join(', ', map { "$_->{load} $_->{server} round $_->{round}" } @failed) . ".\n\n";
}
p "Raw rows (one per measurement) are written to `build/bench/peers/run-DATE/results.tsv` and `idle.tsv` by each run; this page is made from them by `bench/peers/report.pl`.\n";

open(my $o, '>', "$out/peers.md") or die "report.pl: $out/peers.md: $!\n";
print $o @md;
close $o;

# --- charts ----------------------------------------------------------------------
my @bars = grep { $cell{$_} && %{ $cell{$_} } } ('pp64/-', 'conn-reset/-');
if (@bars) {
	my @s = sort { $order{$a} <=> $order{$b} } keys %order;
	open(my $d, '>', "$run/cpu.dat") or die;
	print $d "server\t64B ping-pong (µs/request)\tshort connections, reset (µs/connection)\n";
	for my $s (@s) {
		print $d join("\t", $s, map { my $v = med($_, $s, 'cpu_us'); defined $v ? sprintf('%.3f', $v) : '?' } ('pp64/-', 'conn-reset/-')), "\n";
	}
	close $d;
}
if (@sizes) {
	my @s = sort { $order{$a} <=> $order{$b} } keys %{ $cell{"sweep/$sizes[0]"} };
	open(my $d, '>', "$run/sweep.dat") or die;
	print $d join("\t", 'bytes', @s), "\n";
	for my $z (@sizes) {
		print $d join("\t", sz($z), map { my $v = med("sweep/$z", $_, 'rate'); defined $v ? $v : '?' } @s), "\n";
	}
	close $d;
}
my $gp = '';
for my $fmt (['svg', 'svg size 960,540 dynamic enhanced font "sans,11"'], ['png', 'pngcairo size 960,540 font "sans,10"']) {
	my ($ext, $term) = @$fmt;
	if (@bars) {
		$gp .= qq{set terminal $term\nset output "$out/peers.$ext"\n};
		$gp .= qq{reset\nset title "Server CPU per operation (median of $m{rounds} rounds; lower is better)\\n$m{cpu}, $m{cores} cores, loopback"\n};
		$gp .= qq{set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n};
		$gp .= qq{set logscale y\nset ylabel "server CPU µs per operation (log)"\nset yrange [1:*]\nset grid ytics\n};
		$gp .= qq{set xtics rotate by -35 scale 0\nset key above\nset datafile missing "?"\nset datafile separator "\\t"\n};
		$gp .= qq{plot "$run/cpu.dat" using 2:xtic(1) title columnhead, "" using 3 title columnhead\n};
	}
	if (@sizes) {
		my $n = scalar(keys %{ $cell{"sweep/$sizes[0]"} });
		$gp .= qq{set terminal $term\nset output "$out/peers-sweep.$ext"\n};
		$gp .= qq{reset\nset title "Ping-pong rate by message size, $m{sweep_conns} connections (median of $m{rounds} rounds)\\n$m{cpu}, $m{cores} cores, loopback"\n};
		$gp .= qq{set logscale xy\nset xlabel "message size (bytes)"\nset ylabel "requests per second"\nset grid\nset key outside right\n};
		$gp .= qq{set xtics ("1" 1, "64" 64, "1k" 1024, "4k" 4096, "16k" 16384, "64k" 65536, "256k" 262144, "1M" 1048576)\n};
		$gp .= qq{set datafile missing "?"\nset datafile separator "\\t"\n};
		$gp .= 'plot ' . join(', ', map { qq{"$run/sweep.dat" using 1:$_ with linespoints title columnhead} } 2 .. $n + 1) . "\n";
	}
}
if ($gp ne '') {
	open(my $g, '>', "$run/charts.gp") or die;
	print $g $gp;
	close $g;
	system('gnuplot', "$run/charts.gp") == 0 or warn "report.pl: gnuplot failed (see $run/charts.gp)\n";
}
