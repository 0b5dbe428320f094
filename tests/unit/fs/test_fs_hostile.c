// SPDX-License-Identifier: MIT
/*
 * A hostile guest against the FUSE server: names that try to leave the share, host symlinks
 * that point out of it, the share's root as a target, a read-only share, and a guest that
 * never forgets. The sentinel beside the share is checked after every test (client.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/fs/client.h"

static int setup(void **state)
{
	struct cli *c = malloc(sizeof(*c));

	assert_non_null(c);
	cli_setup(c, false, 0, 0, false);
	*state = c;
	return 0;
}

static int setup_ro(void **state)
{
	struct cli *c = malloc(sizeof(*c));

	assert_non_null(c);
	cli_setup(c, true, 0, 0, false);
	*state = c;
	return 0;
}

static int setup_small(void **state)
{
	struct cli *c = malloc(sizeof(*c));

	assert_non_null(c);
	cli_setup(c, false, 64, 8, false);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	cli_teardown(*state);
	free(*state);
	return 0;
}

static unsigned count_fds(void)
{
#ifdef __linux__
	DIR *d = opendir("/proc/self/fd");
#else
	DIR *d = opendir("/dev/fd"); /* macOS: no /proc, fdescfs lists the caller's fds */
#endif
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Every request that takes a name, with that name; each must fail with err. */
static void all_names_refused(struct cli *c, const char *bad, int err)
{
	size_t n = strlen(bad) + 1;
	char two[10000];
	uint64_t f = cli_node(c, FW_ROOT_ID, "file");
	struct fw_mkdir_in md = { .mode = 0755 };
	struct fw_mknod_in mk = { .mode = S_IFREG | 0644 };
	struct fw_create_in cr = { .flags = FW_O_RDWR, .mode = 0644 };
	struct fw_rename_in rn = { .newdir = FW_ROOT_ID };
	struct fw_rename2_in rn2 = { .newdir = FW_ROOT_ID };
	struct fw_link_in ln = { .oldnodeid = f };

	assert_true(2 * n + 8 < sizeof(two));
	/* LOOKUP of ".." of the root is the root itself (test_root) */
	if (strcmp(bad, ".."))
		assert_int_equal(cli_call(c, FW_LOOKUP, FW_ROOT_ID, bad, n, NULL, 0), err);
	assert_int_equal(cli_call(c, FW_LOOKUP, f, bad, n, NULL, 0),
			 strcmp(bad, "..") ? err : -EINVAL);
	assert_int_equal(cli_call(c, FW_MKDIR, FW_ROOT_ID, &md, sizeof(md), bad, n), err);
	assert_int_equal(cli_call(c, FW_MKNOD, FW_ROOT_ID, &mk, sizeof(mk), bad, n), err);
	assert_int_equal(cli_call(c, FW_CREATE, FW_ROOT_ID, &cr, sizeof(cr), bad, n), err);
	assert_int_equal(cli_call(c, FW_UNLINK, FW_ROOT_ID, bad, n, NULL, 0), err);
	assert_int_equal(cli_call(c, FW_RMDIR, FW_ROOT_ID, bad, n, NULL, 0), err);
	assert_int_equal(cli_call(c, FW_LINK, FW_ROOT_ID, &ln, sizeof(ln), bad, n), err);
	/* a symlink named bad; and a good name whose target is bad, which is fine: only data */
	memcpy(two, bad, n);
	memcpy(two + n, "target", 7);
	assert_int_equal(cli_call(c, FW_SYMLINK, FW_ROOT_ID, two, n + 7, NULL, 0), err);
	/* rename from and to bad */
	memcpy(two, bad, n);
	memcpy(two + n, "file", 5);
	assert_int_equal(cli_call(c, FW_RENAME, FW_ROOT_ID, &rn, sizeof(rn), two, n + 5), err);
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), two, n + 5), err);
	memcpy(two, "file", 5);
	memcpy(two + 5, bad, n);
	assert_int_equal(cli_call(c, FW_RENAME, FW_ROOT_ID, &rn, sizeof(rn), two, n + 5), err);
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), two, n + 5), err);
	cli_forget(c, f, 1);
}

static void test_bad_names(void **state)
{
	struct cli *c = *state;
	static const char *const einval[] = {
		"",
		".",
		"..",
		"a/b",
		"/",
		"../outside",
		"../outside/sentinel",
		"./file",
		"file/",
		"//",
		"../../../../etc/passwd",
	};
	char longname[4097];

	host_write(c, "file", "keep me");
	for (size_t i = 0; i < sizeof(einval) / sizeof(einval[0]); i++)
		all_names_refused(c, einval[i], -EINVAL);
	memset(longname, 'a', 4096);
	longname[4096] = 0;
	all_names_refused(c, longname, -ENAMETOOLONG);
	memset(longname, 'b', 256);
	longname[256] = 0;
	all_names_refused(c, longname, -ENAMETOOLONG);
	/* 255 is the longest name: the host decides (ext4 and tmpfs accept it) */
	longname[255] = 0;
	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, longname, 0755, NULL), 0);
	/* nothing left the share, nothing in it changed */
	{
		char *t = host_read(c, "file");
		DIR *d = opendir(c->top);
		unsigned n = 0;

		assert_string_equal(t, "keep me");
		free(t);
		while (readdir(d))
			n++;
		closedir(d);
		assert_int_equal(n, 4); /* . .. share outside */
	}
}

static void test_symlinks_out(void **state)
{
	struct cli *c = *state;
	struct fw_entry_out e;
	struct fw_setattr_in sa;
	uint64_t esc, esc_file, rel, fh;
	char p[512];

	snprintf(p, sizeof(p), "%s/esc", c->share);
	assert_int_equal(symlink(c->outside, p), 0);
	snprintf(p, sizeof(p), "%s/esc_file", c->share);
	assert_int_equal(symlink(c->sentinel, p), 0);
	snprintf(p, sizeof(p), "%s/rel", c->share);
	assert_int_equal(symlink("../outside", p), 0);

	/* the guest sees symlinks, with their text */
	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "esc", &e), 0);
	assert_true(S_ISLNK(e.attr.mode));
	esc = e.nodeid;
	assert_int_equal(cli_call(c, FW_READLINK, esc, NULL, 0, NULL, 0), 0);
	assert_memory_equal(c->reply, c->outside, strlen(c->outside));
	esc_file = cli_node(c, FW_ROOT_ID, "esc_file");
	rel = cli_node(c, FW_ROOT_ID, "rel");

	/* ... and can never go through them */
	for (int i = 0; i < 2; i++) {
		uint64_t n = i ? rel : esc;
		struct fw_mkdir_in md = { .mode = 0755 };
		struct fw_create_in cr = { .flags = FW_O_RDWR, .mode = 0644 };

		assert_int_equal(cli_lookup(c, n, "sentinel", &e), -ENOTDIR);
		assert_int_equal(cli_opendir(c, n, &fh), -ENOTDIR);
		assert_int_equal(cli_call(c, FW_MKDIR, n, &md, sizeof(md), "x", 2), -ENOTDIR);
		assert_int_equal(cli_call(c, FW_CREATE, n, &cr, sizeof(cr), "sentinel", 9),
				 -ENOTDIR);
		assert_int_equal(cli_call(c, FW_UNLINK, n, "sentinel", 9, NULL, 0), -ENOTDIR);
	}
	assert_int_equal(cli_open(c, esc_file, FW_O_RDONLY, &fh), -ENXIO);
	assert_int_equal(cli_open(c, esc_file, FW_O_RDWR | FW_O_TRUNC, &fh), -ENXIO);
	/* CREATE over the symlink's name opens nothing */
	assert_int_equal(cli_create(c, FW_ROOT_ID, "esc_file", FW_O_RDWR | FW_O_TRUNC, 0644, NULL,
				    NULL),
			 -ELOOP);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_SIZE, .size = 0 };
	assert_int_equal(cli_call(c, FW_SETATTR, esc_file, &sa, sizeof(sa), NULL, 0), -EINVAL);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MODE, .mode = 0777 };
	assert_int_equal(cli_call(c, FW_SETATTR, esc_file, &sa, sizeof(sa), NULL, 0), -EOPNOTSUPP);
	/* times and owners of the link itself, not of what it points to */
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MTIME | FW_FATTR_ATIME,
				     .mtime = 5,
				     .atime = 5 };
	assert_int_equal(cli_call(c, FW_SETATTR, esc_file, &sa, sizeof(sa), NULL, 0), 0);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_UID, .uid = getuid() };
	assert_int_equal(cli_call(c, FW_SETATTR, esc_file, &sa, sizeof(sa), NULL, 0), 0);
	/* a hard link of the symlink is a symlink, inside the share */
	{
		struct fw_link_in ln = { .oldnodeid = esc_file };
		struct stat st;

		assert_int_equal(cli_call(c, FW_LINK, FW_ROOT_ID, &ln, sizeof(ln), "l2", 3), 0);
		assert_int_equal(host_lstat(c, "l2", &st), 0);
		assert_true(S_ISLNK(st.st_mode));
	}
}

/* The host swaps a file the guest holds for a symlink out of the share: nothing follows it. */
static void test_swapped_for_symlink(void **state)
{
	struct cli *c = *state;
	struct fw_setattr_in sa;
	uint64_t f, d, fh;
	char p[512], q[512];

	host_write(c, "f", "inside");
	f = cli_node(c, FW_ROOT_ID, "f");
	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, "d", 0755, NULL), 0);
	d = cli_node(c, FW_ROOT_ID, "d");
	snprintf(p, sizeof(p), "%s/f", c->share);
	snprintf(q, sizeof(q), "%s/d", c->share);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink(c->sentinel, p), 0);

	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &fh), -ELOOP);
	assert_int_equal(cli_open(c, f, FW_O_WRONLY | FW_O_TRUNC, &fh), -ELOOP);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_SIZE, .size = 0 };
	assert_true(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0) < 0);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MODE, .mode = 0777 };
	if (cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0) == 0) {
		struct fw_attr_out o;

		/* through the inode's own descriptor (fchmodat2): the unlinked file the guest holds */
		memcpy(&o, c->reply, sizeof(o));
		assert_int_equal(o.attr.mode, S_IFREG | 0777);
		assert_int_equal(o.attr.nlink, 0);
	}
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MTIME, .mtime = 3 };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0); /* the link's */
	/* another regular file under the same name: refused as stale, not opened */
	assert_int_equal(unlink(p), 0);
	host_write(c, "f", "impostor");
	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &fh), -ESTALE);

	/* the directory keeps working through its own descriptor, wherever its name goes */
	assert_int_equal(rmdir(q), 0);
	assert_int_equal(symlink(c->outside, q), 0);
	assert_int_equal(cli_lookup(c, d, "sentinel", NULL), -ENOENT);
	assert_int_equal(cli_call(c, FW_UNLINK, d, "sentinel", 9, NULL, 0), -ENOENT);
}

static void test_root(void **state)
{
	struct cli *c = *state;
	struct fw_entry_out e;
	struct fw_rename2_in rn2 = { .newdir = FW_ROOT_ID };
	struct fw_link_in ln = { .oldnodeid = FW_ROOT_ID };
	uint64_t fh, sub;
	struct fw_read_in rd;

	host_write(c, "only", "x");
	/* ".." of the root is the root */
	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "..", &e), 0);
	assert_int_equal(e.nodeid, FW_ROOT_ID);
	assert_true(S_ISDIR(e.attr.mode));
	/* opened, it lists the share, not the directory around it */
	assert_int_equal(cli_opendir(c, e.nodeid, &fh), 0);
	rd = (struct fw_read_in){ .fh = fh, .size = 4096 };
	assert_int_equal(cli_call(c, FW_READDIR, FW_ROOT_ID, &rd, sizeof(rd), NULL, 0), 0);
	assert_non_null(memmem(c->reply, c->reply_len, "only", 4));
	assert_null(memmem(c->reply, c->reply_len, "outside", 7));
	assert_int_equal(cli_release(c, fh, true), 0);
	/* ".." anywhere else is refused */
	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, "sub", 0755, NULL), 0);
	sub = cli_node(c, FW_ROOT_ID, "sub");
	assert_int_equal(cli_lookup(c, sub, "..", &e), -EINVAL);
	assert_int_equal(cli_lookup(c, sub, ".", &e), -EINVAL);
	/* the root cannot be renamed, removed or linked: it has no name the guest can give */
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), "..\0x", 5),
			 -EINVAL);
	assert_int_equal(cli_call(c, FW_RENAME2, sub, &rn2, sizeof(rn2), "..\0x", 5), -EINVAL);
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), ".\0x", 4),
			 -EINVAL);
	assert_int_equal(cli_call(c, FW_RMDIR, FW_ROOT_ID, "..", 3, NULL, 0), -EINVAL);
	assert_int_equal(cli_call(c, FW_RMDIR, sub, "..", 3, NULL, 0), -EINVAL);
	assert_int_equal(cli_call(c, FW_LINK, sub, &ln, sizeof(ln), "root", 5), -EPERM);
	/* moving a directory into itself is the host's to refuse */
	rn2.newdir = sub;
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), "sub\0in", 7),
			 -EINVAL);
	/* the root survives FORGET and DESTROY */
	cli_forget(c, FW_ROOT_ID, ~0ULL);
	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "only", &e), 0);
	{
		struct stat st;

		assert_int_equal(stat(c->share, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
}

/* A listing of the share: names, types, modes, sizes, mtimes and contents. */
static void snapshot(struct cli *c, const char *rel, char *out, size_t len)
{
	char p[512];
	DIR *d;
	struct dirent *de;

	snprintf(p, sizeof(p), "%s/%s", c->share, rel);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d))) {
		char r[512];
		struct stat st;
		size_t n = strlen(out);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(r, sizeof(r), "%s/%s", rel, de->d_name);
		assert_int_equal(host_lstat(c, r, &st), 0);
		snprintf(out + n, len - n, "%s %o %lld %lld.%09ld|", r, st.st_mode,
			 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		if (S_ISREG(st.st_mode)) {
			char *t = host_read(c, r);

			n = strlen(out);
			snprintf(out + n, len - n, "%s|", t);
			free(t);
		} else if (S_ISDIR(st.st_mode)) {
			snapshot(c, r, out, len);
		}
	}
	closedir(d);
}

static void test_readonly(void **state)
{
	struct cli *c = *state;
	static char before[16384], after[16384];
	uint64_t f, d, fh;
	struct fw_setattr_in sa = { .valid = FW_FATTR_MODE, .mode = 0777 };
	struct fw_mknod_in mk = { .mode = S_IFIFO | 0644 };
	struct fw_mkdir_in md = { .mode = 0755 };
	struct fw_rename_in rn = { .newdir = FW_ROOT_ID };
	struct fw_rename2_in rn2 = { .newdir = FW_ROOT_ID };
	struct fw_link_in ln;
	struct fw_write_in wr;
	struct fw_fallocate_in fa;
	struct fw_access_in ac = { .mask = W_OK };
	struct fw_entry_out e;
	char p[512];

	host_write(c, "f", "read only data");
	snprintf(p, sizeof(p), "%s/d", c->share);
	assert_int_equal(mkdir(p, 0755), 0);
	host_write(c, "d/g", "more");
	before[0] = 0;
	snapshot(c, ".", before, sizeof(before));

	f = cli_node(c, FW_ROOT_ID, "f");
	d = cli_node(c, FW_ROOT_ID, "d");
	ln = (struct fw_link_in){ .oldnodeid = f };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), -EROFS);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_SIZE, .size = 0 };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), -EROFS);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MTIME_NOW };
	assert_int_equal(cli_call(c, FW_SETATTR, d, &sa, sizeof(sa), NULL, 0), -EROFS);
	assert_int_equal(cli_call(c, FW_SYMLINK, FW_ROOT_ID, "s\0t", 4, NULL, 0), -EROFS);
	assert_int_equal(cli_call(c, FW_MKNOD, FW_ROOT_ID, &mk, sizeof(mk), "p", 2), -EROFS);
	assert_int_equal(cli_call(c, FW_MKDIR, FW_ROOT_ID, &md, sizeof(md), "m", 2), -EROFS);
	assert_int_equal(cli_call(c, FW_UNLINK, FW_ROOT_ID, "f", 2, NULL, 0), -EROFS);
	assert_int_equal(cli_call(c, FW_RMDIR, d, "g", 2, NULL, 0), -EROFS);
	assert_int_equal(cli_call(c, FW_RMDIR, FW_ROOT_ID, "d", 2, NULL, 0), -EROFS);
	assert_int_equal(cli_call(c, FW_RENAME, FW_ROOT_ID, &rn, sizeof(rn), "f\0h", 4), -EROFS);
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), "f\0h", 4), -EROFS);
	assert_int_equal(cli_call(c, FW_LINK, FW_ROOT_ID, &ln, sizeof(ln), "h", 2), -EROFS);
	assert_int_equal(cli_create(c, FW_ROOT_ID, "new", FW_O_WRONLY, 0644, NULL, NULL), -EROFS);
	assert_int_equal(cli_create(c, FW_ROOT_ID, "f", FW_O_RDONLY, 0644, NULL, NULL), -EROFS);
	assert_int_equal(cli_open(c, f, FW_O_WRONLY, &fh), -EROFS);
	assert_int_equal(cli_open(c, f, FW_O_RDWR, &fh), -EROFS);
	assert_int_equal(cli_open(c, f, FW_O_RDONLY | FW_O_TRUNC, &fh), -EROFS);
	assert_int_equal(cli_open(c, f, FW_O_RDONLY | FW_O_APPEND, &fh), 0);
	wr = (struct fw_write_in){ .fh = fh, .size = 3 };
	assert_int_equal(cli_call(c, FW_WRITE, f, &wr, sizeof(wr), "abc", 3), -EROFS);
	fa = (struct fw_fallocate_in){ .fh = fh, .length = 1 << 20 };
	assert_int_equal(cli_call(c, FW_FALLOCATE, f, &fa, sizeof(fa), NULL, 0), -EROFS);
	assert_int_equal(cli_call(c, FW_ACCESS, f, &ac, sizeof(ac), NULL, 0), -EROFS);
	/* reading works */
	assert_int_equal(cli_read(c, fh, 0, 100), 14);
	assert_memory_equal(c->reply, "read only data", 14);
	assert_int_equal(cli_release(c, fh, false), 0);
	assert_int_equal(cli_lookup(c, d, "g", &e), 0);

	after[0] = 0;
	snapshot(c, ".", after, sizeof(after));
	assert_string_equal(before, after);
}

/*
 * A guest that looks up without ever forgetting: the inode table stops at its cap with ENFILE,
 * the VMM's descriptors stay bounded, and what the guest holds keeps working: a million lookups,
 * ~16000 times the cap.
 */
static void test_lookups_without_forget(void **state)
{
	struct cli *c = *state;
	enum { FILES = 200, LOOKUPS = 1000000 };
	struct fs_server_stats st;
	uint64_t held[64] = { 0 };
	unsigned fds0 = count_fds(), ok = 0, refused = 0, nheld = 0;
	char name[32];

	for (int i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		host_write(c, name, name);
	}
	for (int i = 0; i < LOOKUPS; i++) {
		struct fw_entry_out e;
		int r;

		snprintf(name, sizeof(name), "f%03d", i % FILES);
		r = cli_lookup(c, FW_ROOT_ID, name, &e);
		if (r == 0) {
			ok++;
			if (i < FILES && nheld < 64)
				held[nheld++] = e.nodeid;
		} else {
			assert_int_equal(r, -ENFILE);
			refused++;
		}
	}
	fs_server_stats(c->s, &st);
	assert_int_equal(st.max_inodes, 64);
	assert_int_equal(st.inodes, 64); /* the root and 63 files */
	assert_int_equal(nheld, 63);
	assert_int_equal(refused, LOOKUPS - ok);
	assert_true(refused > LOOKUPS / 2);
	assert_true(count_fds() <= fds0 + 64);
	/* what the guest holds still works */
	{
		struct fw_attr a;
		uint64_t fh;

		assert_int_equal(cli_getattr(c, held[5], &a), 0);
		assert_int_equal(cli_open(c, held[5], FW_O_RDONLY, &fh), 0);
		assert_int_equal(cli_read(c, fh, 0, 10), 4);
		assert_int_equal(cli_release(c, fh, false), 0);
	}
	/* creating is refused too, before anything appears on the host */
	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, "more", 0755, NULL), -ENFILE);
	assert_false(host_exists(c, "more"));
	/* forgetting (however many lookups it was) frees the table */
	for (unsigned i = 0; i < nheld; i++)
		cli_forget(c, held[i], ~0ULL);
	fs_server_stats(c->s, &st);
	assert_int_equal(st.inodes, 1);
	assert_true(count_fds() <= fds0 + 1);
	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "f199", NULL), 0);
}

static void test_open_cap_and_destroy(void **state)
{
	struct cli *c = *state;
	uint64_t f, fh[8], extra;
	struct fs_server_stats st;

	host_write(c, "f", "x");
	f = cli_node(c, FW_ROOT_ID, "f");
	for (int i = 0; i < 7; i++)
		assert_int_equal(cli_open(c, f, FW_O_RDONLY, &fh[i]), 0);
	assert_int_equal(cli_opendir(c, FW_ROOT_ID, &fh[7]), 0);
	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &extra), -ENFILE);
	assert_int_equal(cli_opendir(c, FW_ROOT_ID, &extra), -ENFILE);
	assert_int_equal(cli_create(c, FW_ROOT_ID, "g", FW_O_RDWR, 0644, NULL, NULL), -ENFILE);
	/* the refused CREATE left no inode behind for the guest */
	fs_server_stats(c->s, &st);
	assert_int_equal(st.inodes, 2);
	assert_int_equal(cli_release(c, fh[0], false), 0);
	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &fh[0]), 0);
	/* a file the guest forgot stays open until released */
	cli_forget(c, f, 1);
	assert_int_equal(cli_read(c, fh[1], 0, 10), 1);
	/* DESTROY lets go of everything */
	assert_int_equal(cli_call(c, FW_DESTROY, 0, NULL, 0, NULL, 0), 0);
	fs_server_stats(c->s, &st);
	assert_int_equal(st.inodes, 1);
	assert_int_equal(st.handles, 0);
	{
		struct fw_init_in in = { .major = 7, .minor = 38 };

		assert_int_equal(cli_call(c, FW_INIT, 0, &in, sizeof(in), NULL, 0), 0);
	}
	assert_int_equal(cli_read(c, fh[1], 0, 10), -EBADF);
	assert_int_equal(cli_release(c, fh[1], false), -EBADF);
	assert_int_equal(cli_open(c, cli_node(c, FW_ROOT_ID, "f"), FW_O_RDONLY, &fh[1]), 0);
}

/* Without explicit caps they come from RLIMIT_NOFILE: half of it, over eight shares at most. */
static void test_default_caps(void **state)
{
	struct cli *c = *state;
	struct fs_server_stats st;
	struct rlimit rl;

	fs_server_stats(c->s, &st);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(st.max_inodes >= 64 && st.max_handles >= 32);
	assert_true(st.max_inodes <= 131072 && st.max_handles <= 16384);
	assert_true(st.max_inodes + st.max_handles <= max_u64(rl.rlim_cur / 2 / 8, 96));
	/* the soft limit was raised to what the hard one allows (up to Linux's nr_open) */
	assert_true(rl.rlim_cur == rl.rlim_max || rl.rlim_cur >= (1u << 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapped_for_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_lookups_without_forget, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_open_cap_and_destroy, setup_small, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
