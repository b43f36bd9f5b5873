/*
 * unit_lib: TAP unit tests for lib/ (parse, net, io, sig).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cidr.h"
#include "io.h"
#include "net.h"
#include "parse.h"
#include "sig.h"

static int n, failed;

static void
ok(int cond, const char *what)
{
	n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, what);
	if (!cond)
		failed++;
}

static void
test_parse(void)
{
	uint64_t v;

	ok(parse_uint("8007", 1, 65535, &v) == 0 && v == 8007, "parse_uint 8007");
	ok(parse_uint("0", 0, 10, &v) == 0 && v == 0, "parse_uint 0");
	ok(parse_uint("", 0, 10, &v) == -1 && errno == EINVAL, "empty refused");
	ok(parse_uint("12x", 0, 100, &v) == -1 && errno == EINVAL, "trailing junk refused");
	ok(parse_uint("-1", 0, 100, &v) == -1, "negative refused");
	ok(parse_uint(" 1", 0, 100, &v) == -1, "leading space refused");
	ok(parse_uint("101", 0, 100, &v) == -1 && errno == ERANGE, "over max refused");
	ok(parse_uint("99999999999999999999999", 0, UINT64_MAX, &v) == -1 &&
	    errno == ERANGE, "overflow refused");
	ok(parse_duration_us("1.5", &v) == 0 && v == 1500000, "duration 1.5");
	ok(parse_duration_us("250ms", &v) == 0 && v == 250000, "duration 250ms");
	ok(parse_duration_us("2m", &v) == 0 && v == 120000000, "duration 2m");
	ok(parse_duration_us("1x", &v) == -1, "duration bad unit");
	ok(parse_duration_us(".5", &v) == -1, "duration needs a digit first");
	ok(parse_size("64k", UINT64_MAX, &v) == 0 && v == 65536, "size 64k");
	ok(parse_size("16M", UINT64_MAX, &v) == 0 && v == 16777216, "size 16M");
	ok(parse_size("1kk", UINT64_MAX, &v) == -1, "size bad suffix");
	ok(parse_size("2G", 1024, &v) == -1 && errno == ERANGE, "size over max");
}

static void
test_net(void)
{
	char addr[NET_ADDRSTRLEN];
	int lfd, cfd, afd, port, e;
	char buf[8];

	ok(net_parse_port("8007", SOCK_STREAM) == 8007, "port digits");
	ok(net_parse_port("echo", SOCK_STREAM) == 7, "port by service name");
	ok(net_parse_port("65536", SOCK_STREAM) == -EINVAL, "port 65536 refused");
	ok(net_parse_port("7a", SOCK_STREAM) == -EINVAL, "port 7a refused");
	e = net_parse_port("no-such-service-xyz", SOCK_STREAM);
	ok(NET_IS_EAI(e), "unknown service is a resolution error");

	lfd = net_listen(NULL, "0", SOCK_STREAM, 16, 0);
	ok(lfd >= 0, "dual-stack listen on port 0");
	port = net_local_port(lfd);
	ok(port > 0, "kernel picked a port");
	snprintf(buf, sizeof(buf), "%d", port);
	cfd = net_connect("127.0.0.1", buf, SOCK_STREAM, 2000, 0);
	ok(cfd >= 0, "IPv4 client reaches the dual-stack listener");
	afd = accept(lfd, NULL, NULL);
	ok(afd >= 0 && net_peer_addr(afd, addr, sizeof(addr), NULL) == 0 &&
	    strcmp(addr, "127.0.0.1") == 0, "v4-mapped peer prints as 127.0.0.1");
	ok(io_write_all(cfd, "hello", 5) == 0, "write_all");
	ok(io_read_full(afd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0,
	    "read_full");
	close(cfd);
	ok(io_read_full(afd, buf, 5) == 0, "read_full sees EOF");
	close(afd);
	snprintf(buf, sizeof(buf), "%d", port);
	cfd = net_connect("::1", buf, SOCK_STREAM, 2000, 0);
	if (cfd >= 0) {
		afd = accept(lfd, NULL, NULL);
		ok(afd >= 0 && net_peer_addr(afd, addr, sizeof(addr), NULL) == 0 &&
		    strcmp(addr, "::1") == 0, "IPv6 client reaches it too");
		close(afd);
		close(cfd);
	} else {
		ok(1, "# skip no IPv6 loopback");
	}
	e = net_listen("127.0.0.1", buf, SOCK_STREAM, 16, 0);
	ok(e == -EADDRINUSE, "port in use is EADDRINUSE");
	close(lfd);
	e = net_connect("127.0.0.1", buf, SOCK_STREAM, 2000, 0);
	ok(e == -ECONNREFUSED, "closed port is ECONNREFUSED");
	e = net_connect("no-such-host.invalid", "7", SOCK_STREAM, 2000, 0);
	ok(NET_IS_EAI(e) && strlen(net_strerror(e)) > 0,
	    "unknown host is a resolution error with text");
}

static void
test_iov(void)
{
	char a[4] = "abcd", b[3] = "efg";
	struct iovec v[2];
	int k;

	v[0] = (struct iovec){ a, 4 };
	v[1] = (struct iovec){ b, 3 };
	k = iov_consume(v, 2, 2);
	ok(k == 2 && v[0].iov_base == a + 2 && v[0].iov_len == 2 &&
	    v[1].iov_base == b, "iov_consume: part of the first slice");
	k = iov_consume(v, k, 3);
	ok(k == 1 && v[0].iov_base == b + 1 && v[0].iov_len == 2,
	    "iov_consume: the first slice whole and part of the second");
	k = iov_consume(v, k, 2);
	ok(k == 0, "iov_consume: everything");
	v[0] = (struct iovec){ a, 4 };
	v[1] = (struct iovec){ b, 3 };
	k = iov_consume(v, 2, 4);
	ok(k == 1 && v[0].iov_base == b && v[0].iov_len == 3,
	    "iov_consume: exactly the first slice");
	ok(iov_consume(v, 1, 0) == 1 && v[0].iov_len == 3,
	    "iov_consume: nothing");
}

static void
test_fdpass(void)
{
	int sv[2], p[2], got = -1, r;
	char c = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(p) == -1) {
		ok(0, "socketpair/pipe for fd passing");
		return;
	}
	ok(net_send_fd(sv[0], p[1]) == 0, "net_send_fd");
	r = net_recv_fd(sv[1], &got);
	ok(r == 1 && got >= 0 && got != p[1], "net_recv_fd: a new descriptor");
	ok(got >= 0 && (fcntl(got, F_GETFD) & FD_CLOEXEC),
	    "net_recv_fd: close-on-exec");
	ok(got >= 0 && write(got, "x", 1) == 1 && read(p[0], &c, 1) == 1 &&
	    c == 'x', "the passed descriptor is the same pipe");
	if (got >= 0)
		close(got);
	ok(write(sv[0], "y", 1) == 1 && net_recv_fd(sv[1], &got) == -1 &&
	    errno == EBADMSG, "net_recv_fd: data without a descriptor: EBADMSG");
	close(sv[0]);
	ok(net_recv_fd(sv[1], &got) == 0, "net_recv_fd: 0 at EOF");
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static void
test_sig(void)
{
	ok(sig_pipe_open() == 0, "self-pipe opens");
	ok(sig_watch(SIGUSR1, 0) == 0, "watch SIGUSR1");
	ok(!sig_take(SIGUSR1), "nothing pending yet");
	raise(SIGUSR1);
	ok(sig_peek(SIGUSR1), "peek sees it");
	ok(sig_take(SIGUSR1), "take sees it");
	ok(!sig_take(SIGUSR1), "and clears it");
	sig_pipe_close();
}

static void
test_cidr(void)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct cidr c;
	uint8_t k[16];

	ok(cidr_parse("10.1.0.0/16", &c) == 0 && c.len == 112, "cidr v4/16");
	inet_pton(AF_INET, "10.1.200.3", &s4.sin_addr);
	cidr_key((struct sockaddr *)&s4, k);
	ok(cidr_match(&c, k), "10.1.200.3 in 10.1.0.0/16");
	inet_pton(AF_INET, "10.2.0.1", &s4.sin_addr);
	cidr_key((struct sockaddr *)&s4, k);
	ok(!cidr_match(&c, k), "10.2.0.1 not in 10.1.0.0/16");
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
	cidr_key((struct sockaddr *)&s6, k);
	ok(cidr_match(&c, k), "v4-mapped client matches the v4 rule");
	ok(cidr_parse("2001:db8::/32", &c) == 0, "cidr v6/32");
	inet_pton(AF_INET6, "2001:db8:ffff::1", &s6.sin6_addr);
	cidr_key((struct sockaddr *)&s6, k);
	ok(cidr_match(&c, k), "2001:db8:ffff::1 in 2001:db8::/32");
	ok(cidr_parse("10.0.0.1/7", &c) == 0 && c.addr[12] == 10, "host bits cleared");
	ok(cidr_parse("127.0.0.1", &c) == 0 && c.len == 128, "bare address is /32");
	ok(cidr_parse("0.0.0.0/0", &c) == 0 && cidr_match(&c, k) == false,
	    "0.0.0.0/0 matches v4 only");
	ok(cidr_parse("::/0", &c) == 0 && cidr_match(&c, k), "::/0 matches all");
	ok(cidr_parse("10.0.0.0/33", &c) == -1, "/33 refused for v4");
	ok(cidr_parse("::/129", &c) == -1, "/129 refused");
	ok(cidr_parse("10.0.0.0/", &c) == -1, "empty prefix refused");
	ok(cidr_parse("10.0.0/8", &c) == -1, "short v4 refused");
	ok(cidr_parse("/8", &c) == -1, "no address refused");
	ok(cidr_parse("fe80::1%eth0", &c) == -1, "scoped address refused");
}

int
main(void)
{
	test_cidr();
	test_parse();
	test_net();
	test_sig();
	test_iov();
	test_fdpass();
	printf("1..%d\n", n);
	return failed != 0;
}
