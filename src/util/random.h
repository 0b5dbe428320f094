/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_RANDOM_H
#define IGNITION_UTIL_RANDOM_H

#include <stddef.h>

/* Fills buf from the host CSPRNG (getrandom on Linux, arc4random_buf on macOS). 0 or -errno. */
int random_fill(void *buf, size_t len);

#endif
