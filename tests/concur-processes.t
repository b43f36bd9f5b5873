#!/bin/bash
# concur-processes (the lab's processes): the child changes its copy of test, the parent's stays.
. "$(dirname "$0")/lib.sh"

out=$(timeout 10 "$BIN/concur-processes"); st=$?
is "$st" 0 "exit 0"
is "$(printf '%s\n' "$out" | wc -l | tr -d ' ')" 3 "three lines, even through a pipe (flushed before fork)"
l1=$(sed -n 1p <<<"$out"); l2=$(sed -n 2p <<<"$out"); l3=$(sed -n 3p <<<"$out")
like "$l1" '^parent \(pid [0-9]+\): test = 1 before fork\(\)$' "parent first: test = 1"
like "$l2" '^child  \(pid [0-9]+, parent [0-9]+\): test = 2 ' "child: test = 2"
like "$l3" '^parent \(pid [0-9]+\): test = 1 after the child [0-9]+ exited' "parent after waitpid: test = 1"
ppid=$(sed -n 's/^parent (pid \([0-9]*\)).*/\1/p' <<<"$l1")
cpid=$(sed -n 's/^child  (pid \([0-9]*\), parent \([0-9]*\)).*/\1/p' <<<"$l2")
cparent=$(sed -n 's/^child  (pid \([0-9]*\), parent \([0-9]*\)).*/\2/p' <<<"$l2")
cv=$(sed -n 's/.*test = \([0-9]*\).*/\1/p' <<<"$l2")
pv=$(sed -n 's/.*test = \([0-9]*\).*/\1/p' <<<"$l3")
check "the child's value ($cv) differs from the parent's ($pv)" [ "$cv" != "$pv" ]
check "two different processes" test -n "$cpid" -a "$cpid" != "$ppid"
is "$cparent" "$ppid" "the child's parent is the parent"
like "$l3" "after the child $cpid exited" "the parent waited for that child"

"$BIN/concur-processes" extra 2>/dev/null; is "$?" 64 "an argument: exit 64"
like "$("$BIN/concur-processes" --version)" '^concur-processes \(concurd\) ' "--version"
"$BIN/concur-processes" --help >/dev/null; is "$?" 0 "--help exits 0"

done_testing
