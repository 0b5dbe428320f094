/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_HOST_VSOCK_UNIX_H
#define IGNITION_HOST_VSOCK_UNIX_H

#include "util/err.h"

/* Non-blocking, close-on-exec, never SIGPIPE (MSG_NOSIGNAL on Linux, SO_NOSIGPIPE elsewhere). */
int vsock_unix_socket(void);
int vsock_unix_accept(int lfd);

/*
 * Before any VM exists: PATH must be usable as the listening socket (and PATH_4294967295 fit a
 * unix socket address): its directory exists; it is absent, or a socket nobody listens on (left
 * by a killed VMM, replaced at start). Nothing is created. opt names the option in messages.
 */
int vsock_path_check(const char *opt, const char *path, struct errbuf *e);

/*
 * The listening socket at path, replacing a stale socket file there (never anything else):
 * a descriptor, or a negative errno with one line in e (another process listening included).
 */
int vsock_unix_listen(const char *path, struct errbuf *e);

/*
 * How many connections fit the descriptor limit: raises RLIMIT_NOFILE's soft limit towards
 * want + reserve (up to the hard limit) and returns want, or what fits below the limit.
 */
unsigned vsock_fd_budget(unsigned want, unsigned reserve);

#endif
