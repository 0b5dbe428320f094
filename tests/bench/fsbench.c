// SPDX-License-Identifier: MIT
/*
 * fsbench: the shared-directory benchmark, a static arm64 program run in the bench guest on a
 * mounted virtio-fs share (the same under every VMM). One process, so the figures are the
 * file system's and not busybox's forks (which cost milliseconds each under TCG).
 *
 *   fsbench DIR FILES MIB
 * Prints three lines:
 *   BENCH fs op=files n=FILES us=N      create (1 KiB each), stat, then remove FILES files
 *   BENCH fs op=write bytes=B us=N      write MIB MiB sequentially in 1 MiB writes, then fsync
 *   BENCH fs op=read bytes=B us=N       drop the guest's caches, read it back in 1 MiB reads
 * us=-1 when a step failed (after a line on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "fsbench: %s %s: %s\n", what, path, strerror(errno));
	return -1;
}

static int files(const char *dir, int n)
{
	static char buf[1024];
	char p[512];
	struct stat st;

	memset(buf, 'f', sizeof(buf));
	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/f%05d", dir, i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || close(fd))
			return fail("create", p);
	}
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/f%05d", dir, i);
		if (stat(p, &st) || st.st_size != sizeof(buf))
			return fail("stat", p);
	}
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/f%05d", dir, i);
		if (unlink(p))
			return fail("unlink", p);
	}
	return 0;
}

static int rw(const char *path, int mib, int write_it)
{
	static char buf[1 << 20];
	int fd = write_it ? open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644) : open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", path);
	memset(buf, 'd', sizeof(buf));
	for (int i = 0; i < mib; i++) {
		ssize_t n = write_it ? write(fd, buf, sizeof(buf)) : read(fd, buf, sizeof(buf));

		if (n != (ssize_t)sizeof(buf))
			return fail(write_it ? "write" : "read", path);
	}
	if (write_it && fsync(fd))
		return fail("fsync", path);
	return close(fd) ? fail("close", path) : 0;
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd < 0 || write(fd, "3\n", 2) != 2)
		fprintf(stderr, "fsbench: cannot drop caches: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	char path[512];
	int64_t t;
	int n, mib, r;

	if (argc != 4) {
		fprintf(stderr, "usage: fsbench DIR FILES MIB\n");
		return 2;
	}
	n = atoi(argv[2]);
	mib = atoi(argv[3]);
	snprintf(path, sizeof(path), "%s/big", argv[1]);
	t = now_us();
	r = files(argv[1], n);
	printf("BENCH fs op=files n=%d us=%lld\n", n, r ? -1LL : (long long)(now_us() - t));
	t = now_us();
	r = rw(path, mib, 1);
	printf("BENCH fs op=write bytes=%lld us=%lld\n", (long long)mib << 20,
	       r ? -1LL : (long long)(now_us() - t));
	drop_caches();
	t = now_us();
	r = rw(path, mib, 0);
	printf("BENCH fs op=read bytes=%lld us=%lld\n", (long long)mib << 20,
	       r ? -1LL : (long long)(now_us() - t));
	unlink(path);
	fflush(stdout);
	return 0;
}
