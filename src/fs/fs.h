/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_FS_FS_H
#define IGNITION_FS_FS_H

/*
 * The FUSE passthrough server behind virtio-fs: it serves one host directory to the guest.
 *
 * The guest never names a host path. Every inode the guest knows is a host file descriptor
 * (O_PATH on Linux), and every operation works on such a descriptor or on a parent descriptor
 * with one name component that is checked first ('/', ".", "..", empty and over-long names are
 * refused). Symlinks are returned to the guest and never followed on the host. Device nodes and
 * setuid/setgid bits cannot be created; a read-only share refuses every change with EROFS.
 *
 * The transport (devices/virtio/fs.c) hands each request over as the device-readable and
 * device-writable buffers of one chain; the server checks every length against them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/err.h"

struct fs_server;
struct fs_scratch;

struct fs_server_params {
	const char *path; /* the shared directory */
	bool readonly;
	/* Caps on what the guest can pin (host fds); 0 picks defaults from RLIMIT_NOFILE. */
	unsigned max_inodes;
	unsigned max_handles;
	unsigned nr_shares; /* how many servers split the descriptors; 0: as many as can be */
};

int fs_server_create(const struct fs_server_params *p, struct fs_server **out, struct errbuf *e);
/* Closes every descriptor the server holds. No request may run. */
void fs_server_destroy(struct fs_server *s);

/* The device was reset: every inode and open file the guest held is let go (as DESTROY). */
void fs_server_reset(struct fs_server *s);

/* A worker's buffers for one request at a time (about 200 KiB). */
struct fs_scratch *fs_scratch_create(void);
void fs_scratch_destroy(struct fs_scratch *sc);

/*
 * Runs one request. in/out are the chain's device-readable and device-writable buffers in
 * order. Returns the bytes written to out (the used length): 0 for FORGET-like requests that
 * have no reply and for requests too malformed to answer. Thread-safe: workers run requests
 * concurrently, each with its own scratch.
 */
uint32_t fs_server_handle(struct fs_server *s, struct fs_scratch *sc, const struct iovec *in,
			  unsigned nr_in, const struct iovec *out, unsigned nr_out);

/* What the server holds, for tests and diagnostics. */
struct fs_server_stats {
	unsigned inodes; /* the root included */
	unsigned handles;
	unsigned max_inodes;
	unsigned max_handles;
};

void fs_server_stats(struct fs_server *s, struct fs_server_stats *st);

/* The system calls the server makes once running (NULL-ended), for the sandbox. */
extern const char *const fs_server_syscalls[];

#endif
