#!/usr/bin/env bash
# ops-metrics.t: --metrics ADDRESS:PORT, scraped for real with curl.
#
#   - the answer is HTTP 200 in the Prometheus text format (0.0.4), or
#     OpenMetrics 1.0 when the scraper's Accept asks for it; both parsed by
#     the Prometheus client library's own parsers (python3-prometheus-
#     client), the OpenMetrics one strict, and every sample line checked
#     against the format's grammar here;
#   - its counters are the stats line's: after connections, a --per-ip
#     refusal and bytes, SIGUSR1's line and a scrape say the same;
#   - the counts of forked children (shared memory) and a pool's busy
#     workers show; an overload episode (EMFILE under ulimit -n) is
#     counted;
#   - HEAD, 404, 405; a taken port or a malformed ADDRESS:PORT stops
#     concurd at start with a message.
. "$(dirname "$0")/lib.sh"

CL=$HELP/ops_client
[ -x "$CL" ] || skip_all "$CL is not built (make tools)"
command -v curl >/dev/null || skip_all "curl is not installed (contrib/debian-deps.sh --tests)"
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client' 2>/dev/null || PY=

# start LOG ARGS...: a concurd with --metrics 127.0.0.1:0; sets MPORT too.
start() {
	local log=$1; shift
	start_server "$log" "$@" --metrics 127.0.0.1:0 || return 1
	MPORT=$(sed -n 's/.*metrics on 127\.0\.0\.1 port \([0-9]*\) .*/\1/p' "$log")
	[ -n "$MPORT" ]
}
scrape() { curl -s --max-time 5 "$@" "http://127.0.0.1:$MPORT/metrics"; }
value() {	# value TEXT SAMPLE: the value of one sample line
	awk -v s="$2" '$1 == s { print $2 }' <<<"$1"
}
stat_field() { sed -n "s/.*[ (]$2=\([0-9]*\).*/\1/p" <<<"$1"; }
# grammar: comments are HELP/TYPE (or EOF), samples NAME{LABELS} VALUE,
# and every sample belongs to the family TYPE named before it.
grammar() {
	awk -v om="$2" '
	/^# (HELP|TYPE) / { if ($2 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) bad = bad " name:" NR
		if ($2 == "TYPE") fam = $3; next }
	/^# EOF$/ { eof = NR; next }
	/^#/ { bad = bad " comment:" NR; next }
	{ if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? -?[0-9.e+]+$/)
		bad = bad " sample:" NR
	  n = $1; sub(/\{.*/, "", n)
	  if (n != fam && n != fam "_total") bad = bad " family:" NR }
	END { if (om == 1 && eof != NR) bad = bad " no-EOF"
	      if (om == 0 && eof) bad = bad " EOF-in-0.0.4"
	      print bad == "" ? "ok" : "bad" bad }' <<<"$1"
}

start "$T/e.log" "$BIN/concurd" -m epoll -b 127.0.0.1 -p 0 --per-ip 1 || { fail "concurd --metrics starts"; exit 1; }
pass "concurd --metrics 127.0.0.1:0 says where: port $MPORT"
hdr=$(curl -s --max-time 5 -D - -o "$T/body" "http://127.0.0.1:$MPORT/metrics" | tr -d '\r')
like "$hdr" '^HTTP/1\.0 200 OK' "a scrape: 200 OK"
like "$hdr" '^Content-Type: text/plain; version=0\.0\.4; charset=utf-8$' "in the Prometheus text format 0.0.4"
is "$(grammar "$(cat "$T/body")" 0)" ok "every line fits the text format's grammar"

# Traffic: three echoes, a held connection, and a second of its client's
# refused by --per-ip 1.
for i in 1 2 3; do "$CL" talk 127.0.0.1 "$PORT" -d $'metrics\n' >/dev/null; done
exec {H}<>/dev/tcp/127.0.0.1/"$PORT"
printf 'held\n' >&"$H"; read -r -t 5 _ <&"$H"
"$CL" talk 127.0.0.1 "$PORT" -d $'refused\n' >/dev/null 2>&1
wait_for 5 eval '[ "$(value "$(scrape)" concurd_connections_served_total)" = 3 ]'
kill -USR1 "$SERVER_PID"
wait_for 5 grep -q 'stats:' "$T/e.log"
line=$(grep 'stats:' "$T/e.log" | tail -n1)
m=$(scrape)
for pair in active:concurd_connections_active accepted:concurd_connections_accepted_total \
	served:concurd_connections_served_total per_ip:'concurd_connections_refused_total{reason="per_ip"}' \
	acl:'concurd_connections_refused_total{reason="acl"}' proxy:'concurd_connections_refused_total{reason="proxy"}' \
	timeouts:concurd_connection_timeouts_total errors:concurd_connection_errors_total \
	resets:concurd_connection_resets_total bytes_in:concurd_received_bytes_total \
	bytes_out:concurd_sent_bytes_total; do
	f=${pair%%:*} s=${pair#*:}
	is "$(value "$m" "$s")" "$(stat_field "$line" "$f")" "$s is the stats line's $f ($(stat_field "$line" "$f"))"
done
is "$(value "$m" concurd_connections_active) $(value "$m" concurd_connections_served_total) $(value "$m" 'concurd_connections_refused_total{reason="per_ip"}') $(value "$m" concurd_received_bytes_total)" \
	"1 3 1 24" "and the values are right: 1 active, 3 served, 1 refused by --per-ip, 24 bytes in"
like "$m" 'concurd_server\{model="epoll",service="echo",version="[0-9.]+"\} 1' "which model and service"
like "$m" 'concurd_cpu_seconds_total\{mode="user"\} [0-9.]+' "CPU seconds by mode"
like "$m" 'concurd_worker_connections_total\{worker="0"\} 4' "the per-worker spread (4 connections taken; the refused one is not)"
exec {H}>&-

# OpenMetrics, when asked.
hdr=$(curl -s --max-time 5 -D - -o "$T/om" -H 'Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5' \
	"http://127.0.0.1:$MPORT/metrics" | tr -d '\r')
like "$hdr" '^Content-Type: application/openmetrics-text; version=1\.0\.0; charset=utf-8$' \
	"Accept: application/openmetrics-text gets OpenMetrics"
is "$(tail -n1 "$T/om")" "# EOF" "which ends with # EOF"
is "$(grammar "$(cat "$T/om")" 1)" ok "every OpenMetrics line fits the grammar"
if [ -n "$PY" ]; then
	out=$("$PY" - "$T/body" "$T/om" <<'PYEOF' 2>&1
import sys
from prometheus_client.parser import text_string_to_metric_families as prom
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
p = list(prom(open(sys.argv[1]).read()))
o = list(om(open(sys.argv[2]).read()))
print(len(p), len(o), sum(len(f.samples) for f in o))
PYEOF
)
	like "$out" '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]*$' "both parse with the Prometheus client's parsers, OpenMetrics strictly ($out: families, families, samples)"
else
	skip "python3-prometheus-client is not installed: the parsers' check (contrib/debian-deps.sh --tests)"
fi

# HTTP details.
is "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other")" 404 "another path: 404"
is "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")" 405 "POST: 405"
is "$(curl -s --max-time 5 -I "http://127.0.0.1:$MPORT/metrics" | head -n1 | tr -d '\r')" "HTTP/1.0 200 OK" "HEAD: 200"
stop_server
is "$SERVER_STATUS" 0 "stops with 0"

# A process model: the children's counts, through the shared counters; a
# pool's busy workers.
start "$T/f.log" "$BIN/concurd" -m prefork -w 2 -b 127.0.0.1 -p 0 || fail "prefork --metrics starts"
"$CL" talk 127.0.0.1 "$PORT" -d $'child\n' >/dev/null
exec {H}<>/dev/tcp/127.0.0.1/"$PORT"
printf 'busy\n' >&"$H"; read -r -t 5 _ <&"$H"
m=$(scrape)
is "$(value "$m" concurd_connections_served_total) $(value "$m" concurd_connections_active) $(value "$m" concurd_workers_busy)" \
	"1 1 1" "prefork: served 1 and 1 active (counted by the children), 1 worker busy"
exec {H}>&-
stop_server

# An overload episode: out of descriptors (ulimit -n 40, 60 clients).
if start "$T/o.log" bash -c 'ulimit -n 40 && exec "$0" "$@"' "$BIN/concurd" -m epoll -w 1 -b 127.0.0.1 -p 0; then
	mkfifo "$T/hold"
	exec {HF}<>"$T/hold"
	"$CL" conns 127.0.0.1 "$PORT" 60 -w 1000 -H <"$T/hold" >"$T/flood" {HF}>&- &
	track $!
	wait_for 10 grep -q 'echo=' "$T/flood"
	wait_for 5 grep -q 'pausing' "$T/o.log"
	exec {HF}>&-
	wait_for 10 eval '[ "$(value "$(scrape)" '"'"'concurd_overload_episodes_total{kind="accept"}'"'"')" = 1 ]'
	is "$(value "$(scrape)" 'concurd_overload_episodes_total{kind="accept"}')" 1 \
		"an EMFILE episode is counted once (concurd_overload_episodes_total)"
	stop_server
else
	fail "concurd with ulimit -n 40 starts"
fi

# Start-up errors.
start_server "$T/h.log" "$BIN/concurd" -b 127.0.0.1 -p 0 || fail "a holder"
out=$("$BIN/concurd" -b 127.0.0.1 -p 0 --metrics "127.0.0.1:$PORT" 2>&1); st=$?
is "$st:$out" "69:concurd: --metrics 127.0.0.1:$PORT: cannot listen: Address already in use" \
	"--metrics on a taken port: says so, exit 69"
stop_server
for bad in 9100 127.0.0.1 '[::1]9100' 127.0.0.1:99999 a:b:c; do
	"$BIN/concurd" -p 0 --metrics "$bad" >/dev/null 2>&1
	is "$?" 64 "--metrics $bad: usage error"
done
done_testing
