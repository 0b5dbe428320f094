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
 * The base list is what every VMM does (sandbox.c); the rules add what this machine's hypervisor
 * backend and configured devices need on top (a network backend's sockets, a shared folder's file
 * calls), so the filter grows only by what is configured. ioctls: terminal get/set (to restore
 * the terminal) plus rules->ioctls.
 */
#define SANDBOX_MAX_EXTRA 96

struct sandbox_rules {
	const char *syscalls[SANDBOX_MAX_EXTRA]; /* names, as libseccomp resolves them */
	unsigned nr_syscalls;
	unsigned long ioctls[SANDBOX_MAX_EXTRA];
	unsigned nr_ioctls;
};

/* Adds a NULL-ended list of system call names (duplicates are fine). -ENOSPC when full. */
int sandbox_allow_syscalls(struct sandbox_rules *r, const char *const *names);
/* Adds a 0-ended list of ioctl requests (may be NULL). -ENOSPC when full. */
int sandbox_allow_ioctls(struct sandbox_rules *r, const unsigned long *requests);

/*
 * First thing in main(), before any thread exists: makes the process fit to be sandboxed later
 * (glibc: every thread allocates from the main malloc arena; see sandbox.c).
 */
void sandbox_prepare_process(void);

int sandbox_install(const struct sandbox_rules *rules, struct errbuf *e);

/* True when this build can sandbox (Linux with libseccomp). */
bool sandbox_available(void);

#endif
