/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_ARCH_CMDLINE_H
#define IGNITION_ARCH_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* arm64's COMMAND_LINE_SIZE, including the terminating NUL. */
#define CMDLINE_MAX 2048

/*
 * Without --append, the line is CMDLINE_DEFAULT [root=...], the machine model's default. With
 * --append parameters, it is CMDLINE_BASE [root=...] APPEND CMDLINE_EARLYCON [-- init args]: the
 * same parameters, the early console moved after the user's (see cmdline_build()).
 */
#define CMDLINE_DEFAULT	 "console=ttyS0 earlycon=uart8250,mmio,0x9000000 reboot=k panic=1"
#define CMDLINE_BASE	 "console=ttyS0 reboot=k panic=1"
#define CMDLINE_EARLYCON "earlycon=uart8250,mmio,0x9000000"

struct cmdline_opts {
	const char *replace; /* --cmdline: replaces the default (and the root= part) when set */
	const char *append;  /* --append: added after, a space between (before the earlycon) */
	bool has_disk;       /* adds "root=/dev/vda rw" (or "ro") to the default */
	bool root_ro;
};

/* Writes the kernel command line into out (CMDLINE_MAX bytes); too long is an error. */
int cmdline_build(char out[CMDLINE_MAX], const struct cmdline_opts *o, struct errbuf *e);

#endif
