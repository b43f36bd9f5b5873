#!/bin/bash
# run.sh: the peers benchmark of issue 8 (`make compare-peers`).
#
# Starts, one at a time on loopback, the echo servers a user could pick
# instead of concurd (socat, xinetd's built-in echo, ncat --exec /bin/cat,
# minimal servers on libuv and libevent, a hand-written epoll reference) and
# concurd's models, and drives each with concurbench under the same loads.
# Every measurement starts a fresh server: a short warm-up run, a snapshot of
# the server's process-tree CPU time (bench/peers/proctree.pl, from /proc),
# the measured run, the tree settles, a second snapshot, stop.  Rounds
# alternate: in each round every load visits every server (starting with a
# different server each round), so slow drifts of a shared machine fall on
# all of them alike; the report gives medians over rounds and the spread.
#
# Results: raw rows in build/bench/peers/run-DATE/ (results.tsv, idle.tsv,
# one JSON per run, server logs); the report (bench/peers/report.pl) goes to
# docs/peers.md + docs/peers.svg/png, or with --quick under the run folder.
set -u

usage() {
	cat <<'EOF'
usage: bench/peers/run.sh [options]     (normally: make compare-peers [QUICK=1])
  --quick            smoke run: 1 round, 1 s runs, fewer sizes, 2,000 idle
                     connections; report in the run folder, not docs/
  --rounds N         alternating rounds (default 3)
  --duration SECS    length of each measured run (default 4)
  --servers A,B,...  only these servers (see --list)
  --loads A,B,...    only these loads (see --list)
  --idle-conns N     connections held for the idle-memory load (10000)
  --out DIR          where peers.md and the charts go (default docs/)
  --no-install       never call apt-get, only say what is missing
  --list             print the servers and loads and exit
  -h, --help         this text
Runs as root install what is missing with apt-get (socat xinetd ncat
libuv1-dev libevent-dev gnuplot-nox); otherwise install those first.
EOF
}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 71
B=${B:-build}
O=${O:-bin}
MAKE=${MAKE:-make}
BENCH=$ROOT/$O/concurbench
CONCURD=$ROOT/$O/concurd
PEERBIN=$ROOT/$B/bench/peers

QUICK=0 ROUNDS=3 DUR=4 IDLE_CONNS=10000 OUT=docs INSTALL=1
SERVERS_OPT= LOADS_OPT=

# Servers: the peers, then concurd's models.  EVENT: single-process event
# loops, for the idle-memory and plain-close loads.  SWEEP: the message-size
# sweep's set (every design once, to keep the run short).
# concurd is concurd as shipped, no flag at all (its default model and
# loops); concurd-MODEL has the model's default loops, concurd-MODEL-wN
# runs N: -w1 is the like-for-like match for the single-threaded
# references.
ALL_SERVERS="epoll-ref libuv libevent socat xinetd ncat concurd concurd-epoll
	concurd-epoll-w1 concurd-uring concurd-uring-w1 concurd-poll
	concurd-thread concurd-prethread concurd-fork concurd-prefork"
EVENT_SERVERS="epoll-ref libuv libevent concurd concurd-epoll concurd-uring concurd-poll"
SWEEP_SERVERS="epoll-ref libuv libevent socat xinetd ncat concurd-epoll
	concurd-uring concurd-thread concurd-fork"
ALL_LOADS="pp64 conn-reset conn-normal stream sweep idle client"
# The client load: concurd as shipped, driven by each of these generators
# in turn (64 x 64 B ping-pong): concurbench as shipped, concurbench's
# epoll loop, and bench/ref-pingpong.c, the least a generator can do.
CLIENTS="ref-pingpong concurbench concurbench-epoll"
SWEEP_SIZES="1 64 1k 4k 16k 64k 256k 1M"
SWEEP_CONNS=4

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--servers) SERVERS_OPT=${2//,/ }; shift ;;
	--loads) LOADS_OPT=${2//,/ }; shift ;;
	--idle-conns) IDLE_CONNS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-install) INSTALL=0 ;;
	--list) echo "servers: " $ALL_SERVERS; echo "loads: " $ALL_LOADS
		echo "generators (client load): $CLIENTS"
		echo "sweep sizes: $SWEEP_SIZES"; exit 0 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 64 ;;
	esac
	shift
done
case "$ROUNDS$DUR$IDLE_CONNS" in *[!0-9]*|'')
	echo "run.sh: --rounds, --duration and --idle-conns take whole numbers" >&2
	exit 64 ;;
esac
[ "$ROUNDS" -ge 1 ] && [ "$DUR" -ge 1 ] || { echo "run.sh: rounds and duration must be at least 1" >&2; exit 64; }
WARM=1
IDLE_PERIOD=4	# seconds between two messages on one idle connection
if [ "$QUICK" = 1 ]; then
	ROUNDS=1 DUR=1 IDLE_CONNS=2000 SWEEP_SIZES="1 4k 1M" IDLE_PERIOD=2
fi
# The sweep has many cells: half-length runs, a half-second warm-up.
SWEEP_DUR=$(( DUR > 1 ? DUR / 2 : 1 ))
SERVERS=${SERVERS_OPT:-$ALL_SERVERS}
LOADS=${LOADS_OPT:-$ALL_LOADS}
for s in $SERVERS; do
	case " $(echo $ALL_SERVERS) " in *" $s "*) ;; *)
		echo "run.sh: unknown server $s (see --list)" >&2; exit 64 ;; esac
done
for l in $LOADS; do
	case " $ALL_LOADS " in *" $l "*) ;; *)
		echo "run.sh: unknown load $l (see --list)" >&2; exit 64 ;; esac
done

say() { printf '%s run.sh: %s\n' "$(date +%T)" "$*" >&2; }
# What one system call costs here, in ns (see syscall-ns.pl).
syscall_ns() { perl "$ROOT/bench/peers/syscall-ns.pl" 2>/dev/null; }

# --- what we need -----------------------------------------------------------

need_pkgs() {
	local missing=
	command -v socat >/dev/null || missing="$missing socat"
	command -v xinetd >/dev/null || missing="$missing xinetd"
	command -v ncat >/dev/null || missing="$missing ncat"
	command -v gnuplot >/dev/null || missing="$missing gnuplot-nox"
	[ -e /usr/include/uv.h ] || missing="$missing libuv1-dev"
	[ -e /usr/include/event2/event.h ] || missing="$missing libevent-dev"
	command -v pkg-config >/dev/null || missing="$missing pkg-config"
	echo $missing
}
missing=$(need_pkgs)
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && [ "$INSTALL" = 1 ]; then
		say "installing from Debian: $missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >&2 ||
			{ echo "run.sh: apt-get install $missing failed" >&2; exit 69; }
		# Debian's xinetd package may start its own daemon (with every
		# built-in service off); ours runs beside it on its own config.
	else
		echo "run.sh: missing packages:$missing" >&2
		echo "run.sh: as root: apt-get install$missing" >&2
		exit 69
	fi
fi
$MAKE --no-print-directory -s B="$B" O="$O" all peer-servers "$B/bench/ref-pingpong" >&2 ||
	{ echo "run.sh: build failed" >&2; exit 70; }
REFCLIENT=$ROOT/$B/bench/ref-pingpong
for f in "$BENCH" "$CONCURD" "$PEERBIN/epoll-echo" "$PEERBIN/uv-echo" "$PEERBIN/event-echo" "$REFCLIENT"; do
	[ -x "$f" ] || { echo "run.sh: $f was not built" >&2; exit 70; }
done

# Descriptors: the idle load holds IDLE_CONNS on each side.
want=$((IDLE_CONNS + 512))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
	IDLE_CONNS=$(( $(ulimit -n) - 512 ))
	say "descriptor limit $(ulimit -n): idle load holds $IDLE_CONNS connections"
fi

RUN=$ROOT/$B/bench/peers/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN/json" "$RUN/logs" || exit 73
[ "$QUICK" = 1 ] && OUT=$RUN
mkdir -p "$OUT" || exit 73
TICK=$(getconf CLK_TCK)

# --- servers -----------------------------------------------------------------

SPID= SPORT= STMP=
cleanup() {
	stop_server
	[ -n "${BGPID:-}" ] && kill "$BGPID" 2>/dev/null
	[ -n "${LOADPID:-}" ] && kill "$LOADPID" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 10000))
		[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && { echo $p; return; }
	done
}

# xinetd's built-in echo on a port of our own: INTERNAL UNLISTED, no logging
# (Debian's default config logs every connection to syslog; we measure the
# echo, not the logger), and no rate limits (the default cps of 50/s would
# switch the service off in the connection loads).
xinetd_conf() {
	cat <<EOF
defaults
{
	instances	= UNLIMITED
	per_source	= UNLIMITED
	cps		= 100000 1
}
service echo
{
	type		= INTERNAL UNLISTED
	id		= echo-stream
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	bind		= 127.0.0.1
	port		= $1
	instances	= UNLIMITED
	per_source	= UNLIMITED
	cps		= 100000 1
	log_on_success	=
	log_on_failure	=
}
EOF
}

# start_server NAME: start it on a free port, wait until it listens; sets
# SPID (the tree's root) and SPORT.
start_server() {
	local name=$1 log=$RUN/logs/$1.log i
	SPORT=$(free_port)
	STMP=
	case $name in
	epoll-ref) "$PEERBIN/epoll-echo" "$SPORT" 127.0.0.1 >>"$log" 2>&1 & ;;
	libuv) "$PEERBIN/uv-echo" "$SPORT" 127.0.0.1 >>"$log" 2>&1 & ;;
	libevent) "$PEERBIN/event-echo" "$SPORT" 127.0.0.1 >>"$log" 2>&1 & ;;
	socat) socat "TCP-LISTEN:$SPORT,bind=127.0.0.1,reuseaddr,fork,backlog=4096" PIPE >>"$log" 2>&1 & ;;
	xinetd)
		STMP=$(mktemp -d) || return 1
		xinetd_conf "$SPORT" >"$STMP/xinetd.conf"
		xinetd -dontfork -f "$STMP/xinetd.conf" -pidfile "$STMP/pid" >>"$log" 2>&1 & ;;
	ncat) ncat --keep-open --max-conns 100000 --exec /bin/cat -l 127.0.0.1 "$SPORT" >>"$log" 2>&1 & ;;
	concurd-*-w[0-9]*)	# concurd-MODEL-wN: N loops/workers
		m=${name#concurd-}
		"$CONCURD" -m "${m%-w*}" -w "${m##*-w}" -b 127.0.0.1 -p "$SPORT" -q >>"$log" 2>&1 & ;;
	concurd-*) "$CONCURD" -m "${name#concurd-}" -b 127.0.0.1 -p "$SPORT" -q >>"$log" 2>&1 & ;;
	concurd) "$CONCURD" -b 127.0.0.1 -p "$SPORT" -q >>"$log" 2>&1 & ;;
	*) echo "run.sh: no such server $name" >&2; return 1 ;;
	esac
	SPID=$!
	for i in $(seq 100); do
		kill -0 "$SPID" 2>/dev/null || { say "$name died at start (see $log)"; SPID=; return 1; }
		[ -n "$(ss -Hltn "( sport = :$SPORT )" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	say "$name does not listen on $SPORT after 5 s"
	stop_server
	return 1
}

# stop_server: TERM the server, then KILL whatever of its tree is left (ncat's
# relay and cat can deadlock and outlive their server).
stop_server() {
	local i kids
	if [ -n "$SPID" ]; then
		kids=$(perl "$ROOT/bench/peers/proctree.pl" --pids "$SPID" 2>/dev/null)
		kill -TERM "$SPID" 2>/dev/null
		for i in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		for i in $kids; do kill -KILL "$i" 2>/dev/null; done
		SPID=
	fi
	[ -n "$STMP" ] && rm -rf "$STMP"
	STMP=
}

tree() { perl "$ROOT/bench/peers/proctree.pl" "$1"; }

# settle NPROCS: wait (at most 3 s) until the tree is back to NPROCS
# processes: a forking server's children have left and been reaped.
settle() {
	local i n
	for i in $(seq 60); do
		n=$(tree "$SPID" | cut -d' ' -f2)
		[ -n "$n" ] && [ "$n" -le "$1" ] && return 0
		sleep 0.05
	done
	[ -z "${2:-}" ] && say "tree of $SPID still has $n processes (expected $1)"
	return 0
}

# --- loads ---------------------------------------------------------------------

# load_args LOAD [SIZE]: concurbench's options.
load_args() {
	case $1 in
	pp64) echo "-c 64 -s 64" ;;
	conn-reset) echo "-m connrate -c 16 -s 64 --close reset" ;;
	conn-normal) echo "-m connrate -c 16 -s 64 --close normal" ;;
	stream) echo "-m stream -c 1" ;;
	sweep) echo "-c $SWEEP_CONNS -s $2" ;;
	esac
}

load_servers() {
	local set
	case $1 in
	client) echo concurd; return ;;
	conn-normal|idle) set=$EVENT_SERVERS ;;
	sweep) set=$SWEEP_SERVERS ;;
	*) set=$ALL_SERVERS ;;
	esac
	for s in $set; do
		case " $(echo $SERVERS) " in *" $s "*) echo "$s" ;; esac
	done
}

# rotate N LIST...: the list started at its (N mod len)th element.
rotate() {
	local n=$1; shift
	local a=("$@") k=${#@} i
	[ "$k" -eq 0 ] && return
	for ((i = 0; i < k; i++)); do echo "${a[$(((i + n) % k))]}"; done
}

RESULTS=$RUN/results.tsv
IDLE=$RUN/idle.tsv
printf 'round\tload\tsize\tserver\trequests\trate\tp50_us\tp99_us\trx_bytes_per_s\terrors\tserver_cpu_s\tclient_cpu_us_per_req\n' >"$RESULTS"
printf 'round\tserver\tconns\testablished\trss0_kb\trss1_kb\tbytes_per_conn\terrors\n' >"$IDLE"

# measure ROUND LOAD SERVER [SIZE]: one row of results.tsv.
measure() {
	local round=$1 load=$2 name=$3 size=${4:-} args t0 t1 n0 json tag
	local dur=$DUR warm=$WARM
	[ "$load" = sweep ] && dur=$SWEEP_DUR warm=500ms
	args=$(load_args "$load" "$size")
	tag=$load${size:+-$size}-$name-r$round
	json=$RUN/json/$tag.json
	start_server "$name" || { printf '%s\t%s\t%s\t%s\tFAILED\n' "$round" "$load" "${size:--}" "$name" >>"$RESULTS"; return; }
	n0=$(tree "$SPID" | cut -d' ' -f2)
	timeout 60 "$BENCH" 127.0.0.1 "$SPORT" $args -d "$warm" --json >/dev/null 2>>"$RUN/logs/bench.log"
	settle "$n0" quiet
	n0=$(tree "$SPID" | cut -d' ' -f2)
	t0=$(tree "$SPID" | cut -d' ' -f1)
	timeout $((dur + 60)) "$BENCH" 127.0.0.1 "$SPORT" $args -d "$dur" --json >"$json" 2>>"$RUN/logs/bench.log"
	settle "$n0"
	t1=$(tree "$SPID" | cut -d' ' -f1)
	stop_server
	perl -MJSON::PP -e '
		my ($round, $load, $size, $name, $cpu) = @ARGV[1..5];
		local $/; open(my $f, "<", $ARGV[0]) or die;
		my $j = eval { decode_json(<$f>) };
		if (!$j) { print join("\t", $round, $load, $size, $name, "FAILED"), "\n"; exit }
		my $l = $j->{latency_us};
		printf "%s\t%s\t%s\t%s\t%d\t%.1f\t%.3f\t%.3f\t%.0f\t%d\t%.4f\t%.3f\n",
		    $round, $load, $size, $name, $j->{requests}, $j->{requests_per_s},
		    $l->{p50} // 0, $l->{p99} // 0, $j->{received_bytes_per_s},
		    $j->{errors}{total}, $cpu, $j->{cpu}{us_per_request} // 0;
	' "$json" "$round" "$load" "${size:--}" "$name" "$(awk -v a="$t0" -v b="$t1" -v t="$TICK" 'BEGIN { printf "%.4f", (b - a) / t }')" >>"$RESULTS"
	tail -n1 "$RESULTS" | awk -F'\t' '{ printf "  %-10s %-18s %10s/s  p99 %8s us  server %.2f us/op  errors %s\n", $2 ($3 == "-" ? "" : " " $3), $4, $6, $8, ($5 > 0 ? $11 * 1e6 / $5 : 0), $10 }' >&2
}

# client ROUND GENERATOR: one row of results.tsv, the server concurd as
# shipped, the generator one of CLIENTS (its name in the server column);
# client_cpu_us_per_req is what the generator says it spent (getrusage).
client() {
	local round=$1 gen=$2 t0 t1 out json=$RUN/json/client-$2-r$1.json
	local cmd=("$BENCH") row
	start_server concurd || { printf '%s\tclient\t-\t%s\tFAILED\n' "$round" "$gen" >>"$RESULTS"; return; }
	[ "$gen" = concurbench-epoll ] && cmd+=(--io epoll)
	timeout 60 "$BENCH" 127.0.0.1 "$SPORT" -c 64 -s 64 -d "$WARM" --json >/dev/null 2>>"$RUN/logs/bench.log"
	t0=$(tree "$SPID" | cut -d' ' -f1)
	if [ "$gen" = ref-pingpong ]; then
		out=$(timeout $((DUR + 60)) "$REFCLIENT" 127.0.0.1 "$SPORT" 64 64 "$DUR" 2>>"$RUN/logs/bench.log")
		echo "$out" >"$RUN/json/client-$gen-r$round.txt"
		# "requests N in T s = R req/s, client CPU C us/request"
		row=$(echo "$out" | sed -n 's/^requests \([0-9]*\) in [0-9.]* s = \([0-9.]*\) req\/s, client CPU \([0-9.]*\) us\/request$/\1 \2 \3 0/p')
	else
		timeout $((DUR + 60)) "${cmd[@]}" 127.0.0.1 "$SPORT" -c 64 -s 64 -d "$DUR" --json >"$json" 2>>"$RUN/logs/bench.log"
		row=$(perl -MJSON::PP -e 'local $/; my $j = eval { decode_json(<STDIN>) } or exit;
			printf "%d %.1f %.3f %d\n", $j->{requests}, $j->{requests_per_s}, $j->{cpu}{us_per_request} // 0, $j->{errors}{total}' <"$json")
	fi
	t1=$(tree "$SPID" | cut -d' ' -f1)
	stop_server
	if [ -z "$row" ]; then
		printf '%s\tclient\t-\t%s\tFAILED\n' "$round" "$gen" >>"$RESULTS"
		return
	fi
	set -- $row
	printf '%s\tclient\t-\t%s\t%s\t%s\t0\t0\t%.0f\t%s\t%s\t%s\n' "$round" "$gen" "$1" "$2" "$(awk -v r="$2" 'BEGIN { print r * 64 }')" \
		"$4" "$(awk -v a="$t0" -v b="$t1" -v t="$TICK" 'BEGIN { printf "%.4f", (b - a) / t }')" "$3" >>"$RESULTS"
	tail -n1 "$RESULTS" | awk -F'\t' '{ printf "  client     %-18s %10s/s  client %s us/op\n", $4, $6, $12 }' >&2
}

# idle ROUND SERVER: user-space memory per idle connection.  concurbench
# holds IDLE_CONNS connections and, open loop, sends one message on each
# every IDLE_PERIOD seconds; once all are up we wait one more period, so by
# the time we read the server's RSS every connection has talked (a server
# that allocates on first read is charged for it) and mostly sits idle.
idle() {
	local round=$1 name=$2 rss0 rss1 est json i
	json=$RUN/json/idle-$name-r$round.json
	start_server "$name" || { printf '%s\t%s\tFAILED\n' "$round" "$name" >>"$IDLE"; return; }
	timeout 60 "$BENCH" 127.0.0.1 "$SPORT" -c 64 -s 64 -d 1 --json >/dev/null 2>>"$RUN/logs/bench.log"
	sleep 0.2
	rss0=$(tree "$SPID" | cut -d' ' -f3)
	timeout 90 "$BENCH" 127.0.0.1 "$SPORT" -c "$IDLE_CONNS" -s 64 -r $((IDLE_CONNS / IDLE_PERIOD)) -d $((IDLE_PERIOD * 3)) \
		--connect-timeout 20s --json >"$json" 2>>"$RUN/logs/bench.log" &
	BGPID=$!
	sleep "$IDLE_PERIOD.5"
	for i in $(seq 40); do	# connecting 10,000 can take a while
		est=$(ss -Htn state established "( sport = :$SPORT )" 2>/dev/null | wc -l)
		[ "$est" -ge "$IDLE_CONNS" ] && break
		sleep 0.1
	done
	sleep "$IDLE_PERIOD"
	est=$(ss -Htn state established "( sport = :$SPORT )" 2>/dev/null | wc -l)
	rss1=$(tree "$SPID" | cut -d' ' -f3)
	wait "$BGPID"
	BGPID=
	stop_server
	perl -MJSON::PP -e '
		my ($round, $name, $conns, $est, $r0, $r1) = @ARGV[1..6];
		local $/; open(my $f, "<", $ARGV[0]) or die;
		my $j = eval { decode_json(<$f>) } // { errors => { total => -1 } };
		printf "%s\t%s\t%d\t%d\t%d\t%d\t%.0f\t%d\n", $round, $name, $conns,
		    $est, $r0, $r1, ($r1 - $r0) * 1024 / ($est || 1), $j->{errors}{total};
	' "$json" "$round" "$name" "$IDLE_CONNS" "$est" "$rss0" "$rss1" >>"$IDLE"
	tail -n1 "$IDLE" | awk -F'\t' '{ printf "  idle       %-18s %6d conns  %+d kB  %s B/conn  errors %s\n", $2, $4, $6 - $5, $7, $8 }' >&2
}

# --- the machine and the run ---------------------------------------------------

CMD="make compare-peers"
[ "$QUICK" = 1 ] && CMD="$CMD QUICK=1"
CMD="$CMD  # bench/peers/run.sh --rounds $ROUNDS --duration $DUR"
[ -n "$SERVERS_OPT" ] && CMD="$CMD --servers $(echo $SERVERS_OPT | tr ' ' ,)"
[ -n "$LOADS_OPT" ] && CMD="$CMD --loads $(echo $LOADS_OPT | tr ' ' ,)"

{
	echo "command	$CMD"
	echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "cores	$(nproc)"
	echo "kernel	$(uname -sr)"
	echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "load_before	$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "syscall_ns_before	$(syscall_ns)"
	echo "rounds	$ROUNDS"
	echo "duration	$DUR"
	echo "warmup	$WARM"
	echo "idle_conns	$IDLE_CONNS"
	echo "idle_period	$IDLE_PERIOD"
	echo "sweep_duration	$SWEEP_DUR"
	echo "sweep_conns	$SWEEP_CONNS"
	echo "port_range	$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' ' ')"
	echo "tw_reuse	$(sysctl -n net.ipv4.tcp_tw_reuse)"
	echo "concurd	$(git -C "$ROOT" describe --always --dirty 2>/dev/null)"
	echo "versions	socat $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p'), xinetd $(xinetd -version 2>&1 | head -n1 | cut -d' ' -f1), ncat $(ncat --version 2>&1 | sed -n 's/^Ncat: Version \([^ ]*\).*/\1/p'), libuv $(pkg-config --modversion libuv 2>/dev/null), libevent $(pkg-config --modversion libevent 2>/dev/null)"
} >"$RUN/machine.tsv"
say "results in $RUN; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
# The machine is shared: sample the 1-minute load average all along, so the
# report can say how busy it was (our own run adds about 2).
( while :; do cut -d' ' -f1 /proc/loadavg; sleep 30; done ) >"$RUN/load.txt" &
LOADPID=$!

for round in $(seq "$ROUNDS"); do
	say "round $round of $ROUNDS"
	for load in $LOADS; do
		mapfile -t set < <(load_servers "$load")
		mapfile -t set < <(rotate $((round - 1)) "${set[@]}")
		case $load in
		sweep)
			for size in $SWEEP_SIZES; do
				for s in "${set[@]}"; do measure "$round" sweep "$s" "$size"; done
			done ;;
		idle)
			for s in "${set[@]}"; do idle "$round" "$s"; done ;;
		client)
			mapfile -t gens < <(rotate $((round - 1)) $CLIENTS)
			for g in "${gens[@]}"; do client "$round" "$g"; done ;;
		*)
			for s in "${set[@]}"; do measure "$round" "$load" "$s"; done ;;
		esac
	done
done
echo "load_after	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUN/machine.tsv"
echo "syscall_ns_after	$(syscall_ns)" >>"$RUN/machine.tsv"
kill "$LOADPID" 2>/dev/null
LOADPID=

perl "$ROOT/bench/peers/report.pl" "$RUN" "$OUT" || exit 70
say "report: $OUT/peers.md"
