// SPDX-License-Identifier: MIT
/*
 * The FUSE server under the VMM's seccomp filter with exactly what fs_server_syscalls adds:
 * every operation runs in a sandboxed child, which the filter would kill (SIGSYS, naming the
 * call) on anything missing from the list. /proc is never needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/fs/client.h"
#include "vmm/sandbox.h"

/* In the child a failed check exits with its line, so the parent can say which. */
#define CHECK(x)                                                                       \
	do {                                                                           \
		if (!(x)) {                                                            \
			fprintf(stderr, "child: %s:%d: %s\n", __FILE__, __LINE__, #x); \
			_exit(1);                                                      \
		}                                                                      \
	} while (0)

static void workload(struct cli *c)
{
	struct fw_entry_out e;
	struct fw_setattr_in sa;
	struct fw_mknod_in mk = { .mode = S_IFIFO | 0600 };
	struct fw_rename2_in rn2 = { .newdir = FW_ROOT_ID, .flags = FW_RENAME_EXCHANGE };
	struct fw_rename_in rn = { .newdir = FW_ROOT_ID };
	struct fw_link_in ln;
	struct fw_fsync_in fs;
	struct fw_fallocate_in fa;
	struct fw_lseek_in ls;
	struct fw_access_in ac = { .mask = R_OK };
	struct fw_read_in rd;
	uint64_t d, f, fh, dfh;

	CHECK(cli_mkdir(c, FW_ROOT_ID, "d", 0755, &e) == 0);
	d = e.nodeid;
	CHECK(cli_create(c, d, "f", FW_O_RDWR, 0644, &e, &fh) == 0);
	f = e.nodeid;
	CHECK(cli_write(c, fh, 0, "sandboxed", 9) == 9);
	CHECK(cli_read(c, fh, 0, 100) == 9);
	fs = (struct fw_fsync_in){ .fh = fh };
	CHECK(cli_call(c, FW_FSYNC, f, &fs, sizeof(fs), NULL, 0) == 0);
	fs.fsync_flags = FW_FSYNC_FDATASYNC;
	CHECK(cli_call(c, FW_FSYNC, f, &fs, sizeof(fs), NULL, 0) == 0);
	fa = (struct fw_fallocate_in){ .fh = fh, .length = 65536 };
	CHECK(cli_call(c, FW_FALLOCATE, f, &fa, sizeof(fa), NULL, 0) == 0);
	ls = (struct fw_lseek_in){ .fh = fh, .whence = FW_SEEK_HOLE };
	CHECK(cli_call(c, FW_LSEEK, f, &ls, sizeof(ls), NULL, 0) == 0);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_SIZE | FW_FATTR_FH, .fh = fh, .size = 3 };
	CHECK(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0) == 0);
	CHECK(cli_release(c, fh, false) == 0);
	CHECK(cli_open(c, f, FW_O_RDWR | FW_O_TRUNC, &fh) == 0);
	CHECK(cli_release(c, fh, false) == 0);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MODE | FW_FATTR_SIZE | FW_FATTR_UID |
					      FW_FATTR_ATIME | FW_FATTR_MTIME_NOW,
				     .mode = 0600,
				     .size = 1,
				     .uid = c->uid,
				     .atime = 1 };
	CHECK(cli_call(c, FW_SETATTR, f, &sa, sizeof(sa), NULL, 0) == 0);
	sa = (struct fw_setattr_in){ .valid = FW_FATTR_MODE | FW_FATTR_MTIME, .mode = 0700 };
	CHECK(cli_call(c, FW_SETATTR, d, &sa, sizeof(sa), NULL, 0) == 0);
	CHECK(cli_call(c, FW_SETATTR, FW_ROOT_ID, &sa, sizeof(sa), NULL, 0) == 0);
	CHECK(cli_call(c, FW_SYMLINK, d, "s\0f", 4, NULL, 0) == 0);
	memcpy(&e, c->reply, sizeof(e));
	CHECK(cli_call(c, FW_READLINK, e.nodeid, NULL, 0, NULL, 0) == 0);
	ln = (struct fw_link_in){ .oldnodeid = f };
	CHECK(cli_call(c, FW_LINK, FW_ROOT_ID, &ln, sizeof(ln), "h", 2) == 0);
	CHECK(cli_call(c, FW_MKNOD, d, &mk, sizeof(mk), "p", 2) == 0);
	mk.mode = S_IFREG | 0644;
	CHECK(cli_call(c, FW_MKNOD, d, &mk, sizeof(mk), "r", 2) == 0);
	CHECK(cli_call(c, FW_RENAME, d, &rn, sizeof(rn), "r\0r2", 5) == 0);
	CHECK(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), "r2\0h", 5) == 0);
	rn2.flags = FW_RENAME_NOREPLACE;
	CHECK(cli_call(c, FW_RENAME2, FW_ROOT_ID, &rn2, sizeof(rn2), "r2\0h", 5) == -EEXIST);
	CHECK(cli_call(c, FW_STATFS, FW_ROOT_ID, NULL, 0, NULL, 0) == 0);
	CHECK(cli_call(c, FW_ACCESS, f, &ac, sizeof(ac), NULL, 0) == 0);
	CHECK(cli_call(c, FW_ACCESS, FW_ROOT_ID, &ac, sizeof(ac), NULL, 0) == 0);
	for (int plus = 0; plus < 2; plus++) {
		CHECK(cli_opendir(c, d, &dfh) == 0);
		rd = (struct fw_read_in){ .fh = dfh, .size = 4096 };
		CHECK(cli_call(c, plus ? FW_READDIRPLUS : FW_READDIR, d, &rd, sizeof(rd), NULL,
			       0) == 0);
		CHECK(c->reply_len > 0);
		rd.offset = 1; /* a seek */
		CHECK(cli_call(c, FW_READDIR, d, &rd, sizeof(rd), NULL, 0) == 0);
		fs = (struct fw_fsync_in){ .fh = dfh };
		CHECK(cli_call(c, FW_FSYNCDIR, d, &fs, sizeof(fs), NULL, 0) == 0);
		CHECK(cli_release(c, dfh, true) == 0);
	}
	CHECK(cli_call(c, FW_UNLINK, d, "p", 2, NULL, 0) == 0);
	CHECK(cli_call(c, FW_UNLINK, d, "s", 2, NULL, 0) == 0);
	CHECK(cli_call(c, FW_UNLINK, d, "f", 2, NULL, 0) == 0);
	CHECK(cli_call(c, FW_UNLINK, FW_ROOT_ID, "h", 2, NULL, 0) == 0);
	CHECK(cli_call(c, FW_UNLINK, FW_ROOT_ID, "r2", 3, NULL, 0) == 0);
	CHECK(cli_call(c, FW_RMDIR, FW_ROOT_ID, "d", 2, NULL, 0) == 0);
	CHECK(cli_lookup(c, FW_ROOT_ID, "d", &e) == -ENOENT);
	cli_forget(c, f, 1);
	CHECK(cli_call(c, FW_DESTROY, 0, NULL, 0, NULL, 0) == 0);
}

static void test_server_under_sandbox(void **state)
{
	struct cli *c = malloc(sizeof(*c));
	int status;
	pid_t pid;

	assert_non_null(c);
	cli_setup(c, false, 0, 0, false);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sandbox_rules rules = { .nr_syscalls = 0 };
		struct errbuf e;

		if (sandbox_allow_syscalls(&rules, fs_server_syscalls) < 0 ||
		    sandbox_install(&rules, &e) < 0)
			_exit(100);
		workload(c);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the sandboxed server was killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	cli_teardown(c);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_under_sandbox),
	};

	if (!sandbox_available())
		return 77; /* skipped: no seccomp in this build */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
