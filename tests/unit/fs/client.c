// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/fs/client.h"

static const char sentinel_text[] = "the host's own secret\n";

void cli_setup(struct cli *c, bool readonly, unsigned max_inodes, unsigned max_handles, bool raw)
{
	struct fs_server_params p = {
		.readonly = readonly,
		.max_inodes = max_inodes,
		.max_handles = max_handles,
	};
	struct errbuf e;
	int fd;

	memset(c, 0, sizeof(*c));
	c->uid = getuid();
	c->gid = getgid();
	snprintf(c->top, sizeof(c->top), "%s/ignition-fs-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(c->top));
	snprintf(c->share, sizeof(c->share), "%s/share", c->top);
	snprintf(c->outside, sizeof(c->outside), "%s/outside", c->top);
	snprintf(c->sentinel, sizeof(c->sentinel), "%s/sentinel", c->outside);
	assert_int_equal(mkdir(c->share, 0755), 0);
	assert_int_equal(mkdir(c->outside, 0755), 0);
	fd = open(c->sentinel, O_CREAT | O_WRONLY | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sentinel_text, strlen(sentinel_text)),
			 (ssize_t)strlen(sentinel_text));
	close(fd);
	/* times in the past: an access or change would move them */
	{
		struct timespec ts[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };

		assert_int_equal(utimensat(AT_FDCWD, c->sentinel, ts, 0), 0);
	}
	assert_int_equal(stat(c->sentinel, &c->sentinel_st), 0);
	p.path = c->share;
	assert_int_equal(fs_server_create(&p, &c->s, &e), 0);
	c->sc = fs_scratch_create();
	assert_non_null(c->sc);
	if (!raw) {
		struct fw_init_in in = {
			.major = 7, .minor = 38, .max_readahead = 65536, .flags = 0xffffffffu
		};

		assert_int_equal(cli_call(c, FW_INIT, 0, &in, sizeof(in), NULL, 0), 0);
	}
}

void cli_check_sentinel(struct cli *c)
{
	struct stat st;
	char buf[128] = { 0 };
	int fd;

	assert_int_equal(stat(c->sentinel, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, c->sentinel_st.st_atim.tv_sec);
	assert_int_equal(st.st_mtim.tv_sec, c->sentinel_st.st_mtim.tv_sec);
	assert_int_equal(st.st_ctim.tv_sec, c->sentinel_st.st_ctim.tv_sec);
	assert_int_equal(st.st_ctim.tv_nsec, c->sentinel_st.st_ctim.tv_nsec);
	assert_int_equal(st.st_mode, c->sentinel_st.st_mode);
	assert_int_equal(st.st_size, c->sentinel_st.st_size);
	/* last: reading moves atime */
	fd = open(c->sentinel, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
	close(fd);
	assert_string_equal(buf, sentinel_text);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	chmod(path, 0700);
	return remove(path) < 0 ? 0 : 0;
}

void cli_teardown(struct cli *c)
{
	cli_check_sentinel(c);
	fs_server_destroy(c->s);
	fs_scratch_destroy(c->sc);
	nftw(c->top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int cli_call_room(struct cli *c, uint32_t op, uint64_t node, const void *a, size_t alen,
		  const void *b, size_t blen, size_t room)
{
	struct fw_in_header h = {
		.len = (uint32_t)(sizeof(h) + alen + blen),
		.opcode = op,
		.unique = ++c->unique,
		.nodeid = node,
		.uid = c->uid,
		.gid = c->gid,
	};
	struct fw_out_header oh = { 0 };
	struct iovec in[3] = {
		{ &h, sizeof(h) },
		{ (void *)a, alen },
		{ (void *)b, blen },
	};
	struct iovec out[2] = {
		{ &oh, sizeof(oh) },
		{ c->reply, room },
	};
	uint32_t used;

	assert_true(room <= sizeof(c->reply));
	used = fs_server_handle(c->s, c->sc, in, 3, out, 2);
	if (!used)
		return -1000;
	assert_int_equal(used, oh.len);
	assert_int_equal(oh.unique, h.unique);
	assert_true(oh.len >= sizeof(oh));
	c->reply_len = oh.len - (uint32_t)sizeof(oh);
	if (oh.error)
		assert_int_equal(c->reply_len, 0);
	return oh.error;
}

int cli_call(struct cli *c, uint32_t op, uint64_t node, const void *a, size_t alen, const void *b,
	     size_t blen)
{
	return cli_call_room(c, op, node, a, alen, b, blen, 64 * 1024);
}

int cli_lookup(struct cli *c, uint64_t dir, const char *name, struct fw_entry_out *e)
{
	int r = cli_call(c, FW_LOOKUP, dir, name, strlen(name) + 1, NULL, 0);

	if (r == 0) {
		assert_int_equal(c->reply_len, sizeof(*e));
		if (e)
			memcpy(e, c->reply, sizeof(*e));
	}
	return r;
}

uint64_t cli_node(struct cli *c, uint64_t dir, const char *name)
{
	struct fw_entry_out e;

	assert_int_equal(cli_lookup(c, dir, name, &e), 0);
	assert_true(e.nodeid != 0);
	return e.nodeid;
}

static int cli_open_op(struct cli *c, uint32_t op, uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fw_open_in in = { .flags = flags };
	int r = cli_call(c, op, node, &in, sizeof(in), NULL, 0);

	if (r == 0) {
		struct fw_open_out o;

		assert_int_equal(c->reply_len, sizeof(o));
		memcpy(&o, c->reply, sizeof(o));
		*fh = o.fh;
	}
	return r;
}

int cli_open(struct cli *c, uint64_t node, uint32_t flags, uint64_t *fh)
{
	return cli_open_op(c, FW_OPEN, node, flags, fh);
}

int cli_opendir(struct cli *c, uint64_t node, uint64_t *fh)
{
	return cli_open_op(c, FW_OPENDIR, node, 0, fh);
}

int cli_release(struct cli *c, uint64_t fh, bool dir)
{
	struct fw_release_in in = { .fh = fh };

	return cli_call(c, dir ? FW_RELEASEDIR : FW_RELEASE, FW_ROOT_ID, &in, sizeof(in), NULL, 0);
}

int cli_create(struct cli *c, uint64_t dir, const char *name, uint32_t flags, uint32_t mode,
	       struct fw_entry_out *e, uint64_t *fh)
{
	struct fw_create_in in = { .flags = flags, .mode = mode };
	int r = cli_call(c, FW_CREATE, dir, &in, sizeof(in), name, strlen(name) + 1);

	if (r == 0) {
		struct fw_open_out o;

		assert_int_equal(c->reply_len, sizeof(*e) + sizeof(o));
		if (e)
			memcpy(e, c->reply, sizeof(*e));
		memcpy(&o, c->reply + sizeof(*e), sizeof(o));
		if (fh)
			*fh = o.fh;
	}
	return r;
}

int cli_write(struct cli *c, uint64_t fh, uint64_t off, const void *data, uint32_t len)
{
	struct fw_write_in in = { .fh = fh, .offset = off, .size = len };
	int r = cli_call(c, FW_WRITE, FW_ROOT_ID, &in, sizeof(in), data, len);
	struct fw_write_out o;

	if (r < 0)
		return r;
	assert_int_equal(c->reply_len, sizeof(o));
	memcpy(&o, c->reply, sizeof(o));
	return (int)o.size;
}

int cli_read(struct cli *c, uint64_t fh, uint64_t off, uint32_t len)
{
	struct fw_read_in in = { .fh = fh, .offset = off, .size = len };
	int r = cli_call_room(c, FW_READ, FW_ROOT_ID, &in, sizeof(in), NULL, 0, len);

	return r < 0 ? r : (int)c->reply_len;
}

int cli_mkdir(struct cli *c, uint64_t dir, const char *name, uint32_t mode, struct fw_entry_out *e)
{
	struct fw_mkdir_in in = { .mode = mode };
	int r = cli_call(c, FW_MKDIR, dir, &in, sizeof(in), name, strlen(name) + 1);

	if (r == 0 && e)
		memcpy(e, c->reply, sizeof(*e));
	return r;
}

int cli_getattr(struct cli *c, uint64_t node, struct fw_attr *a)
{
	struct fw_getattr_in in = { 0 };
	int r = cli_call(c, FW_GETATTR, node, &in, sizeof(in), NULL, 0);

	if (r == 0) {
		struct fw_attr_out o;

		assert_int_equal(c->reply_len, sizeof(o));
		memcpy(&o, c->reply, sizeof(o));
		*a = o.attr;
	}
	return r;
}

void cli_forget(struct cli *c, uint64_t node, uint64_t n)
{
	struct fw_forget_in in = { .nlookup = n };

	assert_int_equal(cli_call(c, FW_FORGET, node, &in, sizeof(in), NULL, 0), -1000);
}

static void host_path(struct cli *c, const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", c->share, rel);
}

void host_write(struct cli *c, const char *rel, const char *text)
{
	char p[1024];
	FILE *f;

	host_path(c, rel, p, sizeof(p));
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

char *host_read(struct cli *c, const char *rel)
{
	char p[1024], *buf = calloc(1, 65536);
	FILE *f;

	host_path(c, rel, p, sizeof(p));
	f = fopen(p, "r");
	if (!f) {
		free(buf);
		return NULL;
	}
	if (fread(buf, 1, 65535, f) == 0 && ferror(f))
		buf[0] = 0;
	fclose(f);
	return buf;
}

bool host_exists(struct cli *c, const char *rel)
{
	struct stat st;

	return host_lstat(c, rel, &st) == 0;
}

int host_lstat(struct cli *c, const char *rel, struct stat *st)
{
	char p[1024];

	host_path(c, rel, p, sizeof(p));
	return lstat(p, st) < 0 ? -errno : 0;
}
