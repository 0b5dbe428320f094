/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_CONFIG_H
#define IGNITION_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_DISKS 16
#define DEFAULT_MEM_MIB 512u
#define DEFAULT_VCPUS 1u

struct disk_config {
	const char *path;
	bool readonly;
};

/* A validated machine description: main.c builds it from argv, vmm/ builds the machine from it. */
struct vm_config {
	const char *kernel;
	const char *initrd;
	struct disk_config disks[MAX_DISKS];
	unsigned nr_disks;
	unsigned nr_vcpus;
	uint64_t mem_mib;
	const char *cmdline; /* replaces the default when set */
	const char *append;
	const char *dump_dtb; /* write the DTB here and exit instead of running */
	const char *backend;  /* NULL: the host's default */
	bool quiet;
	bool rng;
	bool seccomp;
};

/* Exit statuses of ignition (documented in README and --help). */
enum vm_exit_status {
	VM_EXIT_POWEROFF = 0, /* guest powered off, or Ctrl-A x */
	VM_EXIT_ERROR = 1,    /* bad input, host or hypervisor failure, fatal guest fault */
	VM_EXIT_RESET = 2,    /* the guest rebooted (e.g. panic=1): like Firecracker, we stop */
};

#endif
