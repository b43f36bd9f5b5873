#!/bin/bash
# --histogram and --merge: two runs' files merge into one report whose counts
# are the sums and whose percentiles are those of the two histograms taken
# together (checked here by an independent awk computation over the bucket
# lines); a one-file merge reproduces the run's own report; a damaged file
# is refused.
. "$(dirname "$0")/lib.sh"

CB=$BIN/concurbench
SRV=$HELP/bench_testsrv
[ -x "$CB" ] || skip_all "bin/concurbench is not built"
[ -x "$SRV" ] || skip_all "build/tests/bench_testsrv is not built (make tools)"
command -v jq >/dev/null || skip_all "jq is not installed"

start_server "$T/echo.log" "$SRV" -m echo || exit 1

"$CB" 127.0.0.1 "$PORT" -n 3000 -c 8 --json --histogram "$T/a.hist" >"$T/a.json" 2>/dev/null
is "$?" 0 "run A"
"$CB" 127.0.0.1 "$PORT" -n 2000 -c 2 -s 1k --json --histogram "$T/b.hist" >"$T/b.json" 2>/dev/null
is "$?" 0 "run B"
head -n1 "$T/a.hist" | grep -q '^concurbench-histogram 2$'
ok $? "histogram file has its header"

# A one-file merge is the run itself.
"$CB" --merge "$T/a.hist" --json >"$T/a1.json"
is "$?" 0 "--merge of one file: exit 0"
for f in requests issued errors.total latency_us.count latency_us.p50 latency_us.p99 latency_us.p99.9 latency_us.max bytes_sent; do
	q=".$(sed 's/\.\(p[0-9.]*\)$/["\1"]/' <<<"$f")"
	is "$(jq -r "$q" "$T/a1.json")" "$(jq -r "$q" "$T/a.json")" "one-file merge: $f as in the run"
done

"$CB" --merge "$T/a.hist" "$T/b.hist" --json >"$T/m.json" 2>"$T/merr"
is "$?" 0 "--merge of two files: exit 0"
like "$(cat "$T/merr")" 'message size 1024 differs from 64' "merge warns when message sizes differ"
is "$(jq -r .runs "$T/m.json")" 2 "merged: runs = 2"
is "$(jq -r .requests "$T/m.json")" 5000 "merged: requests = 3000 + 2000"
is "$(jq -r .latency_us.count "$T/m.json")" 5000 "merged: 5000 latencies"
is "$(jq -r .bytes_sent "$T/m.json")" $((3000 * 64 + 2000 * 1024)) "merged: bytes are summed"
is "$(jq -r .parameters.connections "$T/m.json")" 10 "merged: connections are summed"
is "$(jq -r '.latency_us.max' "$T/m.json")" "$(jq -s -r 'map(.latency_us.max) | max' "$T/a.json" "$T/b.json")" "merged: max is the larger max"
is "$(jq -r '.latency_us.min' "$T/m.json")" "$(jq -s -r 'map(.latency_us.min) | min' "$T/a.json" "$T/b.json")" "merged: min is the smaller min"
rate=$(jq -s -r 'map(.requests_per_s) | add' "$T/a.json" "$T/b.json")
awk -v a="$rate" -v b="$(jq -r .requests_per_s "$T/m.json")" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }'
ok $? "merged: rate is the sum of the runs' rates"

# Percentiles of the union of both files' buckets, computed independently:
# bucket midpoint at rank ceil(p * count), clamped to [min, max].
pct() {	# pct P FILE...
	awk -v p="$1" '
	$1 == "bucket" { n[$2] += $4; hi[$2] = $3; total += $4 }
	$1 == "hist" && $2 == "min_ns" { if (mn == "" || $3 < mn) mn = $3 }
	$1 == "hist" && $2 == "max_ns" { if ($3 > mx) mx = $3 }
	END {
		r = p / 100 * total; rank = int(r); if (rank < r) rank++; if (rank < 1) rank = 1
		k = 0; for (lo in n) keys[k++] = lo + 0
		# sort bucket lows numerically
		for (i = 1; i < k; i++) { v = keys[i]; for (j = i - 1; j >= 0 && keys[j] > v; j--) keys[j+1] = keys[j]; keys[j+1] = v }
		for (i = 0; i < k; i++) { cum += n[keys[i]]; if (cum >= rank) break }
		lo = keys[i]; v = lo + int((hi[lo] - lo) / 2)
		if (v < mn) v = mn; if (v > mx) v = mx
		printf "%.3f\n", v / 1000
	}' "${@:2}"
}
for p in 50 90 99 99.9 99.99; do
	# Both sides as %.3f: jq drops trailing zeros (3592.290 -> 3592.29).
	is "$(jq -r ".latency_us[\"p$p\"]" "$T/m.json" | awk '{ printf "%.3f\n", $1 }')" \
	    "$(pct "$p" "$T/a.hist" "$T/b.hist")" "merged p$p = p$p of both histograms together"
done
# ...and it lies between the two runs' own percentiles, as it must.
for p in 50 99; do
	awk -v m="$(jq -r ".latency_us.p$p" "$T/m.json")" -v a="$(jq -r ".latency_us.p$p" "$T/a.json")" \
	    -v b="$(jq -r ".latency_us.p$p" "$T/b.json")" 'BEGIN { lo = a < b ? a : b; hi = a < b ? b : a; exit !(m >= lo * 0.99 && m <= hi * 1.01) }'
	ok $? "merged p$p lies between the runs' p$p"
done

# Merging merged files is the same as merging the originals.
"$CB" --merge "$T/a.hist" "$T/b.hist" --histogram "$T/ab.hist" >/dev/null 2>&1
"$CB" --merge "$T/ab.hist" --json >"$T/ab.json"
is "$(jq -c '[.requests, .latency_us]' "$T/ab.json")" "$(jq -c '[.requests, .latency_us]' "$T/m.json")" "a merged file merges like its parts"

# Text output of a merge.
out=$("$CB" --merge "$T/a.hist" "$T/b.hist" 2>/dev/null)
like "$out" 'merged from 2 runs' "text: says it is a merge"
like "$out" 'requests +5000 in' "text: merged request count"

# Damaged or foreign files are refused with a message.
head -n 20 "$T/a.hist" >"$T/short.hist"
"$CB" --merge "$T/short.hist" >/dev/null 2>"$T/err"
is "$?" 65 "truncated file: exit 65"
like "$(cat "$T/err")" 'truncated|inconsistent' "truncated file: says so"
sed 's/^bucket \([0-9]*\) /bucket \1 1/' "$T/a.hist" >"$T/bad.hist"
"$CB" --merge "$T/bad.hist" >/dev/null 2>"$T/err"
is "$?" 65 "bucket bounds not ours: exit 65"
echo hello >"$T/foreign"
"$CB" --merge "$T/foreign" >/dev/null 2>"$T/err"
is "$?" 65 "not a histogram: exit 65"
"$CB" --merge "$T/nonexistent" >/dev/null 2>"$T/err"
is "$?" 65 "missing file: exit 65"
like "$(cat "$T/err")" 'nonexistent: No such file' "missing file: says which"

done_testing
