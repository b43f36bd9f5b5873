/*
 * idle: whether a quiet connection's output is still moving.  See idle.h.
 */
#include "idle.h"

#include <linux/tcp.h>		/* tcpi_bytes_acked: not in glibc's */
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

bool
idle_moving(int fd, uint64_t *mark)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_notsent_bytes) +
	    sizeof(ti.tcpi_notsent_bytes))
		return false;	/* not TCP, or a kernel too old to say */
	if (ti.tcpi_unacked == 0 && ti.tcpi_notsent_bytes == 0)
		return false;	/* nothing of ours on the way */
	if (ti.tcpi_bytes_acked == *mark)
		return false;
	*mark = ti.tcpi_bytes_acked;
	return true;
}
