#!/bin/bash
# bench/files/turn.sh: what one download costs the other clients of an
# event loop.  concurd -m MODEL -w 1 serves a 1 KiB file to 64 keep-alive
# clients at 2,000 requests/s (concurbench, open loop, 5 s) while curl
# downloads a 512 MiB file from the page cache again and again, as fast as
# loopback takes it; then one download alone (concurbench, every byte
# checked).  Each concurd binary given is run in turn, rounds alternating.
#
#   bench/files/turn.sh [--rounds N] [--model M] CONCURD...
#
# Prints a line per round and binary: the small clients' p50 and p99 (µs)
# beside the downloads, and the single download's MB/s.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CB=${O:-$ROOT/bin}/concurbench
rounds=5 model=epoll
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--model) model=$2; shift 2 ;;
	-h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: turn.sh [--rounds N] [--model M] CONCURD..." >&2; exit 64; }
command -v jq >/dev/null && command -v curl >/dev/null ||
	{ echo "turn.sh: needs jq and curl" >&2; exit 69; }
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-turn.XXXXXX")
S=
trap '[ -n "$S" ] && kill "$S" 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/www"
head -c 1024 /dev/urandom >"$W/www/1k.bin"
head -c 512M /dev/urandom >"$W/www/big.bin"
cat "$W/www/big.bin" >/dev/null
printf 'round\tbinary\tp50_us\tp99_us\terrors\tdownload_MBps\n'
for round in $(seq 1 "$rounds"); do
	for bin in "$@"; do
		"$bin" -m "$model" -w 1 -s file --root "$W/www" -b 127.0.0.1 -p 0 -q 2>"$W/log" & S=$!
		port=
		for _ in $(seq 1 100); do
			port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$W/log" | head -n 1)
			[ -n "$port" ] && break
			sleep 0.05
		done
		[ -n "$port" ] || { echo "turn.sh: $bin did not start: $(cat "$W/log")" >&2; exit 1; }
		mbps=$("$CB" 127.0.0.1 "$port" -m file --http --path /big.bin --root "$W/www" \
		    -c 1 -t 1 -n 2 --io-timeout 60s --json 2>/dev/null | jq -r '.received_bytes_per_s / 1e6 | floor')
		( end=$((SECONDS + 6)); while [ $SECONDS -lt $end ]; do
			curl -s -o /dev/null "http://127.0.0.1:$port/big.bin"; done ) & D=$!
		o=$("$CB" 127.0.0.1 "$port" -m file --http --path /1k.bin --root "$W/www" \
		    -c 64 -t 1 -r 2000 -d 5s --json 2>/dev/null)
		wait "$D"
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$bin" "$(jq -r .latency_us.p50 <<<"$o")" \
		    "$(jq -r .latency_us.p99 <<<"$o")" "$(jq -r .errors.total <<<"$o")" "$mbps"
		kill "$S"; wait "$S"; S=
	done
done
