// SPDX-License-Identifier: MIT
/*
 * FUSE operations on open files: OPEN, CREATE, READ, WRITE, FLUSH, RELEASE, FSYNC, FALLOCATE,
 * LSEEK. READ and WRITE move data between the host file and the guest's buffers directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fs_int.h"
#include "util/compiler.h"

/* A handle is needed where the guest names an open file; a made-up fh finds nothing. */
static struct fs_handle *fs_file(struct fs_req *r, uint64_t fh)
{
	return fs_handle_get(r->s, fh, false);
}

static int fs_open_reply(struct fs_req *r, struct fw_open_out *o, int fd, struct fs_inode *in)
{
	uint64_t fh;
	int ret = fs_handle_add(r->s, fd, false, in, &fh);

	if (ret < 0)
		return ret;
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	return 0;
}

/* What a read-only share refuses: any write access, and truncation. */
static bool fs_flags_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

int fs_op_open(struct fs_req *r, struct fs_inode *in)
{
	const struct fw_open_in *a = (const void *)r->arg;
	int flags = fs_host_open_flags(a->flags) & ~O_EXCL, fd, ret;

	if (in->type == S_IFDIR)
		return -EISDIR;
	if (in->type != S_IFREG)
		return -ENXIO; /* the guest's kernel handles fifos itself; devices are not ours */
	if (r->s->readonly && fs_flags_write(flags))
		return -EROFS;
	fd = fs_inode_open(r->s, in, flags);
	if (fd < 0)
		return fd;
	ret = fs_open_reply(r, fs_reply_buf(r), fd, in);
	return ret < 0 ? ret : (int)sizeof(struct fw_open_out);
}

int fs_op_create(struct fs_req *r, struct fs_inode *in)
{
	struct fw_create_in a;
	const char *name = fs_req_name(r, sizeof(a), NULL);
	struct fw_entry_out *e = fs_reply_buf(r);
	struct fs_inode *child = NULL;
	struct stat st;
	int ret = fs_name_check(name), fd, flags;

	if (ret < 0)
		return ret;
	memcpy(&a, r->arg, sizeof(a));
	if (!fs_room_for_inode(r->s))
		return -ENFILE;
	flags = fs_host_open_flags(a.flags) | O_CREAT;
	/* O_NONBLOCK: an existing fifo of that name must not block the worker */
	fd = fs_host_open_at(in->fd, name, flags | O_NONBLOCK,
			     (mode_t)(a.mode & (S_IRWXU | S_IRWXG | S_IRWXO)));
	if (fd < 0)
		return fd == -EMFILE ? -ENFILE : fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EEXIST;
	}
	ret = fs_lookup_at(r->s, in, in->fd, name, e, &child);
	if (ret == 0 && (e->attr.ino != (uint64_t)st.st_ino || child->dev != st.st_dev))
		ret = -ESTALE; /* replaced between the open and the lookup */
	if (ret == 0)
		ret = fs_open_reply(r, (struct fw_open_out *)(e + 1), fd, child);
	else
		close(fd);
	if (ret < 0 && child)
		fs_forget(r->s, child->nodeid, 1); /* the guest never hears of it */
	fs_inode_put(r->s, child);
	return ret < 0 ? ret : (int)(sizeof(*e) + sizeof(struct fw_open_out));
}

/* The iovecs covering [off, off + len) of iov[0..n), into dst (at most max); their count. */
static int fs_iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
			struct iovec *dst, unsigned max)
{
	int k = 0;

	for (unsigned i = 0; i < n && len && (unsigned)k < max; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = min_u64(l - off, len);
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[k].iov_len = l;
		k++;
		len -= l;
		off = 0;
	}
	return k;
}

static void fs_iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/* preadv/pwritev until all is moved, end of file, or an error after nothing was moved. */
static ssize_t fs_rw(int fd, struct iovec *iov, int cnt, off_t off, bool write)
{
	ssize_t total = 0;

	while (cnt) {
		ssize_t n = write ? pwritev(fd, iov, cnt, off + total) :
				    preadv(fd, iov, cnt, off + total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return total ? total : fs_host_errno(errno);
		if (n == 0)
			break;
		total += n;
		fs_iov_advance(&iov, &cnt, (size_t)n);
	}
	return total;
}

int fs_op_read(struct fs_req *r, struct fs_inode *unused)
{
	const struct fw_read_in *a = (const void *)r->arg;
	size_t len = min_u64(min_u64(a->size, r->out_room), FS_MAX_WRITE);
	struct fs_handle *h;
	ssize_t n;
	int cnt;

	if (a->offset > INT64_MAX)
		return -EINVAL;
	h = fs_file(r, a->fh);
	if (!h)
		return -EBADF;
	cnt = fs_iov_slice(r->out, r->nr_out, sizeof(struct fw_out_header), len, r->sc->iov,
			   ARRAY_SIZE(r->sc->iov));
	n = cnt ? fs_rw(h->fd, r->sc->iov, cnt, (off_t)a->offset, false) : 0;
	fs_handle_put(r->s, h);
	r->direct = true;
	return (int)n;
}

int fs_op_write(struct fs_req *r, struct fs_inode *unused)
{
	const struct fw_write_in *a = (const void *)r->arg;
	size_t at = sizeof(struct fw_in_header) + sizeof(*a);
	struct fw_write_out *o = fs_reply_buf(r);
	struct fs_handle *h;
	ssize_t n;
	int cnt;

	/* the data must lie inside the request the header describes */
	if (a->size > r->in_len - at || a->size > FS_MAX_WRITE)
		return -EINVAL;
	if (a->offset > INT64_MAX || a->size > INT64_MAX - a->offset)
		return -EFBIG;
	h = fs_file(r, a->fh);
	if (!h)
		return -EBADF;
	cnt = fs_iov_slice(r->in, r->nr_in, at, a->size, r->sc->iov, ARRAY_SIZE(r->sc->iov));
	n = cnt ? fs_rw(h->fd, r->sc->iov, cnt, (off_t)a->offset, true) : 0;
	fs_handle_put(r->s, h);
	if (n < 0)
		return (int)n;
	memset(o, 0, sizeof(*o));
	o->size = (uint32_t)n;
	return sizeof(*o);
}

int fs_op_flush(struct fs_req *r, struct fs_inode *unused)
{
	const struct fw_flush_in *a = (const void *)r->arg;
	struct fs_handle *h = fs_file(r, a->fh);

	/* the data is already in the host's page cache: nothing to push at close */
	if (!h)
		return -EBADF;
	fs_handle_put(r->s, h);
	return 0;
}

int fs_op_release(struct fs_req *r, struct fs_inode *unused)
{
	const struct fw_release_in *a = (const void *)r->arg;

	return fs_handle_release(r->s, a->fh, false);
}

static int fs_sync_handle(struct fs_req *r, bool dir)
{
	const struct fw_fsync_in *a = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(r->s, a->fh, dir);
	int ret;

	if (!h)
		return -EBADF;
	ret = fs_host_sync(fs_handle_fd(h), a->fsync_flags & FW_FSYNC_FDATASYNC);
	fs_handle_put(r->s, h);
	return ret;
}

int fs_op_fsync(struct fs_req *r, struct fs_inode *unused)
{
	return fs_sync_handle(r, false);
}

int fs_op_fsyncdir(struct fs_req *r, struct fs_inode *unused)
{
	return fs_sync_handle(r, true);
}

int fs_op_fallocate(struct fs_req *r, struct fs_inode *unused)
{
	const struct fw_fallocate_in *a = (const void *)r->arg;
	struct fs_handle *h = fs_file(r, a->fh);
	int ret;

	if (!h)
		return -EBADF;
	ret = fs_host_fallocate(h->fd, a->mode, a->offset, a->length);
	fs_handle_put(r->s, h);
	return ret;
}

int fs_op_lseek(struct fs_req *r, struct fs_inode *unused)
{
	const struct fw_lseek_in *a = (const void *)r->arg;
	struct fw_lseek_out *o = fs_reply_buf(r);
	struct fs_handle *h;
	int whence;
	off_t off;

	switch (a->whence) {
	case 0:
		whence = SEEK_SET;
		break;
	case 1:
		whence = SEEK_CUR;
		break;
	case 2:
		whence = SEEK_END;
		break;
	case FW_SEEK_DATA:
		whence = SEEK_DATA;
		break;
	case FW_SEEK_HOLE:
		whence = SEEK_HOLE;
		break;
	default:
		return -EINVAL;
	}
	if (a->offset > INT64_MAX)
		return -EINVAL;
	h = fs_file(r, a->fh);
	if (!h)
		return -EBADF;
	off = lseek(h->fd, (off_t)a->offset, whence);
	fs_handle_put(r->s, h);
	if (off < 0)
		return fs_host_errno(errno);
	o->offset = (uint64_t)off;
	return sizeof(*o);
}
