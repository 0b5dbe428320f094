// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_share.h"

static const struct fz_share *cleanup_share;

static int rm_all(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void cleanup(void)
{
	fz_share_wipe(cleanup_share);
	nftw(cleanup_share->top, rm_all, 16, FTW_DEPTH | FTW_PHYS);
}

void fz_share_init(struct fz_share *s, const char *name)
{
	struct rlimit fsize = { 1 << 20, 1 << 20 };
	int fd;

	setrlimit(RLIMIT_FSIZE, &fsize);
	/* tmpfs when there is one: 7x the executions of a disk-backed /tmp */
	snprintf(s->top, sizeof(s->top), "%s/ignition-fuzz-%s-XXXXXX",
		 getenv("TMPDIR")	  ? getenv("TMPDIR") :
		 access("/dev/shm", W_OK) ? "/tmp" :
					    "/dev/shm",
		 name);
	FUZZ_CHECK(mkdtemp(s->top));
	cleanup_share = s;
	atexit(cleanup);
	snprintf(s->path, sizeof(s->path), "%s/share", s->top);
	snprintf(s->outside, sizeof(s->outside), "%s/outside", s->top);
	snprintf(s->sentinel, sizeof(s->sentinel), "%s/sentinel", s->outside);
	FUZZ_CHECK(mkdir(s->path, 0755) == 0 && mkdir(s->outside, 0755) == 0);
	fd = open(s->sentinel, O_CREAT | O_WRONLY, 0644);
	FUZZ_CHECK(fd >= 0 && write(fd, "secret", 6) == 6);
	close(fd);
	FUZZ_CHECK(stat(s->sentinel, &s->sentinel_st) == 0);
}

void fz_share_seed(const struct fz_share *s)
{
	char p[400];
	int fd;

	snprintf(p, sizeof(p), "%s/file", s->path);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	FUZZ_CHECK(fd >= 0 && write(fd, "0123456789abcdef", 16) == 16);
	close(fd);
	snprintf(p, sizeof(p), "%s/dir", s->path);
	FUZZ_CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/dir/inner", s->path);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	FUZZ_CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/out", s->path);
	FUZZ_CHECK(symlink(s->outside, p) == 0);
	snprintf(p, sizeof(p), "%s/secret", s->path);
	FUZZ_CHECK(symlink(s->sentinel, p) == 0);
}

static int rm_inside(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static bool wipe_again;

static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, 0700);
	if (flag == FTW_DNR)
		wipe_again = true; /* its own directories are seen in the next pass */
	return 0;
}

void fz_share_wipe(const struct fz_share *s)
{
	/* the guest may have taken every permission away from any directory, the root included */
	for (int pass = 0; pass < 64; pass++) {
		wipe_again = false;
		nftw(s->path, open_up, 16, FTW_PHYS);
		if (!wipe_again)
			break;
	}
	nftw(s->path, rm_inside, 16, FTW_DEPTH | FTW_PHYS);
	chmod(s->path, 0755);
}

static unsigned entries(const char *path)
{
	DIR *d = opendir(path);
	unsigned n = 0;

	FUZZ_CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

void fz_share_check_outside(const struct fz_share *s)
{
	const struct stat *was = &s->sentinel_st;
	struct stat st;

	FUZZ_CHECK(stat(s->sentinel, &st) == 0);
	FUZZ_CHECK(st.st_ino == was->st_ino && st.st_size == was->st_size &&
		   st.st_mode == was->st_mode && st.st_mtim.tv_sec == was->st_mtim.tv_sec &&
		   st.st_mtim.tv_nsec == was->st_mtim.tv_nsec &&
		   st.st_ctim.tv_nsec == was->st_ctim.tv_nsec);
	FUZZ_CHECK(entries(s->outside) == 3); /* ".", "..", sentinel */
	FUZZ_CHECK(entries(s->top) == 4); /* ".", "..", share, outside */
}

void fz_share_ignore_xfsz(void)
{
	static bool ignored;

	if (!ignored) {
		signal(SIGXFSZ, SIG_IGN);
		ignored = true;
	}
}
