#!/usr/bin/env bash
# bench-peers-report.t: bench/peers/report.pl writes docs/peers.md, so what
# it says is checked here, on a small run of made-up rows: no internal
# references, commands a user can run, one verdict per target.
#
# The rows reproduce a case a real run met: on a short-connection load
# concurd-epoll-w1 meets the target in µs (14.7 ≤ 20) but not restated as
# a ratio to the reference (its CPU ×1.00 of epoll-ref's, not ≤ ×0.80),
# while concurd-uring-w1 is a little cheaper (×0.98) but slower (rate
# ×0.96).
. "$(dirname "$0")/lib.sh"

command -v perl >/dev/null || skip_all "no perl"
RUN=$T/run OUT=$T/out
mkdir -p "$RUN" "$OUT"
printf '%s\t%s\n' command 'make compare-peers  # bench/peers/run.sh --rounds 3 --duration 4' \
	cpu 'Test CPU' cores 2 kernel 'Linux 6.1' date '2030-01-01 00:00 UTC' \
	load_before '0.1 0.1 0.1' load_after '0.2 0.2 0.2' rounds 3 duration 4 warmup 1 \
	idle_conns 100 idle_period 4 sweep_duration 2 sweep_conns 4 port_range '32768 60999' \
	tw_reuse 2 concurd 0000000 versions 'socat 1, xinetd 2' \
	syscall_ns_before 1066 syscall_ns_after 1012 >"$RUN/machine.tsv"
{
	printf 'round\tload\tsize\tserver\trequests\trate\tp50_us\tp99_us\trx_bytes_per_s\terrors\tserver_cpu_s\tclient_cpu_us_per_req\n'
	for r in 1 2 3; do
		# load server requests rate rx_bytes_per_s server_cpu_s
		while read -r load server req rate rx cpu; do
			printf '%s\t%s\t-\t%s\t%s\t%s\t50\t90\t%s\t0\t%s\t5\n' "$r" "$load" "$server" "$req" "$rate" "$rx" "$cpu"
		done <<'EOF'
pp64 epoll-ref 400000 100000 6400000 2.244
pp64 concurd-epoll-w1 400000 100000 6400000 2.2
pp64 concurd-uring-w1 568000 142000 9088000 2.4
conn-reset epoll-ref 100000 25000 1600000 1.47
conn-reset concurd-epoll-w1 101000 25250 1616000 1.4847
conn-reset concurd-uring-w1 96000 24000 1536000 1.3824
conn-reset xinetd 16000 4000 256000 6.752
conn-reset concurd-fork 25000 6250 400000 6.125
stream epoll-ref 1000 250 2360000000 1.0
stream libuv 1000 250 1840000000 1.0
stream concurd-fork 1000 250 2720000000 1.0
stream concurd 1000 250 1000000000 1.0
EOF
		# The client load: generator requests rate client_cpu_us_per_req
		while read -r gen req rate ccpu; do
			printf '%s\tclient\t-\t%s\t%s\t%s\t0\t0\t0\t0\t2.0\t%s\n' "$r" "$gen" "$req" "$rate" "$ccpu"
		done <<'EOF'
ref-pingpong 584000 146000 6.4
concurbench 632000 158000 6.0
concurbench-epoll 540000 135000 6.9
EOF
	done
} >"$RUN/results.tsv"
printf 'round\tserver\tconns\testablished\trss0_kb\trss1_kb\tbytes_per_conn\terrors\n' >"$RUN/idle.tsv"

out=$(perl "$TOP/bench/peers/report.pl" "$RUN" "$OUT" 2>&1)
[ -n "${KEEP_REPORT:-}" ] && cp "$OUT/peers.md" "$KEEP_REPORT"
# gnuplot draws the charts; without it the report is still written.
check "report.pl writes peers.md" test -s "$OUT/peers.md"
[ -s "$OUT/peers.md" ] || diag "$out"
md=$(cat "$OUT/peers.md" 2>/dev/null)

unlike "$md" '[Ii]ssue' "no issue numbers or 'the issue' in the report"
like "$md" '\| a system call, before / after \(getppid\(2\), timed\) \| 1\.07 / 1\.01 µs \|' \
	"the machine table gives what a system call cost, before and after"
like "$md" '\*\*System calls\.\*\*.*floor\.md' "and says why it matters, pointing at floor.md"
unlike "$md" '\| concurd \|  \|' "concurd as shipped is described in the table of servers"
unlike "$md" 'one loop per core' "and its loops as they are: one to start with, not one per core"

unlike "$md" '`concurd -m [a-z]+-w[0-9]' "no '-m MODEL-wN': that is not a model"
like "$md" '\| concurd-epoll-w1 \| `concurd -m epoll -w 1`' "concurd-epoll-w1 is shown as concurd -m epoll -w 1"
models=" $("$BIN/concurd" --list 2>/dev/null | awk '$1 == "model" { printf "%s ", $2 }')"
known() { [[ $models == *" $1 "* ]]; }
for m in $(grep -oE '`concurd -m [a-z0-9-]+' <<<"$md" | awk '{print $3}' | sort -u); do
	check "concurd -m $m: a model concurd knows" known "$m"
done

# The targets table: one verdict per row, about one configuration.
rows=$(sed -n '/^## Targets/,/^## /p' <<<"$md" | grep '^| ' | tail -n +2 | grep -v '^|---')
check "the targets table has rows" test -n "$rows"
while IFS= read -r row; do
	[ -n "$row" ] || continue
	n=$(grep -oE '\*\*(not )?met\*\*' <<<"$row" | wc -l)
	is "$n" 1 "one verdict in: $(cut -c1-60 <<<"$row")"
	srv=$(grep -oE 'concurd-[a-z0-9-]+' <<<"$row" | sort -u | wc -l)
	check "one concurd configuration in: $(cut -c1-60 <<<"$row")" test "$srv" -le 1
done <<<"$rows"
reset=$(grep '^| short connections, reset close' <<<"$rows")
like "$reset" 'concurd-epoll-w1' "reset close: about the configuration that meets the µs target"
like "$reset" '\*\*not met\*\*' "reset close: not met, since the ratio to epoll-ref is not"
like "$reset" '×0\.80' "... and it says which reading fails"
like "$(grep '^| 64 persistent' <<<"$rows")" '\*\*met\*\*' "64 B ping-pong: met (both readings)"

# The load generator: its own target and table, and no generator among the
# servers.
gen=$(grep '^| the load generator' <<<"$rows")
like "$gen" 'rate ×1\.08, client CPU ×0\.94 \| \*\*met\*\*' "the generator target: ratios within rounds, met"
like "$md" '\| concurbench --io epoll \| 135,000[^|]* \| 6\.90[^|]* \| 0\.92 \| 1\.08 \|' "the generator table has the epoll loop beside the reference"
servers=$(sed -n '/^## The servers/,/^## /p' <<<"$md")
unlike "$servers" 'ref-pingpong|concurbench' "generators are not listed as servers"
done_testing
