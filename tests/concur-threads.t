#!/bin/bash
# concur-threads (the lab's threads): without a mutex updates are lost, with one the count is exact,
# and the pthread_exit values collected by pthread_join add up.
. "$(dirname "$0")/lib.sh"

sum_joined() {	# PREFIX: sum of the join values printed for that run
	grep "^$1 thread [0-9]* joined" | sed 's/.*value \([0-9]*\) .*/\1/' |
		awk '{s += $1} END {print s + 0}'
}
verify() {	# DESCRIPTION COMMAND...: run threads and check its report
	local what=$1; shift
	out=$(timeout 60 "$@"); st=$?
	is "$st" 0 "$what: exit 0"
	exp=$(sed -n 's/.*expected total \([0-9]*\)$/\1/p' <<<"$out")
	un=$(sed -n 's/^without mutex: joined.*counter = \([0-9]*\),.*/\1/p' <<<"$out")
	lk=$(sed -n 's/^with mutex: *joined.*counter = \([0-9]*\),.*/\1/p' <<<"$out")
	check "$what: unlocked total $un < expected $exp" test "${un:-0}" -gt 0 -a "${un:-0}" -lt "$exp"
	is "$lk" "$exp" "$what: locked total == expected"
	is "$(sum_joined 'without mutex:' <<<"$out")" "$exp" "$what: unlocked join values add up"
	is "$(sum_joined 'with mutex:   ' <<<"$out")" "$exp" "$what: locked join values add up"
	like "$out" 'updates lost' "$what: says updates were lost"
}

verify "4 threads x 200000" "$BIN/concur-threads" -t 4 -n 200000
is "$exp" 800000 "expected = threads x loops"
is "$(grep -c '^with mutex: *thread [0-9]* joined' <<<"$out")" 4 "each of the 4 threads joined"
# One CPU: the loss must show there too.
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
	verify "one CPU" taskset -c 0 "$BIN/concur-threads" -t 3 -n 20000
else
	skip "no taskset"
fi

"$BIN/concur-threads" -t 0 2>/dev/null; is "$?" 64 "-t 0: exit 64"
"$BIN/concur-threads" -n x 2>/dev/null; is "$?" 64 "-n x: exit 64"
"$BIN/concur-threads" extra 2>/dev/null; is "$?" 64 "an argument: exit 64"
like "$("$BIN/concur-threads" --version)" '^concur-threads \(concurd\) ' "--version"

done_testing
