#!/bin/bash
# bench/files/run.sh: the file service against the file servers a user
# could run instead -- nginx (Debian's nginx-light, configured as its docs
# advise for static files: sendfile on, tcp_nopush on, access_log off, one
# worker per CPU), lighttpd, and python3 -m http.server -- under the same
# loads, rounds alternating, medians reported, server CPU per request from
# the server's whole process tree (bench/peers/proctree.pl).
#
#   bench/files/run.sh [--rounds N] [--secs S] [--out DIR] [--servers LIST]
#                      [--no-cold] [--baseline BIN] [--disk-mbps N]
#
# Loads: a 1 KiB file over HTTP keep-alive, 64 connections (wrk, and
# concurbench checking every byte); a 1 KiB file, a new connection per
# request (ab, HTTP/1.0); a 1 GiB file in the page cache, one connection
# (concurbench, every byte checked).  Then the disk-stall experiment: 64
# keep-alive clients of a small file at a fixed rate (concurbench -r), their
# p99 alone and during a 1 GiB download of a file evicted from the page
# cache (dd iflag=nocache), in one run with the download stopped every
# other second, for concurd epoll, uring and thread (-w 1), and
# for a concurd built without the disk pool (--baseline BIN) if given.  The
# server runs in a cgroup whose disk reads are throttled to --disk-mbps
# (default 200 MB/s; 0: none), so that a cold read is a disk's, not the
# host's cache's (a virtual disk here reads at RAM speed).
#
# Installs what it needs with apt-get if it is missing (as root).  Writes
# DIR/results.tsv, DIR/cold.tsv (and each cold run's concurbench JSON,
# DIR/cold-SERVER-ROUND.json) and DIR/report.md (default
# build/bench/files/run-DATE).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${O:-$ROOT/bin}
rounds=3 secs=4 out= servers="concurd-epoll concurd-uring concurd-prefork nginx lighttpd python" cold=1 baseline=
mbps=200
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift ;;
	--secs) secs=$2; shift ;;
	--out) out=$2; shift ;;
	--servers) servers=${2//,/ }; shift ;;
	--no-cold) cold=0 ;;
	--baseline) baseline=$2; shift ;;
	--disk-mbps) mbps=$2; shift ;;
	-h|--help) sed -n '2,28s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 64 ;;
	esac
	shift
done
out=${out:-$ROOT/build/bench/files/run-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-files.XXXXXX")
SPID=
cleanup() {
	declare -F end_download >/dev/null && end_download
	[ -n "$SPID" ] && stop
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_pkg() {	# need_pkg COMMAND PACKAGE
	command -v "$1" >/dev/null && return 0
	[ "$(id -u)" = 0 ] || { echo "run.sh: $1 is missing (apt-get install $2)" >&2; exit 69; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
		{ echo "run.sh: could not install $2" >&2; exit 69; }
}
need_pkg wrk wrk
need_pkg ab apache2-utils
need_pkg curl curl
for s in $servers; do
	case $s in
	nginx) need_pkg nginx nginx-light ;;
	lighttpd) need_pkg lighttpd lighttpd ;;
	python) need_pkg python3 python3 ;;
	esac
done

D=$W/docs
mkdir -p "$D"
chmod 755 "$W" "$D"	# nginx's workers run as another user
head -c 1024 /dev/urandom >"$D/1k.bin"
head -c 1073741824 /dev/urandom >"$D/1g.bin"
cat "$D/1g.bin" >/dev/null	# in the page cache
ncpu=$(nproc)
PORT=18480

tree() { perl "$ROOT/bench/peers/proctree.pl" "$1" | cut -d' ' -f1; }

start() {	# start NAME: the server on $PORT; SPID
	local log=$W/log.$1 i
	case $1 in
	concurd-base)
		"$baseline" -m epoll -w 1 -s file --root "$D" -b 127.0.0.1 -p "$PORT" \
		    -q 2>"$log" & SPID=$! ;;
	concurd-*)
		"$BIN/concurd" -m "${1#concurd-}" -s file --root "$D" -b 127.0.0.1 \
		    -p "$PORT" -q 2>"$log" & SPID=$! ;;
	nginx)
		mkdir -p "$W/nginx"
		cat >"$W/nginx/nginx.conf" <<EOF
worker_processes $ncpu;
daemon off;
pid $W/nginx/pid;
error_log $W/nginx/error.log;
events { worker_connections 4096; }
http {
	sendfile on; tcp_nopush on; tcp_nodelay on;
	access_log off;
	keepalive_requests 1000000;
	types { application/octet-stream bin; }
	client_body_temp_path $W/nginx; proxy_temp_path $W/nginx;
	fastcgi_temp_path $W/nginx; uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
	server { listen 127.0.0.1:$PORT; root $D; }
}
EOF
		nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" 2>"$log" & SPID=$! ;;
	lighttpd)
		cat >"$W/lighttpd.conf" <<EOF
server.document-root = "$D"
server.bind = "127.0.0.1"
server.port = $PORT
server.max-keep-alive-requests = 1000000
server.max-worker = 0
mimetype.assign = ( ".bin" => "application/octet-stream" )
EOF
		lighttpd -D -f "$W/lighttpd.conf" 2>"$log" & SPID=$! ;;
	python)
		(cd "$D" && exec python3 -m http.server --bind 127.0.0.1 "$PORT") \
		    >"$log" 2>&1 & SPID=$! ;;
	esac
	for i in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$PORT/1k.bin" && return 0
		sleep 0.1
	done
	echo "run.sh: $1 did not start: $(tail -n 3 "$log")" >&2
	return 1
}
stop() {
	local k
	for k in $(perl "$ROOT/bench/peers/proctree.pl" --pids "$SPID" 2>/dev/null); do
		kill -TERM "$k" 2>/dev/null
	done
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
	PORT=$((PORT + 1))
}

R=$out/results.tsv
printf 'round\tload\tclient\tserver\trequests\trate\tp99_us\tMBps\terrors\tserver_cpu_us_per_req\n' >"$R"
tck=$(getconf CLK_TCK)
cell() {	# cell ROUND LOAD CLIENT SERVER
	local round=$1 load=$2 client=$3 s=$4 t0 t1 o n rate p99 mbps err
	t0=$(tree "$SPID")
	case $load/$client in
	1k-keepalive/wrk)
		o=$(wrk -t2 -c64 -d"${secs}s" --latency "http://127.0.0.1:$PORT/1k.bin" 2>&1)
		n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$o")
		rate=$(sed -n 's/^Requests\/sec: *//p' <<<"$o")
		p99=$(awk '$1 == "99%" {v=$2; if (v ~ /ms$/) v=v*1000; else if (v ~ /us$/) v=v+0; else if (v ~ /s$/) v=v*1e6; print v}' <<<"$o")
		mbps=0
		err=$(grep -cE 'Non-2xx|Socket errors' <<<"$o") ;;
	1k-keepalive/concurbench)
		o=$("$BIN/concurbench" 127.0.0.1 "$PORT" -m file --http --path /1k.bin \
		    --root "$D" -c 64 -t 2 -d "${secs}s" --json 2>/dev/null)
		n=$(jq -r .requests <<<"$o"); rate=$(jq -r .requests_per_s <<<"$o")
		p99=$(jq -r '.latency_us.p99' <<<"$o"); mbps=0
		err=$(jq -r .errors.total <<<"$o") ;;
	1k-newconn/ab)
		o=$(ab -q -t "$secs" -n 10000000 -c 16 "http://127.0.0.1:$PORT/1k.bin" 2>&1)
		n=$(sed -n 's/^Complete requests: *//p' <<<"$o")
		rate=$(sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' <<<"$o")
		p99=$(awk '$1 == "99%" {print $2 * 1000}' <<<"$o"); mbps=0
		err=$(sed -n 's/^Failed requests: *//p' <<<"$o") ;;
	1g-cached/concurbench)
		o=$("$BIN/concurbench" 127.0.0.1 "$PORT" -m file --http --path /1g.bin \
		    --root "$D" -c 1 -t 1 -n 3 --io-timeout 60s --json 2>/dev/null)
		n=$(jq -r .requests <<<"$o"); rate=$(jq -r .requests_per_s <<<"$o")
		p99=$(jq -r '.latency_us.p99' <<<"$o")
		mbps=$(jq -r '(.received_bytes_per_s / 1e6)' <<<"$o")
		err=$(jq -r .errors.total <<<"$o") ;;
	esac
	t1=$(tree "$SPID")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$load" "$client" "$s" \
	    "${n:-0}" "${rate:-0}" "${p99:-0}" "${mbps:-0}" "${err:-?}" \
	    "$(awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v t="$tck" 'BEGIN {printf "%.2f", n ? (b - a) / t * 1e6 / n : 0}')" >>"$R"
}

for round in $(seq 1 "$rounds"); do
	for s in $servers; do
		start "$s" || continue
		cell "$round" 1k-keepalive wrk "$s"
		cell "$round" 1k-keepalive concurbench "$s"
		cell "$round" 1k-newconn ab "$s"
		[ "$s" = python ] || cell "$round" 1g-cached concurbench "$s"
		stop
		echo "round $round: $s done" >&2
	done
done

# The disk-stall experiment, in a cgroup with a slow disk.
CG=
throttle() {	# throttle PID: its disk reads at $mbps
	local dev
	[ "$mbps" -gt 0 ] 2>/dev/null || return 0
	dev=$(stat -c '%Hd:%Ld' "$D/1g.bin")
	if [ -z "$CG" ] && [ -d /sys/fs/cgroup/blkio ]; then
		CG=/sys/fs/cgroup/blkio/concurd-bench
		mkdir -p "$CG" && echo "$dev $((mbps * 1000000))" >"$CG/blkio.throttle.read_bps_device" || CG=
	elif [ -z "$CG" ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		CG=/sys/fs/cgroup/concurd-bench
		echo +io >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
		mkdir -p "$CG" && echo "$dev rbps=$((mbps * 1000000))" >"$CG/io.max" || CG=
	fi
	[ -n "$CG" ] && echo "$1" >"$CG/cgroup.procs" ||
		echo "run.sh: no cgroup to slow the disk: the cold reads are the host's" >&2
}
# Alone and during the download are measured in the same run, second by
# second: the download (curl) runs in the even seconds and is stopped
# (SIGSTOP) in the odd ones, and each phase's p50 and p99 are the medians
# of its seconds' (concurbench -i 1s).  Measured one after the other, the
# p99 alone moved between runs by more than the ratio asked of it.
cold_secs=8	# 4 s of download: 800 MB at 200 MB/s, less than the file
toggle() {	# toggle PID T: PID runs in even seconds from T, stopped in odd
	local k sig
	for ((k = 0; k < cold_secs; k++)); do
		sleep "$(awk -v t="$(($2 + k))" -v n="$(date +%s.%N)" \
		    'BEGIN { d = t - n; print (d > 0 ? d : 0) }')"
		sig=CONT
		((k % 2)) && sig=STOP
		kill -"$sig" "$1" 2>/dev/null
	done
}
dl= tg=
end_download() {	# the download and its toggler, stopped or not
	[ -n "$tg" ] && kill "$tg" 2>/dev/null && wait "$tg" 2>/dev/null
	[ -n "$dl" ] && kill "$dl" 2>/dev/null && kill -CONT "$dl" 2>/dev/null &&
		wait "$dl" 2>/dev/null
	dl= tg=
}
C=$out/cold.tsv
printf 'server\tphase\tround\tp50_us\tp99_us\tmax_us\trequests\terrors\tdownload_MBps\n' >"$C"
if [ "$cold" = 1 ]; then
	cold_servers="concurd-epoll concurd-uring concurd-thread"
	[ -n "$baseline" ] && cold_servers="concurd-base $cold_servers"
	for round in $(seq 1 "$rounds"); do
		for s in $cold_servers; do
			case $s in
			concurd-base) start concurd-base ;;
			*) "$BIN/concurd" -m "${s#concurd-}" -w 1 -s file --root "$D" \
			    -b 127.0.0.1 -p "$PORT" -q 2>"$W/log.cold" & SPID=$!
			   sleep 0.5 ;;
			esac
			throttle "$SPID"
			sync "$D/1g.bin"	# dirty pages cannot be dropped
			dd if="$D/1g.bin" iflag=nocache count=0 status=none
			curl -s -o /dev/null "http://127.0.0.1:$PORT/1g.bin" & dl=$!
			kill -STOP "$dl" 2>/dev/null
			T=$(( $(date +%s) + 2 ))
			toggle "$dl" "$T" & tg=$!
			o=$("$BIN/concurbench" 127.0.0.1 "$PORT" -m file --http \
			    --path /1k.bin --root "$D" -c 64 -t 1 -r 2000 \
			    -d "${cold_secs}s" -i 1s --start-at "$T" --json 2>/dev/null)
			wait "$tg"; tg=
			printf '%s\n' "$o" >"$out/cold-$s-$round.json"
			# The download's pace while it ran (half the run; it is
			# stopped again now).
			got=$(awk -v s="$cold_secs" '/^wchar:/ {
			    printf "%.0f", $2 / 1e6 / (s / 2) }' /proc/"$dl"/io 2>/dev/null)
			end_download
			for phase in alone download; do
				# Even seconds ran the download, odd ones not.
				want=$([ "$phase" = download ] && echo 0 || echo 1)
				sel=".intervals | map(select((.start_s | floor) % 2 == $want))"
				med='sort | if length % 2 == 1 then .[length / 2 | floor]
				    else (.[length / 2 - 1] + .[length / 2]) / 2 end'
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$phase" "$round" \
				    "$(jq -r "$sel | map(.latency_us.p50) | $med" <<<"$o")" \
				    "$(jq -r "$sel | map(.latency_us.p99) | $med" <<<"$o")" \
				    "$(jq -r "$sel | map(.latency_us.max) | max" <<<"$o")" \
				    "$(jq -r "$sel | map(.requests) | add" <<<"$o")" \
				    "$(jq -r "$sel | map(.errors) | add" <<<"$o")" \
				    "$([ "$phase" = download ] && echo "${got:--}" || echo -)" >>"$C"
			done
			cat "$D/1g.bin" >/dev/null
			stop
			echo "cold round $round: $s done" >&2
		done
	done
fi
[ -n "$CG" ] && rmdir "$CG" 2>/dev/null
echo "disk	$mbps MB/s (cgroup ${CG:-none})" >"$out/machine.tsv"
echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) CPUs" >>"$out/machine.tsv"
echo "kernel	$(uname -r)" >>"$out/machine.tsv"
for v in nginx lighttpd wrk; do command -v $v >/dev/null && echo "$v	$($v -v 2>&1 | head -n1)" >>"$out/machine.tsv"; done
echo "run.sh: results in $R and $C" >&2
