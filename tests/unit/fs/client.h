/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_FS_CLIENT_H
#define IGNITION_TESTS_FS_CLIENT_H

/*
 * A test-side FUSE client: builds requests as the guest's kernel does (header and arguments in
 * separate buffers, reply header and payload too) and runs them through fs_server_handle().
 * A share lives in a fresh temporary directory, beside a sentinel file that no request may
 * open, read or change.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/fs.h"
#include "fs/fuse_wire.h"

#ifdef __APPLE__
#define st_atim st_atimespec
#define st_mtim st_mtimespec
#define st_ctim st_ctimespec
#endif

#define CLI_REPLY_MAX (256 * 1024)

struct cli {
	struct fs_server *s;
	struct fs_scratch *sc;
	uint64_t unique;
	uint32_t uid, gid; /* ours, asked once: the sandboxed child may not ask */
	char top[256]; /* the temporary directory */
	char share[300]; /* top/share: what the guest sees */
	char outside[300]; /* top/outside: next to the share */
	char sentinel[320]; /* top/outside/sentinel */
	struct stat sentinel_st;
	uint8_t reply[CLI_REPLY_MAX];
	uint32_t reply_len; /* payload bytes of the last reply */
};

/* Creates the directories and the server (caps 0: defaults); INIT unless raw. */
void cli_setup(struct cli *c, bool readonly, unsigned max_inodes, unsigned max_handles, bool raw);
/* Checks the sentinel, destroys the server and removes the directories. */
void cli_teardown(struct cli *c);
void cli_check_sentinel(struct cli *c);

/*
 * One request: arguments a (len alen) then b (blen, may be 0) as the payload. Returns the
 * reply's error (0 or -errno) and copies its payload to c->reply; -1000 when no reply came.
 */
int cli_call(struct cli *c, uint32_t op, uint64_t node, const void *a, size_t alen, const void *b,
	     size_t blen);
/* The same, with the reply room given (payload bytes after the out header). */
int cli_call_room(struct cli *c, uint32_t op, uint64_t node, const void *a, size_t alen,
		  const void *b, size_t blen, size_t room);

/* Helpers for the common requests; they assert success unless they return the error. */
int cli_lookup(struct cli *c, uint64_t dir, const char *name, struct fw_entry_out *e);
uint64_t cli_node(struct cli *c, uint64_t dir, const char *name); /* asserts */
int cli_open(struct cli *c, uint64_t node, uint32_t flags, uint64_t *fh);
int cli_opendir(struct cli *c, uint64_t node, uint64_t *fh);
int cli_release(struct cli *c, uint64_t fh, bool dir);
int cli_create(struct cli *c, uint64_t dir, const char *name, uint32_t flags, uint32_t mode,
	       struct fw_entry_out *e, uint64_t *fh);
int cli_write(struct cli *c, uint64_t fh, uint64_t off, const void *data, uint32_t len);
int cli_read(struct cli *c, uint64_t fh, uint64_t off, uint32_t len); /* bytes, in c->reply */
int cli_mkdir(struct cli *c, uint64_t dir, const char *name, uint32_t mode, struct fw_entry_out *e);
int cli_getattr(struct cli *c, uint64_t node, struct fw_attr *a);
void cli_forget(struct cli *c, uint64_t node, uint64_t n);

/* Host-side helpers on paths under the share. */
void host_write(struct cli *c, const char *rel, const char *text);
char *host_read(struct cli *c, const char *rel); /* malloc'ed, NULL if missing */
bool host_exists(struct cli *c, const char *rel);
int host_lstat(struct cli *c, const char *rel, struct stat *st);

#endif
