/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_SANDBOX_H
#define IGNITION_VMM_SANDBOX_H

#include <stdbool.h>

#include "util/err.h"

/*
 * Confines every thread of the process to the system calls a running VMM needs (Linux seccomp,
 * through libseccomp). Called once set-up is complete and before the first vCPU runs: no file can
 * be opened, no process or thread created, no memory made executable afterwards. A forbidden call
 * kills the process with SIGSYS after one line on stderr.
 *
 * ioctls: terminal get/set (to restore the terminal) plus the backend's runtime_ioctls
 * (0-terminated; may be NULL).
 */
int sandbox_install(const unsigned long *runtime_ioctls, struct errbuf *e);

/* True when this build can sandbox (Linux with libseccomp). */
bool sandbox_available(void);

#endif
