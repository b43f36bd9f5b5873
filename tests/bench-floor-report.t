#!/usr/bin/env bash
# bench-floor-report.t: bench/peers/floor-report.pl, on made-up rows whose
# answers are known, and bench/peers/floor.sh's usage errors (a real run
# needs perf and takes minutes: make compare-floor).
#
# Rows: per round, epoll-ref costs 10 µs a request (80% of it socket work),
# "cheap" 8 µs (75%), "dear" 20 µs; round 2 doubles everyone's, so ratios
# within a round stay the same while absolute medians move.
. "$(dirname "$0")/lib.sh"

command -v perl >/dev/null || skip_all "no perl"
tsv=$T/floor.tsv
{
	printf 'round\tload\tserver\tops\tcpu_us_per_op\tsend\treceive\taccept\tclose\tsleep\tserver_code\n'
	for r in 1 2 3; do
		k=1; [ "$r" = 2 ] && k=2
		# load server cpu send receive accept close sleep code (shares, %)
		while read -r load server cpu send recv acc clo slp code; do
			printf '%s\t%s\t%s\t1000\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$load" "$server" \
				"$(awk -v c="$cpu" -v k="$k" 'BEGIN { print c * k }')" "$send" "$recv" "$acc" "$clo" "$slp" "$code"
		done <<'EOF'
pp64 epoll-ref 10 70 10 0 0 1 4
pp64 cheap 8 65 10 0 0 0 1
pp64 dear 20 40 10 0 0 20 10
conn-reset epoll-ref 40 25 5 25 25 10 2
conn-reset cheap 30 30 5 20 20 20 1
EOF
	done
} >"$tsv"

md=$(perl "$TOP/bench/peers/floor-report.pl" "$tsv" 2>&1)
check "floor-report.pl exits 0" perl "$TOP/bench/peers/floor-report.pl" "$tsv"
pp=$(sed -n '/^## 64 persistent/,/^## /p' <<<"$md")
cr=$(sed -n '/^## Short connections/,$p' <<<"$md")
like "$pp" '\| epoll-ref \| 10\.0 \| 7\.00 \| 1\.00 \| 0\.00 \| 0\.00 \| 0\.10 \| 1\.50 \| 0\.40 \| ×1\.00 \(1\.00–1\.00\) \| ×0\.80 ' \
	"epoll-ref: µs per category (medians), events the rest, socket work 80% of its cost"
like "$pp" '\| cheap \| 8\.00 \| 5\.20 \| 0\.80 \| .* \| ×0\.80 \(0\.80–0\.80\) \| ×0\.60 \(0\.60–0\.60\) \|' \
	"cheap: ×0.80 of epoll-ref's cost, its socket work ×0.60, in every round"
like "$pp" '\| dear \| 20\.0 \| .* \| ×2\.00 \(2\.00–2\.00\) \| ×1\.00 ' "dear: ×2.00, socket work ×1.00"
like "$pp" 'socket work alone is ×0\.60 of epoll-ref' "the least socket work: the cheapest server's"
like "$cr" '\| cheap \| 30\.0 \| 9\.00 \| 1\.50 \| 6\.00 \| 6\.00 \| 6\.00 \| 1\.20 \| 0\.30 \| ×0\.75 ' \
	"short connections: accept and close counted, events what is left"
like "$cr" 'socket work alone is ×0\.56 of epoll-ref' "short connections: the least socket work (22.5 of 40)"
unlike "$md" '[Ii]ssue' "no issue numbers in the report"

# What a system call cost, when floor.sh could time it: heads the report.
like "$(perl "$TOP/bench/peers/floor-report.pl" "$tsv" 1066)" '^A system call cost 1\.07 µs on this machine before the run' \
	"the cost of a system call, given, heads the report"
unlike "$md" 'A system call cost' "and is not made up when not given"
perl "$TOP/bench/peers/floor-report.pl" "$tsv" 1.0us >/dev/null 2>&1
is "$?" 2 "a cost that is not a number of ns: an error"
check "syscall-ns.pl prints a number of ns" perl -e 'exit !(`$ARGV[0] 1000` =~ /^\d+\n\z/)' "$TOP/bench/peers/syscall-ns.pl"
perl "$TOP/bench/peers/syscall-ns.pl" 0 >/dev/null 2>&1
check "syscall-ns.pl 0: an error" test "$?" -ne 0

# Without the reference: the table, and no ratios.
grep -v 'epoll-ref' "$tsv" >"$T/noref.tsv"
like "$(perl "$TOP/bench/peers/floor-report.pl" "$T/noref.tsv")" 'No epoll-ref rows: no ratios' "without epoll-ref: says there are no ratios"
printf 'round\tload\n' >"$T/empty.tsv"
perl "$TOP/bench/peers/floor-report.pl" "$T/empty.tsv" >/dev/null 2>&1
is "$?" 2 "no rows: an error"

# floor.sh: help, and usage errors before anything is built or run.
check "floor.sh --help" bash "$TOP/bench/peers/floor.sh" --help
for a in "--rounds 0" "--duration x" "--loads pp65" "--servers nginx" "--servers concurd-fork" "--frob"; do
	# shellcheck disable=SC2086
	bash "$TOP/bench/peers/floor.sh" $a >/dev/null 2>&1
	is "$?" 64 "floor.sh $a: usage error"
done
# perf that cannot sample (not root, a strict perf_event_paranoid): said
# before anything is built or run.
mkdir -p "$T/stub"
printf '#!/bin/sh\necho "perf: no permission" >&2\nexit 255\n' >"$T/stub/perf"
chmod +x "$T/stub/perf"
if command -v jq >/dev/null; then
	out=$(PATH="$T/stub:$PATH" bash "$TOP/bench/peers/floor.sh" --rounds 1 2>&1)
	is "$?" 69 "floor.sh: perf that cannot sample: exit 69"
	like "$out" 'perf cannot sample here: run as root' "... and says what to do"
else
	skip "no jq"; skip "no jq"
fi
done_testing
