/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_FUZZ_SHARE_H
#define IGNITION_TESTS_FUZZ_SHARE_H

/*
 * The host side of the FUSE targets (fuse, virtio_fs): a temporary directory (tmpfs when there
 * is one) holding the share and, beside it, a directory with a sentinel file the guest must
 * never reach. The share is seeded before an input and wiped after it; check_outside proves
 * nothing beside the share was touched.
 */
#include <sys/stat.h>

struct fz_share {
	char top[256], path[300], outside[300], sentinel[320];
	struct stat sentinel_st;
};

/*
 * Makes the directories (name tells the runs apart in /tmp), removed at exit; file writes stop
 * at 1 MiB with EFBIG, so a guest's huge fallocate or truncate fails instead of filling tmpfs.
 */
void fz_share_init(struct fz_share *s, const char *name);

/* file (16 bytes), dir/inner, out -> the outside directory, secret -> the sentinel */
void fz_share_seed(const struct fz_share *s);

/* Empties the share, whatever permissions the guest left on it. */
void fz_share_wipe(const struct fz_share *s);

/* The sentinel keeps its inode, size, mode and times; nothing appears beside the share. */
void fz_share_check_outside(const struct fz_share *s);

/*
 * libFuzzer installs its SIGXFSZ handler after LLVMFuzzerInitialize: the first input calls this
 * so a write past the limit just fails.
 */
void fz_share_ignore_xfsz(void);

#endif
