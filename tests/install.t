#!/bin/bash
# make install honours PREFIX and DESTDIR: every program and man page lands
# under DESTDIR/PREFIX, concurd in sbin, and the installed programs run.
. "$(dirname "$0")/lib.sh"

# Sanitizer flavours test binaries elsewhere (BIN=...): installing would
# rebuild the plain ones; this is about the plain build.
[ "$BIN" = "$TOP/bin" ] || skip_all "BIN is a separate flavour ($BIN)"
command -v make >/dev/null || skip_all "no make"

root=$T/root
out=$(make -s -C "$TOP" install DESTDIR="$root" PREFIX=/opt/cc 2>&1)
ok $? "make install DESTDIR=... PREFIX=/opt/cc succeeds"
[ -n "$out" ] && diag "$out"
for p in TCPechod TCPecho concur-processes concur-threads concurbench; do
	check "bin/$p installed, executable" test -x "$root/opt/cc/bin/$p"
done
check "concurd installed in sbin" test -x "$root/opt/cc/sbin/concurd"
# Installed beside everything else in PREFIX/bin, a name must be ours.
is "$(ls "$root/opt/cc/bin" "$root/opt/cc/sbin" | grep -vE '^(concur[a-z-]*|TCPechod?|.*:|)$' | tr '\n' ' ')" "" \
	"every installed program has a name of its own (concur*, TCPecho, TCPechod)"
for m in man1/TCPechod.1 man1/TCPecho.1 man1/concur-processes.1 man1/concur-threads.1 \
    man1/concurbench.1 man8/concurd.8; do
	check "man page $m installed" test -f "$root/opt/cc/share/man/$m"
done
like "$("$root/opt/cc/sbin/concurd" --version)" '^concurd [0-9]' "the installed concurd runs"
like "$("$root/opt/cc/bin/TCPecho" --version)" '^TCPecho .*[0-9]' "the installed TCPecho runs"
is "$(find "$root" -path "$root/opt" -prune -o -print | sed "s|^$root||" | sed '/^$/d')" "" \
	"nothing installed outside DESTDIR/PREFIX"
make -s -C "$TOP" uninstall DESTDIR="$root" PREFIX=/opt/cc >/dev/null 2>&1
is "$(find "$root" -type f | wc -l | tr -d ' ')" 0 "make uninstall removes every file"
done_testing
