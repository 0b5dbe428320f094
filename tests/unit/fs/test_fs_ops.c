// SPDX-License-Identifier: MIT
/* The FUSE server against a temporary directory: every operation and its error paths. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/capability.h>
#include <sys/syscall.h>
#endif

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

static int teardown(void **state)
{
	cli_teardown(*state);
	free(*state);
	return 0;
}

static void test_init_versions(void **state)
{
	struct cli *c = *state;
	struct fw_init_in in = { .major = 7,
				 .minor = 38,
				 .max_readahead = 131072,
				 .flags = FW_INIT_DO_READDIRPLUS | FW_INIT_MAX_PAGES | (1u << 31) };
	struct fw_init_out o;
	struct fw_getattr_in g = { 0 };

	assert_int_equal(cli_call(c, FW_INIT, 0, &in, sizeof(in), NULL, 0), 0);
	assert_int_equal(c->reply_len, sizeof(o));
	memcpy(&o, c->reply, sizeof(o));
	assert_int_equal(o.major, 7);
	assert_int_equal(o.minor, 38);
	assert_true(o.minor >= FW_MINOR_MIN);
	assert_int_equal(o.flags, FW_INIT_DO_READDIRPLUS | FW_INIT_MAX_PAGES);
	assert_int_equal(o.max_readahead, 131072);
	assert_true(o.max_write >= 4096);
	assert_int_equal(o.max_pages * 4096u, o.max_write);

	/* an old kernel's 16-byte INIT, a newer minor: we answer with ours */
	in.minor = 40;
	assert_int_equal(cli_call(c, FW_INIT, 0, &in, FW_INIT_IN_SIZE_OLD, NULL, 0), 0);
	memcpy(&o, c->reply, sizeof(o));
	assert_int_equal(o.minor, 38);
	/* older than 7.31: refused */
	in.minor = 30;
	assert_int_equal(cli_call(c, FW_INIT, 0, &in, sizeof(in), NULL, 0), -EPROTO);
	in.major = 6;
	in.minor = 40;
	assert_int_equal(cli_call(c, FW_INIT, 0, &in, sizeof(in), NULL, 0), -EPROTO);
	/* a newer major: our major comes back so the kernel can ask again */
	in.major = 8;
	assert_int_equal(cli_call(c, FW_INIT, 0, &in, sizeof(in), NULL, 0), 0);
	memcpy(&o, c->reply, sizeof(o));
	assert_int_equal(o.major, 7);
	/* INIT shorter than its 16 bytes */
	assert_int_equal(cli_call(c, FW_INIT, 0, &in, 8, NULL, 0), -EINVAL);

	/* after DESTROY, nothing but INIT */
	assert_int_equal(cli_call(c, FW_DESTROY, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(cli_call(c, FW_GETATTR, FW_ROOT_ID, &g, sizeof(g), NULL, 0), -EIO);
}

static void test_lookup_getattr(void **state)
{
	struct cli *c = *state;
	struct fw_entry_out e, e2;
	struct fw_attr a;
	struct stat st;

	host_write(c, "hello", "hello, guest\n");
	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "hello", &e), 0);
	assert_int_equal(host_lstat(c, "hello", &st), 0);
	assert_int_equal(e.attr.ino, st.st_ino);
	assert_int_equal(e.attr.size, 13);
	assert_true(S_ISREG(e.attr.mode));
	assert_true(e.nodeid > FW_ROOT_ID);
	/* the same file is the same nodeid */
	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "hello", &e2), 0);
	assert_int_equal(e2.nodeid, e.nodeid);
	assert_int_equal(cli_getattr(c, e.nodeid, &a), 0);
	assert_int_equal(a.size, 13);
	assert_int_equal(cli_getattr(c, FW_ROOT_ID, &a), 0);
	assert_true(S_ISDIR(a.mode));

	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "missing", &e), -ENOENT);
	/* a file is no directory */
	assert_int_equal(cli_lookup(c, e2.nodeid, "x", &e), -ENOTDIR);
	/* made-up node ids */
	assert_int_equal(cli_lookup(c, 0, "hello", &e), -ENOENT);
	assert_int_equal(cli_lookup(c, 0xdeadbeef, "hello", &e), -ENOENT);
	assert_int_equal(cli_getattr(c, ~0ULL, &a), -ENOENT);

	/* forgotten twice: gone for the guest */
	cli_forget(c, e2.nodeid, 2);
	assert_int_equal(cli_getattr(c, e2.nodeid, &a), -ENOENT);
}

static void test_create_write_read(void **state)
{
	struct cli *c = *state;
	struct fw_entry_out e;
	uint64_t fh, fh2;
	char *text, big[70000];
	struct stat st;
	struct fw_fsync_in fs;
	struct fw_flush_in fl;

	assert_int_equal(cli_create(c, FW_ROOT_ID, "new", FW_O_RDWR, S_IFREG | 0640, &e, &fh), 0);
	assert_int_equal(host_lstat(c, "new", &st), 0);
	/* the mode the guest asked for, not reduced by the VMM's umask */
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(cli_write(c, fh, 0, "abcdef", 6), 6);
	assert_int_equal(cli_write(c, fh, 3, "XY", 2), 2);
	assert_int_equal(cli_read(c, fh, 0, 100), 6);
	assert_memory_equal(c->reply, "abcXYf", 6);
	assert_int_equal(cli_read(c, fh, 4, 1), 1);
	assert_memory_equal(c->reply, "Y", 1);
	assert_int_equal(cli_read(c, fh, 100, 10), 0);
	fs = (struct fw_fsync_in){ .fh = fh, .fsync_flags = FW_FSYNC_FDATASYNC };
	assert_int_equal(cli_call(c, FW_FSYNC, e.nodeid, &fs, sizeof(fs), NULL, 0), 0);
	fl = (struct fw_flush_in){ .fh = fh };
	assert_int_equal(cli_call(c, FW_FLUSH, e.nodeid, &fl, sizeof(fl), NULL, 0), 0);
	assert_int_equal(cli_release(c, fh, false), 0);
	/* released: the fh is dead */
	assert_int_equal(cli_read(c, fh, 0, 10), -EBADF);
	assert_int_equal(cli_release(c, fh, false), -EBADF);
	text = host_read(c, "new");
	assert_string_equal(text, "abcXYf");
	free(text);

	/* a large write spread over the reply room: read back in two pieces */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(cli_open(c, e.nodeid, FW_O_RDWR | FW_O_TRUNC, &fh2), 0);
	assert_int_equal(host_lstat(c, "new", &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(cli_write(c, fh2, 0, big, sizeof(big)), (int)sizeof(big));
	assert_int_equal(cli_read(c, fh2, 0, 65536), 65536);
	assert_memory_equal(c->reply, big, 65536);
	assert_int_equal(cli_read(c, fh2, 65536, 65536), (int)sizeof(big) - 65536);
	assert_memory_equal(c->reply, big + 65536, sizeof(big) - 65536);
	assert_int_equal(cli_release(c, fh2, false), 0);

	/* O_EXCL on an existing name; CREATE over a directory */
	assert_int_equal(cli_create(c, FW_ROOT_ID, "new", FW_O_RDWR | FW_O_EXCL, 0644, NULL, NULL),
			 -EEXIST);
	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, "d", 0755, NULL), 0);
	assert_int_equal(cli_create(c, FW_ROOT_ID, "d", FW_O_RDWR, 0644, NULL, NULL), -EISDIR);
	/* OPEN of a directory, OPENDIR of a file */
	assert_int_equal(cli_open(c, cli_node(c, FW_ROOT_ID, "d"), FW_O_RDONLY, &fh), -EISDIR);
	assert_int_equal(cli_opendir(c, e.nodeid, &fh), -ENOTDIR);
}

static void test_write_bounds(void **state)
{
	struct cli *c = *state;
	uint64_t fh;
	struct fw_write_in in;
	char data[64] = "0123456789";

	assert_int_equal(cli_create(c, FW_ROOT_ID, "w", FW_O_RDWR, 0644, NULL, &fh), 0);
	/* the header says more data than the request has */
	in = (struct fw_write_in){ .fh = fh, .offset = 0, .size = 65 };
	assert_int_equal(cli_call(c, FW_WRITE, FW_ROOT_ID, &in, sizeof(in), data, 64), -EINVAL);
	/* an offset past what the host can represent */
	in = (struct fw_write_in){ .fh = fh, .offset = ~0ULL - 2, .size = 4 };
	assert_int_equal(cli_call(c, FW_WRITE, FW_ROOT_ID, &in, sizeof(in), data, 4), -EFBIG);
	/* a made-up fh, and a directory handle used as a file */
	in = (struct fw_write_in){ .fh = fh + (1ULL << 32), .size = 4 };
	assert_int_equal(cli_call(c, FW_WRITE, FW_ROOT_ID, &in, sizeof(in), data, 4), -EBADF);
	{
		uint64_t dfh;
		struct fw_read_in r;

		assert_int_equal(cli_opendir(c, FW_ROOT_ID, &dfh), 0);
		in = (struct fw_write_in){ .fh = dfh, .size = 4 };
		assert_int_equal(cli_call(c, FW_WRITE, FW_ROOT_ID, &in, sizeof(in), data, 4),
				 -EBADF);
		r = (struct fw_read_in){ .fh = fh, .size = 4096 };
		assert_int_equal(cli_call(c, FW_READDIR, FW_ROOT_ID, &r, sizeof(r), NULL, 0),
				 -EBADF);
		assert_int_equal(cli_release(c, dfh, false), -EBADF);
		assert_int_equal(cli_release(c, dfh, true), 0);
	}
	assert_int_equal(cli_write(c, fh, 0, data, 10), 10);
	assert_int_equal(cli_release(c, fh, false), 0);
}

static void test_names(void **state)
{
	struct cli *c = *state;
	struct fw_entry_out e;
	struct fw_attr a;
	struct stat st;
	uint64_t d, f, dfh;
	struct fw_rename2_in rn;
	struct fw_link_in ln;
	struct fw_mknod_in mk;
	char *text;

	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, "dir", 0750 | S_ISUID | S_ISGID, &e), 0);
	d = e.nodeid;
	assert_int_equal(host_lstat(c, "dir", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* set-id bits never reach the host */
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, "dir", 0750, NULL), -EEXIST);

	assert_int_equal(cli_create(c, d, "file", FW_O_WRONLY, 0644, &e, &dfh), 0);
	f = e.nodeid;
	assert_int_equal(cli_write(c, dfh, 0, "data", 4), 4);
	assert_int_equal(cli_release(c, dfh, false), 0);

	/* symlink + readlink: the target is stored, never resolved */
	assert_int_equal(cli_call(c, FW_SYMLINK, d, "sl", 3, "../../../etc/passwd", 20), 0);
	memcpy(&e, c->reply, sizeof(e));
	assert_true(S_ISLNK(e.attr.mode));
	assert_int_equal(cli_call(c, FW_READLINK, e.nodeid, NULL, 0, NULL, 0), 0);
	assert_int_equal(c->reply_len, 19);
	assert_memory_equal(c->reply, "../../../etc/passwd", 19);
	assert_int_equal(cli_call(c, FW_READLINK, f, NULL, 0, NULL, 0), -EINVAL);
	/* a reply room too small for the target */
	assert_int_equal(cli_call_room(c, FW_READLINK, e.nodeid, NULL, 0, NULL, 0, 10), -ERANGE);
	assert_int_equal(cli_call(c, FW_SYMLINK, d, "sl2", 4, "", 1), -EINVAL);

	/* link */
	ln = (struct fw_link_in){ .oldnodeid = f };
	assert_int_equal(cli_call(c, FW_LINK, FW_ROOT_ID, &ln, sizeof(ln), "hard", 5), 0);
	memcpy(&e, c->reply, sizeof(e));
	assert_int_equal(e.nodeid, f);
	assert_int_equal(e.attr.nlink, 2);
	ln.oldnodeid = d;
	assert_int_equal(cli_call(c, FW_LINK, FW_ROOT_ID, &ln, sizeof(ln), "dl", 3), -EPERM);

	/* mknod: regular files and fifos, nothing else */
	mk = (struct fw_mknod_in){ .mode = S_IFIFO | 0600 };
	assert_int_equal(cli_call(c, FW_MKNOD, d, &mk, sizeof(mk), "fifo", 5), 0);
	assert_int_equal(host_lstat(c, "dir/fifo", &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	mk = (struct fw_mknod_in){ .mode = S_IFREG | 0600 | S_ISUID };
	assert_int_equal(cli_call(c, FW_MKNOD, d, &mk, sizeof(mk), "reg", 4), 0);
	assert_int_equal(host_lstat(c, "dir/reg", &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	mk = (struct fw_mknod_in){ .mode = S_IFCHR | 0666, .rdev = (1 << 8) | 3 };
	assert_int_equal(cli_call(c, FW_MKNOD, d, &mk, sizeof(mk), "null", 5), -EPERM);
	mk = (struct fw_mknod_in){ .mode = S_IFBLK | 0666, .rdev = (8 << 8) };
	assert_int_equal(cli_call(c, FW_MKNOD, d, &mk, sizeof(mk), "sda", 4), -EPERM);
	mk = (struct fw_mknod_in){ .mode = S_IFSOCK | 0666 };
	assert_int_equal(cli_call(c, FW_MKNOD, d, &mk, sizeof(mk), "sock", 5), -EPERM);
	assert_false(host_exists(c, "dir/null") || host_exists(c, "dir/sda") ||
		     host_exists(c, "dir/sock"));
	/* a fifo is not opened by the server: the guest's kernel serves it */
	assert_int_equal(cli_open(c, cli_node(c, d, "fifo"), FW_O_RDONLY, &dfh), -ENXIO);

	/* rename, and the server follows the file: it can still be opened by its nodeid */
	assert_int_equal(cli_call(c, FW_RENAME, d, &(struct fw_rename_in){ .newdir = FW_ROOT_ID },
				  8, "file\0moved", 11),
			 0);
	assert_false(host_exists(c, "dir/file"));
	text = host_read(c, "moved");
	assert_string_equal(text, "data");
	free(text);
	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &dfh), 0);
	assert_int_equal(cli_read(c, dfh, 0, 10), 4);
	assert_int_equal(cli_release(c, dfh, false), 0);
	/* rename2: NOREPLACE refuses, EXCHANGE swaps, WHITEOUT is refused */
	rn = (struct fw_rename2_in){ .newdir = FW_ROOT_ID, .flags = FW_RENAME_NOREPLACE };
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn, sizeof(rn), "hard\0moved", 11),
			 -EEXIST);
	host_write(c, "other", "other");
	rn.flags = FW_RENAME_EXCHANGE;
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn, sizeof(rn), "other\0moved", 12),
			 0);
	text = host_read(c, "other");
	assert_string_equal(text, "data");
	free(text);
	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &dfh), 0); /* f is now "other" */
	assert_int_equal(cli_read(c, dfh, 0, 10), 4);
	assert_memory_equal(c->reply, "data", 4);
	assert_int_equal(cli_release(c, dfh, false), 0);
	rn.flags = FW_RENAME_WHITEOUT;
	assert_int_equal(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn, sizeof(rn), "other\0moved", 12),
			 -EINVAL);

	/* unlink, rmdir */
	assert_int_equal(cli_call(c, FW_RMDIR, FW_ROOT_ID, "dir", 4, NULL, 0), -ENOTEMPTY);
	assert_int_equal(cli_call(c, FW_UNLINK, FW_ROOT_ID, "dir", 4, NULL, 0), -EISDIR);
	assert_int_equal(cli_call(c, FW_UNLINK, d, "fifo", 5, NULL, 0), 0);
	assert_int_equal(cli_call(c, FW_UNLINK, d, "reg", 4, NULL, 0), 0);
	assert_int_equal(cli_call(c, FW_UNLINK, d, "sl", 3, NULL, 0), 0);
	assert_int_equal(cli_call(c, FW_UNLINK, d, "sl", 3, NULL, 0), -ENOENT);
	assert_int_equal(cli_call(c, FW_RMDIR, FW_ROOT_ID, "dir", 4, NULL, 0), 0);
	assert_false(host_exists(c, "dir"));
	/* the directory's inode is still the guest's until FORGET, but it is gone */
	assert_int_equal(cli_getattr(c, d, &a), 0);
	assert_int_equal(a.nlink, 0);
}

static void test_setattr(void **state)
{
	struct cli *c = *state;
	struct fw_setattr_in sa;
	struct fw_attr_out o;
	struct stat st;
	uint64_t f, fh;

	host_write(c, "f", "0123456789");
	f = cli_node(c, FW_ROOT_ID, "f");
	/* chmod: set-id bits dropped */
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MODE, .mode = 0600 | S_ISUID | S_ISGID };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	memcpy(&o, c->reply, sizeof(o));
	assert_int_equal(o.attr.mode, S_IFREG | 0600);
	assert_int_equal(host_lstat(c, "f", &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	/* truncate by path and through an open file */
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_SIZE, .size = 4 };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	memcpy(&o, c->reply, sizeof(o));
	assert_int_equal(o.attr.size, 4);
	assert_int_equal(cli_open(c, f, FW_O_RDWR, &fh), 0);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_SIZE | FW_FATTR_FH, .size = 2, .fh = fh };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	assert_int_equal(host_lstat(c, "f", &st), 0);
	assert_int_equal(st.st_size, 2);
	sa.fh = fh + 1;
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), -EBADF);
	assert_int_equal(cli_release(c, fh, false), 0);
	/* times */
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_ATIME | FW_FATTR_MTIME,
				     .atime = 12345,
				     .mtime = 67890,
				     .mtimensec = 5 };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	assert_int_equal(host_lstat(c, "f", &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 12345);
	assert_int_equal(st.st_mtim.tv_sec, 67890);
	assert_int_equal(st.st_mtim.tv_nsec, 5);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MTIME_NOW };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	assert_int_equal(host_lstat(c, "f", &st), 0);
	assert_true(st.st_mtim.tv_sec > 67890);
	assert_int_equal(st.st_atim.tv_sec, 12345);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MTIME, .mtime = 777 };
	assert_int_equal(cli_call(c, FW_SETATTR, FW_ROOT_ID, &sa, sizeof(sa), NULL, 0), 0);
	assert_int_equal(stat(c->share, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 777);
	/* chown to who we are is allowed; a directory cannot be truncated */
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_UID | FW_FATTR_GID,
				     .uid = getuid(),
				     .gid = getgid() };
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_SIZE, .size = 0 };
	assert_int_equal(cli_call(c, FW_SETATTR, FW_ROOT_ID, &sa, sizeof(sa), NULL, 0), -EISDIR);
}

static void test_readdir(void **state)
{
	struct cli *c = *state;
	enum { N = 300 };
	bool seen[N] = { false };
	unsigned dots = 0, total = 0;
	uint64_t fh, off = 0;
	char name[32];
	struct fs_server_stats st0, st1;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "entry-%03d", i);
		host_write(c, name, "x");
	}
	fs_server_stats(c->s, &st0);
	for (int plus = 0; plus < 2; plus++) {
		memset(seen, 0, sizeof(seen));
		dots = total = 0;
		off = 0;
		assert_int_equal(cli_opendir(c, FW_ROOT_ID, &fh), 0);
		for (;;) {
			struct fw_read_in in = { .fh = fh, .offset = off, .size = 1024 };
			size_t pos = 0, n;

			assert_int_equal(cli_call_room(c, plus ? FW_READDIRPLUS : FW_READDIR,
						       FW_ROOT_ID, &in, sizeof(in), NULL, 0, 1024),
					 0);
			n = c->reply_len;
			if (!n)
				break;
			assert_true(n <= 1024);
			while (pos < n) {
				struct fw_dirent d;
				size_t hdr = plus ? sizeof(struct fw_entry_out) : 0;
				struct fw_entry_out eo;
				char nm[300] = { 0 };
				int idx;

				memcpy(&eo, c->reply + pos, sizeof(eo));
				memcpy(&d, c->reply + pos + hdr, sizeof(d));
				assert_true(d.namelen > 0 && d.namelen < 256);
				memcpy(nm, c->reply + pos + hdr + sizeof(d), d.namelen);
				pos += FW_DIRENT_ALIGN(hdr + sizeof(d) + d.namelen);
				off = d.off;
				total++;
				if (!strcmp(nm, ".") || !strcmp(nm, "..")) {
					dots++;
					continue;
				}
				assert_int_equal(sscanf(nm, "entry-%d", &idx), 1);
				assert_false(seen[idx]);
				seen[idx] = true;
				if (plus) {
					assert_true(eo.nodeid > FW_ROOT_ID);
					assert_int_equal(eo.attr.ino, d.ino);
					assert_int_equal(eo.attr.size, 1);
				}
			}
			assert_int_equal(pos, n);
		}
		assert_int_equal(dots, 2);
		assert_int_equal(total, N + 2);
		for (int i = 0; i < N; i++)
			assert_true(seen[i]);
		{
			struct fw_fsync_in fs = { .fh = fh };

			assert_int_equal(
				cli_call(c, FW_FSYNCDIR, FW_ROOT_ID, &fs, sizeof(fs), NULL, 0), 0);
		}
		assert_int_equal(cli_release(c, fh, true), 0);
	}
	/* READDIRPLUS handed out a reference to each entry, as LOOKUP does */
	fs_server_stats(c->s, &st1);
	assert_int_equal(st1.inodes, st0.inodes + N);
	assert_int_equal(st1.handles, 0);
	{
		struct fw_entry_out e;

		assert_int_equal(cli_lookup(c, FW_ROOT_ID, "entry-007", &e), 0);
		cli_forget(c, e.nodeid, 2);
	}
	fs_server_stats(c->s, &st1);
	assert_int_equal(st1.inodes, st0.inodes + N - 1);
}

static void test_file_ops(void **state)
{
	struct cli *c = *state;
	uint64_t fh, f;
	struct fw_entry_out e;
	struct fw_fallocate_in fa;
	struct fw_lseek_in ls;
	struct fw_lseek_out lo;
	struct fw_statfs_out so;
	struct fw_access_in ac;
	struct stat st;

	assert_int_equal(cli_create(c, FW_ROOT_ID, "sparse", FW_O_RDWR, 0644, &e, &fh), 0);
	f = e.nodeid;
	(void)st;
	fa = (struct fw_fallocate_in){ .fh = fh, .offset = 0, .length = 1 << 20 };
#ifdef __linux__
	assert_int_equal(cli_call(c, FW_FALLOCATE, f, &fa, sizeof(fa), NULL, 0), 0);
	assert_int_equal(host_lstat(c, "sparse", &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	fa = (struct fw_fallocate_in){ .fh = fh, .length = 1, .mode = 0x10 /* COLLAPSE_RANGE */ };
#endif
	/* macOS: none; Linux: not collapse, insert or zero range */
	assert_int_equal(cli_call(c, FW_FALLOCATE, f, &fa, sizeof(fa), NULL, 0), -EOPNOTSUPP);
	assert_int_equal(cli_write(c, fh, 3 << 20, "end", 3), 3);
	ls = (struct fw_lseek_in){ .fh = fh, .offset = 0, .whence = 2 };
	assert_int_equal(cli_call(c, FW_LSEEK, f, &ls, sizeof(ls), NULL, 0), 0);
	memcpy(&lo, c->reply, sizeof(lo));
	assert_int_equal(lo.offset, (3 << 20) + 3);
	ls = (struct fw_lseek_in){ .fh = fh, .offset = 0, .whence = FW_SEEK_DATA };
	assert_int_equal(cli_call(c, FW_LSEEK, f, &ls, sizeof(ls), NULL, 0), 0);
	ls.whence = 9;
	assert_int_equal(cli_call(c, FW_LSEEK, f, &ls, sizeof(ls), NULL, 0), -EINVAL);
	assert_int_equal(cli_release(c, fh, false), 0);

	assert_int_equal(cli_call(c, FW_STATFS, FW_ROOT_ID, NULL, 0, NULL, 0), 0);
	memcpy(&so, c->reply, sizeof(so));
	assert_true(so.st.blocks > 0 && so.st.bsize > 0 && so.st.namelen > 0);

	ac = (struct fw_access_in){ .mask = R_OK | W_OK };
	assert_int_equal(cli_call(c, FW_ACCESS, f, &ac, sizeof(ac), NULL, 0), 0);
	assert_int_equal(cli_call(c, FW_ACCESS, FW_ROOT_ID, &ac, sizeof(ac), NULL, 0), 0);
}

static void test_unsupported_and_malformed(void **state)
{
	struct cli *c = *state;
	static const uint32_t enosys[] = { FW_SETXATTR,
					   FW_GETXATTR,
					   FW_LISTXATTR,
					   FW_REMOVEXATTR,
					   FW_GETLK,
					   FW_SETLK,
					   FW_SETLKW,
					   FW_IOCTL,
					   FW_POLL,
					   FW_BMAP,
					   FW_SETUPMAPPING,
					   FW_REMOVEMAPPING,
					   FW_COPY_FILE_RANGE,
					   FW_TMPFILE,
					   FW_SYNCFS,
					   7,
					   19,
					   52,
					   1000,
					   0xffffffffu };
	uint8_t junk[256] = { 0 };
	struct fw_in_header h = { .len = 10000, .opcode = FW_GETATTR, .nodeid = FW_ROOT_ID };
	struct fw_out_header oh;
	struct iovec in = { &h, sizeof(h) }, out = { &oh, sizeof(oh) };

	for (size_t i = 0; i < sizeof(enosys) / sizeof(enosys[0]); i++)
		assert_int_equal(cli_call(c, enosys[i], FW_ROOT_ID, junk, sizeof(junk), NULL, 0),
				 -ENOSYS);
	/* arguments shorter than the operation's */
	assert_int_equal(cli_call(c, FW_GETATTR, FW_ROOT_ID, junk, 4, NULL, 0), -EINVAL);
	assert_int_equal(cli_call(c, FW_SETATTR, FW_ROOT_ID, junk, 40, NULL, 0), -EINVAL);
	/* a header longer than the chain, shorter than itself, or cut short: no reply */
	assert_int_equal(fs_server_handle(c->s, c->sc, &in, 1, &out, 1), 0);
	h.len = 8;
	assert_int_equal(fs_server_handle(c->s, c->sc, &in, 1, &out, 1), 0);
	in.iov_len = 20;
	assert_int_equal(fs_server_handle(c->s, c->sc, &in, 1, &out, 1), 0);
	assert_int_equal(fs_server_handle(c->s, c->sc, NULL, 0, &out, 1), 0);
	/* no room for the reply header: nothing written */
	h.len = sizeof(h) + 16;
	in.iov_len = sizeof(h);
	out.iov_len = 8;
	assert_int_equal(fs_server_handle(c->s, c->sc,
					  (struct iovec[]){ { &h, sizeof(h) }, { junk, 16 } }, 2,
					  &out, 1),
			 0);
	/* a reply room too small for the fixed reply: refused before anything is done */
	assert_int_equal(cli_call_room(c, FW_MKDIR, FW_ROOT_ID, &(struct fw_mkdir_in){ 0755, 0 }, 8,
				       "nope", 5, 16),
			 -EINVAL);
	assert_false(host_exists(c, "nope"));
	/* a name that is not NUL-terminated within the request */
	assert_int_equal(cli_call(c, FW_LOOKUP, FW_ROOT_ID, "abc", 3, NULL, 0), -EINVAL);
	assert_int_equal(cli_call(c, FW_RENAME, FW_ROOT_ID, &(struct fw_rename_in){ FW_ROOT_ID }, 8,
				  "a\0b", 3),
			 -EINVAL);
	/* FORGET and BATCH_FORGET never answer, whatever they name */
	{
		uint8_t b[8 + 3 * 16] = { 0 };
		struct fw_batch_forget_in bf = { .count = 1000000 };

		memcpy(b, &bf, sizeof(bf));
		assert_int_equal(cli_call(c, FW_BATCH_FORGET, 0, b, sizeof(b), NULL, 0), -1000);
		cli_forget(c, FW_ROOT_ID, 1000);
		cli_forget(c, 12345, 1);
	}
	/* the root survives a FORGET */
	{
		struct fw_attr a;

		assert_int_equal(cli_getattr(c, FW_ROOT_ID, &a), 0);
	}
}

/* An inode the guest forgot lives on while a child names it as parent, and not longer. */
static void test_parent_released(void **state)
{
	struct cli *c = *state;
	struct fw_entry_out e;
	struct fs_server_stats st;
	uint64_t a, f, fh;
	char from[600], to[600];

	assert_int_equal(cli_mkdir(c, FW_ROOT_ID, "a", 0755, &e), 0);
	a = e.nodeid;
	assert_int_equal(cli_create(c, a, "f", FW_O_RDWR, 0644, &e, &fh), 0);
	f = e.nodeid;
	assert_int_equal(cli_release(c, fh, false), 0);
	cli_forget(c, a, 1);
	fs_server_stats(c->s, &st);
	assert_int_equal(st.inodes, 3); /* f still needs a's descriptor to be opened again */
	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &fh), 0);
	assert_int_equal(cli_release(c, fh, false), 0);
	/* the host moves f out of a; the guest finds it at its new place */
	snprintf(from, sizeof(from), "%s/a/f", c->share);
	snprintf(to, sizeof(to), "%s/f", c->share);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(cli_lookup(c, FW_ROOT_ID, "f", &e), 0);
	assert_int_equal(e.nodeid, f);
	fs_server_stats(c->s, &st);
	assert_int_equal(st.inodes, 2);
	assert_int_equal(cli_open(c, f, FW_O_RDONLY, &fh), 0);
	assert_int_equal(cli_release(c, fh, false), 0);
}

/*
 * chmod of a file that the server's user may neither read nor write (mode 000, or another
 * user's): the mode changes through the inode's descriptor, with no open. Run in a child
 * without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so that root too meets the permission
 * check a user would.
 */
static void test_chmod_unopenable(void **state)
{
#ifdef __linux__
	struct cli *c = *state;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct cap[2];
	struct fw_setattr_in sa = { .valid = FW_FATTR_MODE, .mode = 0640 };
	struct stat st;
	char p[512];
	uint64_t f;
	pid_t pid;
	int status;

	/* 452: fchmodat2, Linux 6.6; without it the server can only open the file, as before */
	if (syscall(452, AT_FDCWD, "/nonexistent-ignition", 0, 0) < 0 && errno == ENOSYS)
		skip();
	host_write(c, "locked", "secret");
	snprintf(p, sizeof(p), "%s/locked", c->share);
	assert_int_equal(chmod(p, 0), 0);
	f = cli_node(c, FW_ROOT_ID, "locked");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fw_attr_out o;

		if (syscall(SYS_capget, &h, cap))
			_exit(10);
		cap[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
		if (syscall(SYS_capset, &h, cap))
			_exit(11);
		/* the premise: the file cannot be opened either way */
		if (open(p, O_RDONLY) >= 0 || errno != EACCES || open(p, O_WRONLY) >= 0)
			_exit(12);
		if (cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0) != 0)
			_exit(13);
		memcpy(&o, c->reply, sizeof(o));
		_exit(o.attr.mode == (S_IFREG | 0640) ? 0 : 14);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	/* set-id bits still never reach the host on this path */
	assert_int_equal(chmod(p, 0), 0);
	sa.mode = 0750 | S_ISUID | S_ISGID;
	assert_int_equal(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0750);
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_getattr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setattr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chmod_unopenable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_and_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_released, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
