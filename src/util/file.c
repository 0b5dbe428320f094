// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"

static int file_check_stat(const char *path, int fd, uint64_t *size, struct errbuf *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(e, -EISDIR, "%s: is a directory", path);
	if (!S_ISREG(st.st_mode))
		return err_set(e, -EINVAL, "%s: not a regular file", path);
	if (st.st_size == 0)
		return err_set(e, -EINVAL, "%s: file is empty", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

int file_open_regular(const char *path, int *fd, uint64_t *size, struct errbuf *e)
{
	int ret;

	/* O_NONBLOCK: a FIFO given by mistake must not hang the open; regular files ignore it. */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	ret = file_check_stat(path, *fd, size, e);
	if (ret) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

int file_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}
