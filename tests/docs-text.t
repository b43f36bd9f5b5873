#!/usr/bin/env bash
# docs-text.t: what the docs say about the programs is what they do, and
# the docs speak to users, not to the project's own bookkeeping.
#
#   - No issue numbers ("issue 8"), no "the issue", no paths a user does
#     not have (the project's working folders), in README.md, docs/,
#     lab/*.md, the lab scripts' headers (they print them), man/,
#     contrib/, or any program's --help.
#   - Every `concurd: stats:` and `concurd: summary:` line shown has the
#     fields concurd prints, in its order (a line cut short with "..."
#     has their beginning).
#   - Every `concurd ... -m MODEL` and `-s SERVICE` shown names a model
#     or service of `concurd --list`.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "concurd is not built"

# --- user-facing text ---------------------------------------------------------
files=("$TOP/README.md")
while IFS= read -r f; do files+=("$f"); done < <(
	find "$TOP/docs" "$TOP/lab" -name '*.md'
	find "$TOP/man" "$TOP/contrib" -type f
	ls "$TOP"/lab/*.sh)
texts=$T/texts
mkdir -p "$texts"
for f in "${files[@]}"; do
	rel=${f#"$TOP"/}
	case $f in
	*.sh)	# the header comment, which the scenario prints
		sed -n '2,/^[^#]/{/^#/!q;p}' "$f" ;;
	*)	cat "$f" ;;
	esac >"$texts/${rel//\//%}"
done
for p in "$TOP"/programs/*/; do
	p=$(basename "$p")
	[ -x "$BIN/$p" ] && "$BIN/$p" --help >"$texts/bin%$p --help" 2>&1
done
internal='[Ii]ssues? #?[0-9]+|\b[Tt]he issue\b|\.\./shared|shared/seed|/work/|\bwt-[a-z]+[0-9]+'
hits=$(cd "$texts" && grep -HnE "$internal" -- * | sed 's/%/\//g')
is "$hits" "" "no issue numbers or internal paths in user-facing text (${#files[@]} files, every --help)"

# --- the stats and summary lines ------------------------------------------------
keys() { grep -oE '[a-z_]+=' | tr -d = | tr '\n' ' '; }
start_server "$T/srv.log" "$BIN/concurd" -m fork -b 127.0.0.1 -p 0 || { fail "concurd starts"; done_testing; exit 1; }
kill -USR1 "$SERVER_PID"
wait_for 5 grep -q 'stats:' "$T/srv.log"
stop_concurd
real_stats=$(grep -m1 'concurd: stats:' "$T/srv.log" | sed 's/.*stats://' | keys)
real_summary=$(grep -m1 'concurd: summary:' "$T/srv.log" | sed 's/.*summary://' | keys)
check "concurd printed a stats line and a summary" test -n "$real_stats" -a -n "$real_summary"
n=0
while IFS= read -r hit; do
	[ -n "$hit" ] || continue
	where=${hit%%:concurd: *}
	where=${where%:*}
	line=${hit#*concurd: }
	kind=${line%%:*}
	shown=$(sed "s/^$kind://" <<<"$line" | keys)
	if [ "$kind" = stats ]; then real=$real_stats; else real=$real_summary; fi
	n=$((n + 1))
	if [[ $line == *... ]]; then
		check "${where#"$TOP"/}: the $kind line shown begins as concurd's ($shown...)" \
			test "${real#"$shown"}" != "$real" -o -z "$shown"
	else
		is "$shown" "$real" "${where#"$TOP"/}: the $kind line shown has concurd's fields"
	fi
done < <(grep -nE '^([0-9T:.-]+ )?concurd: (stats|summary): ' "${files[@]}" | grep -v '\.sh:')
check "the docs show stats and summary lines ($n)" test "$n" -ge 3

# --- models and services named ----------------------------------------------------
list=$("$BIN/concurd" --list)
models=" $(awk '$1 == "model" { printf "%s ", $2 }' <<<"$list")"
services=" $(awk '$1 == "service" { printf "%s ", $2 }' <<<"$list")"
n=0
while IFS= read -r use; do
	[ -n "$use" ] || continue
	opt=$(sed -E 's/^ *(-m|--model|-s|--service)[ =].*/\1/' <<<"$use")
	name=$(sed -E 's/^ *(-m|--model|-s|--service)[ =]//' <<<"$use")
	n=$((n + 1))
	case $opt in
	-m|--model) [[ $models == *" $name "* ]]; ok $? "concurd $opt $name: a model concurd knows" ;;
	*) [[ $services == *" $name "* ]]; ok $? "concurd $opt $name: a service concurd knows" ;;
	esac
done < <(for f in "${files[@]}"; do sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$f"; done |
	grep -oE '\bconcurd( [^`|;&()]*)?' |
	grep -oE '(^| )(-m|--model|-s|--service)[ =][a-z][a-z0-9-]*' | sort -u)
check "the docs name models and services ($n)" test "$n" -ge 10
done_testing
