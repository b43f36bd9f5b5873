#!/bin/bash
# --hgrm writes HdrHistogram's percentile distribution (.hgrm, as wrk2 and
# HdrHistogram's plotter read it): its layout, and its numbers checked
# against the run's own histogram file by an independent awk computation --
# each row's TotalCount is the count of samples in the buckets up to the
# one that holds its value, levels rise to 1.0, the last row is the max.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1

"$CB" 127.0.0.1 "$PORT" -n 5000 -c 8 --json --histogram "$T/a.hist" --hgrm "$T/a.hgrm" >"$T/a.json" 2>/dev/null
is "$?" 0 "a run with --hgrm: exit 0"
H=$T/a.hgrm
is "$(head -n1 "$H")" "       Value     Percentile TotalCount 1/(1-Percentile)" "the header line"
is "$(sed -n 2p "$H")" "" "a blank line after it"
rows=$(grep -cE '^ +[0-9]+\.[0-9]{3} [01]\.[0-9]{12} +[0-9]+ +[0-9]+\.[0-9]{2}$' "$H")
ok $(( rows > 20 ? 0 : 1 )) "rows of value, level, count, 1/(1-level) ($rows)"
like "$(grep -v '^#' "$H" | tail -n1)" '^ +[0-9.]+ 1\.000000000000 +5000$' "the last row: level 1, all 5000"
like "$(sed -n '/^#\[Mean/p' "$H")" '^#\[Mean    = +[0-9.]+, StdDeviation   = +[0-9.]+\]$' "footer: mean and deviation"
like "$(sed -n '/^#\[Max/p' "$H")" '^#\[Max     = +[0-9.]+, Total count    = +5000\]$' "footer: max and count"
like "$(sed -n '/^#\[Buckets/p' "$H")" '^#\[Buckets = +[0-9]+, SubBuckets     = +[0-9]+\]$' "footer: layout"
max_ms=$(jq -r '.latency_us.max / 1000' "$T/a.json")
awk -v m="$max_ms" '/^#\[Max/ { v = $3 + 0; exit !(v > m - 0.0011 && v < m + 0.0011) }' "$H"
ok $? "the max is the run's max ($max_ms ms)"

# Levels never fall, counts never fall, and each count is that of the
# buckets up to the value's (from the --histogram file; the value is
# printed to the microsecond, so to within the buckets that 0.5 us either
# side of it touches).
awk 'NR == FNR { if ($1 == "bucket") { lo[++n] = $2; hi[n] = $3; c[n] = $4 } next }
     /^ +[0-9]/ && NF >= 3 {
	v = $1 * 1e6; least = 0; most = 0
	for (i = 1; i <= n; i++) { if (hi[i] < v - 500) least += c[i]; if (lo[i] <= v + 500) most += c[i] }
	if ($2 + 0 < lastp || $3 + 0 < lastc) { print "falls at " $0; bad = 1 }
	if ($3 + 0 < least || $3 + 0 > most) { print "row " $0 ": count " $3 ", buckets say " least "-" most; bad = 1 }
	lastp = $2 + 0; lastc = $3 + 0
     }
     END { exit bad }' "$T/a.hist" "$H" >"$T/awk.out"
ok $? "every row's count is that of the buckets up to its value"
[ -s "$T/awk.out" ] && diag "$(head -n 3 "$T/awk.out")"
# The row at level 0.5 holds the median the JSON reports (to a bucket:
# the buckets are 1% wide, and the two may name neighbouring ones).
awk -v p50="$(jq -r '.latency_us.p50 / 1000' "$T/a.json")" '/^ +[0-9]/ && $2 + 0 >= 0.5 { exit !($1 >= p50 * 0.975 && $1 <= p50 * 1.025) }' "$H"
ok $? "the 0.5 row is the median"

# On standard output instead of the report; and from a merge.
out=$("$CB" 127.0.0.1 "$PORT" -n 100 -c 2 --hgrm - 2>/dev/null)
like "$(head -n1 <<<"$out")" 'Value +Percentile +TotalCount' "--hgrm -: the distribution on stdout"
unlike "$out" 'latency \(us\)' "--hgrm -: instead of the report"
"$CB" --merge "$T/a.hist" "$T/a.hist" --hgrm "$T/m.hgrm" >/dev/null 2>&1
like "$(grep -v '^#' "$T/m.hgrm" | tail -n1)" ' 10000$' "--merge --hgrm: the merged distribution"

done_testing
