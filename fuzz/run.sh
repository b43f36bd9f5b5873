#!/bin/sh
# fuzz/run.sh NAME SECS: fuzz build-fuzz/NAME for SECS seconds from its
# seeds (fuzz/corpus/NAME) and what earlier runs found (build-fuzz/corpus/
# NAME, not in the repo).  fuzz/run.sh NAME replay: run every seed and every
# past crash (fuzz/regress/NAME) once.  Exit 1 on a crash, a leak, a hang
# (10 s for one input) or an out-of-memory (2 GiB): the input that did it is
# in build-fuzz/artifacts/NAME/; copy it to fuzz/regress/NAME/ and commit it
# with the fix, so make fuzz-regress replays it from then on.
set -u
name=$1 secs=$2
bin=build-fuzz/$name
[ -x "$bin" ] || { echo "fuzz: $bin is not built (make fuzz-build)" >&2; exit 1; }
opts="-timeout=10 -rss_limit_mb=2048"
case $name in
# cmdline prints usage text by the thousand; jumping out of main() leaves
# its --allow/--deny table behind (see fuzz/cmdline.c).
cmdline) opts="$opts -close_fd_mask=3 -detect_leaks=0"
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	export ASAN_OPTIONS ;;
esac
mkdir -p build-fuzz/corpus/"$name" build-fuzz/artifacts/"$name" fuzz/regress/"$name"
if [ "$secs" = replay ]; then
	log=build-fuzz/$name.regress.log
	# shellcheck disable=SC2086
	if ! "$bin" -runs=0 $opts fuzz/corpus/"$name" fuzz/regress/"$name" >"$log" 2>&1; then
		tail -n 40 "$log"
		echo "fuzz-regress: $name FAILED"
		exit 1
	fi
	echo "fuzz-regress: $name: $(ls fuzz/corpus/"$name" | wc -l) seeds and" \
	    "$(ls fuzz/regress/"$name" | wc -l) regression inputs replayed: ok"
	exit 0
fi
log=build-fuzz/$name.log
# shellcheck disable=SC2086
if ! "$bin" -max_total_time="$secs" -print_final_stats=1 $opts \
    -artifact_prefix=build-fuzz/artifacts/"$name"/ \
    build-fuzz/corpus/"$name" fuzz/corpus/"$name" >"$log" 2>&1; then
	tail -n 40 "$log"
	echo "fuzz: $name FAILED; the input: $(ls build-fuzz/artifacts/"$name"/ | head -n 3)"
	echo "fuzz: copy it to fuzz/regress/$name/ (make fuzz-regress replays it)"
	exit 1
fi
echo "fuzz: $name: ${secs} s, $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs," \
    "$(ls build-fuzz/corpus/"$name" | wc -l) corpus entries: ok"
