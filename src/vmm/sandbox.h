/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_SANDBOX_H
#define IGNITION_VMM_SANDBOX_H

#include "util/err.h"

/*
 * Confines every thread of the process to the system calls a running VMM needs (Linux seccomp).
 * Called once set-up is complete and before the first vCPU runs.
 */
int sandbox_install(struct errbuf *e);

/* True when this build can sandbox (Linux with libseccomp). */
int sandbox_available(void);

#endif
