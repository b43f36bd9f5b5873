/*
 * sandbox: what a server may still do once it is set up.
 *
 * Three layers, entered in this order after the listeners are bound and
 * privileges dropped, before the first connection is served:
 *
 *   no_new_privs   no exec can gain privileges (set-uid, file capabilities)
 *   landlock       the file system: nothing, or the file service's root
 *                  read-only, and only what the server itself still writes
 *                  or removes (its log file, its pid file, its unix socket)
 *   seccomp        an allow-list of the system calls the models, services
 *                  and runtime make; any other is trapped, one line is
 *                  logged, and the process that made it is killed by SIGSYS
 *
 * Every layer is inherited across fork and clone, so pool workers need
 * nothing of their own.  Library code: the functions return 0 or a negative
 * errno, and main reports.
 */
#ifndef CONCUR_SANDBOX_H
#define CONCUR_SANDBOX_H

#include <stdbool.h>

struct sandbox_fs {
	const char *read_root;	/* a directory read (file service), or NULL */
	const char *write_file;	/* a file still appended to (--log-file) */
	const char *remove[2];	/* files removed at the end (pid file, socket) */
};

/* Why the sandbox cannot run in this process (valgrind, which emulates
 * system calls itself and supports no seccomp filter), or NULL. */
const char *sandbox_unsupported(void);

/* PR_SET_NO_NEW_PRIVS. */
int sandbox_no_new_privs(void);

/* Empties the capability bounding set and the ambient set (after a switch
 * to an unprivileged user: nothing can bring a capability back). */
int sandbox_drop_caps(void);

/* Landlock: what fs allows, nothing else on the file system.  Returns the
 * ABI version used (> 0), or -EOPNOTSUPP where the kernel has no landlock,
 * or another negative errno. */
int sandbox_landlock(const struct sandbox_fs *fs);

/* The seccomp filter, with the SIGSYS handler that reports a violation. */
int sandbox_seccomp(void);

#endif
