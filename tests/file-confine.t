#!/usr/bin/env bash
# file-confine.t: the file service serves what is under --root and nothing
# else, over HTTP and Gopher: '..' in every spelling (plain, %-encoded in
# any case, %2F for the slash, absolute-form, after a real directory), a
# symlink out of the root (to a file, to a directory), a FIFO (refused at
# once: opening it must not block), a device node, a dot-file (hidden, and
# served with --file-dotfiles), a directory without an index (403), one
# named without its slash (301), a file the server's user may not read
# (403, with --user nobody).  Each refusal is logged with the client's
# address; a symlink that stays inside the root is followed.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/concurd" ] || skip_all "concurd is not built"
command -v curl >/dev/null || skip_all "curl is not installed"

R=$T/root
mkdir -p "$R/docs" "$R/empty-dir" "$R/site" "$T/outside"
printf 'inside\n' >"$R/docs/a.txt"
printf '<p>index</p>\n' >"$R/site/index.html"
printf 'SECRET outside\n' >"$T/outside/secret.txt"
printf 'dot\n' >"$R/.env"
printf 'dot in dir\n' >"$R/docs/.hidden"
ln -s ../outside/secret.txt "$R/escape-file"
ln -s "$T/outside" "$R/escape-dir"
ln -s docs/a.txt "$R/inside-link"
mkfifo "$R/fifo"
mknod "$R/null" c 1 3 2>/dev/null && have_dev=1 || have_dev=0

start_server "$T/log" "$BIN/concurd" -m epoll -s file --root "$R" \
    -b 127.0.0.1 -p 0 || { fail "concurd starts"; done_testing; exit 1; }
U=http://127.0.0.1:$PORT

code() { curl -s --path-as-is --max-time 5 -o "$T/body" -w '%{http_code}' "$@"; }
# An HTTP request line as it is, without curl's own tidying.
rawcode() {
	printf 'GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' "$1" |
	    timeout 5 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die;
		local $/; print $s <STDIN>; shutdown($s, 1);
		alarm 3; my $b; while (sysread($s, $b, 65536)) { print $b }' "$PORT" |
	    head -n1 | cut -d' ' -f2
}
gopher() {	# gopher SELECTOR: the answer
	printf '%s\r\n' "$1" | timeout 5 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die;
		local $/; print $s <STDIN>; shutdown($s, 1);
		alarm 3; my $b; while (sysread($s, $b, 65536)) { print $b }' "$PORT"
}

is "$(code "$U/docs/a.txt")" 200 "a file inside: 200"
is "$(code "$U/inside-link")/$(cat "$T/body")" "200/inside" "a symlink that stays inside: followed"

# Traversal, every spelling: never a 200, never the secret.
for t in /../outside/secret.txt /docs/../../outside/secret.txt \
    /%2e%2e/outside/secret.txt /%2E%2e/outside/secret.txt \
    /..%2foutside/secret.txt /..%2Foutside%2Fsecret.txt /docs/..%2f..%2foutside/secret.txt \
    /%2e%2e%2f%2e%2e%2foutside/secret.txt //../outside/secret.txt \
    /docs/./../../outside/secret.txt http://t/../outside/secret.txt \
    /..; do
	got=$(rawcode "$t")
	is "$got" 403 "traversal $t: 403"
done
unlike "$(grep -c SECRET "$T/body")" '^[1-9]' "the secret never came back"
for s in ../outside/secret.txt /../outside/secret.txt docs/../../outside/secret.txt ..; do
	out=$(gopher "$s")
	like "$out" '^3Forbidden' "gopher traversal '$s': an error item"
	unlike "$out" SECRET "gopher traversal '$s': not the secret"
done

# Symlinks out of the root.
is "$(code "$U/escape-file")" 403 "a symlink to a file outside: 403"
unlike "$(cat "$T/body")" SECRET "...and not its content"
is "$(code "$U/escape-dir/secret.txt")" 403 "a symlink to a directory outside: 403"
like "$(gopher /escape-file)" '^3Forbidden' "gopher: a symlink outside: refused"

# Not regular files: at once, not blocking.
t0=$SECONDS
is "$(code "$U/fifo")" 403 "a FIFO: 403"
check "...at once (opening it does not wait for a writer)" test $((SECONDS - t0)) -lt 3
like "$(gopher /fifo)" '^3Forbidden' "gopher: a FIFO: refused"
if [ "$have_dev" = 1 ]; then
	is "$(code "$U/null")" 403 "a device node: 403"
else
	skip "a device node: cannot mknod here"
fi

# Hidden names.
is "$(code "$U/.env")" 404 "a dot-file: hidden (404)"
is "$(code "$U/docs/.hidden")" 404 "a dot-file in a directory: hidden"
is "$(code "$U/%2eenv")" 404 "a %-encoded dot-file: hidden"
unlike "$(gopher /)" '\.env' "the Gopher menu does not list dot-files"
like "$(gopher /.env)" '^3Not found' "gopher: a dot-file: not found"

# Directories.
is "$(code "$U/empty-dir/")" 403 "a directory without index.html: 403"
is "$(code "$U/site/")/$(cat "$T/body")" "200/<p>index</p>" "a directory's index.html"
is "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$U/site")" "301 $U/site/" "a directory without its slash: 301 to it"
like "$(gopher /docs)" $'^0a.txt\t/docs/a.txt\t' "gopher: a directory is a menu"
unlike "$(gopher /)" 'fifo|null' "the menu leaves out FIFOs and devices"

# Logged, with the client.
log=$(cat "$T/log")
for what in "a '..' in the path" "it leads out of the root" "not a regular file" \
    "a hidden name" "a directory without index.html"; do
	like "$log" "from 127\\.0\\.0\\.1: refused '[^']*': $what" "logged with the client: $what"
done
stop_concurd
is "$SERVER_STATUS" 0 "concurd exits 0"

# --file-dotfiles serves them.
start_server "$T/log2" "$BIN/concurd" -m epoll -s file --root "$R" --file-dotfiles \
    -b 127.0.0.1 -p 0 || fail "concurd --file-dotfiles starts"
is "$(code "http://127.0.0.1:$PORT/.env")/$(cat "$T/body")" "200/dot" "--file-dotfiles: a dot-file is served"
like "$(gopher /)" $'\\.env\t/\\.env\t' "--file-dotfiles: and listed"
is "$(rawcode /../outside/secret.txt)" 403 "--file-dotfiles: '..' is still refused"
stop_concurd

# Unreadable: as nobody (root reads everything).
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$T"
	chmod -R a+rX "$R"
	printf 'private\n' >"$R/docs/private.txt"
	chmod 000 "$R/docs/private.txt"
	start_server "$T/log3" "$BIN/concurd" -m epoll -s file --root "$R" \
	    --user nobody -b 127.0.0.1 -p 0 || fail "concurd --user nobody starts"
	is "$(code "http://127.0.0.1:$PORT/docs/private.txt")" 403 "a file the server may not read: 403"
	is "$(code "http://127.0.0.1:$PORT/docs/a.txt")" 200 "...while the others are served"
	like "$(cat "$T/log3")" "refused '/docs/private.txt': permission denied" "...logged"
	stop_concurd
else
	skip "unreadable files: needs root (to run as nobody)"
fi
done_testing
