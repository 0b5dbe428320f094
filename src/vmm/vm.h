/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_VM_H
#define IGNITION_VMM_VM_H

#include "hv/hv.h"
#include "util/err.h"
#include "vmm/config.h"

/*
 * Builds the machine described by cfg on hypervisor hv, runs it until the guest powers off or
 * resets, a stop is requested (Ctrl-A x, SIGTERM/SIGINT/SIGHUP) or something fails, then stops
 * every vCPU, lets devices finish in-flight requests, flushes disks and restores the terminal.
 * Returns an exit status (enum vm_exit_status, or 128 + signal); on VM_EXIT_ERROR, e holds the
 * one-line reason.
 */
int vm_run(const struct vm_config *cfg, const struct hv_ops *hv, struct errbuf *e);

/* --dump-dtb: build the same machine description without running anything, write the DTB. */
int vm_dump_dtb(const struct vm_config *cfg, const struct hv_ops *hv, struct errbuf *e);

#endif
