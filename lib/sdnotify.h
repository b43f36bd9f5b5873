/*
 * sdnotify: systemd's notification protocol (sd_notify(3)), without
 * libsystemd: one datagram of "KEY=value" lines to the Unix socket named by
 * NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).  A
 * Type=notify service says READY=1 once it serves, STOPPING=1 when it
 * begins to stop, STATUS=text for systemctl status.
 */
#ifndef CONCUR_SDNOTIFY_H
#define CONCUR_SDNOTIFY_H

#include <stdbool.h>

/* Take NOTIFY_SOCKET from the environment (and out of it, so no child
 * inherits it) and open a socket for it.  0 (also when there is none), or
 * -errno. */
int sdnotify_init(void);
bool sdnotify_enabled(void);
/* Send state ("READY=1\nSTATUS=..."); 0 (nothing to do without a
 * socket), or -errno.  Never blocks. */
int sdnotify(const char *state);

#endif
