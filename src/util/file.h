/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_FILE_H
#define IGNITION_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * Opens `path` for reading and checks it is a regular, non-empty file. Errors name the file and
 * the reason ("vmlinuz: is a directory"); on success the caller owns *fd.
 */
int file_open_regular(const char *path, int *fd, uint64_t *size, struct errbuf *e);

/*
 * Reads exactly len bytes at offset off, retrying short reads and EINTR. Returns 0, -errno, or
 * -EIO when the file ends early (it shrank after it was measured).
 */
int file_pread_full(int fd, void *buf, size_t len, uint64_t off);

#endif
