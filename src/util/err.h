/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_ERR_H
#define IGNITION_UTIL_ERR_H

#include "util/compiler.h"

/*
 * Functions that can fail because of user input or the host return a negative errno and describe
 * the failure in one line here; main.c prints that line once, at the edge. Deep code never exits.
 */
struct errbuf {
	char msg[512];
};

/* Formats the message (when e is not NULL) and returns code, so callers can `return err_set(...)`. */
int err_set(struct errbuf *e, int code, const char *fmt, ...) __printf(3, 4);

#endif
