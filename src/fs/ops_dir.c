// SPDX-License-Identifier: MIT
/* FUSE operations on open directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_int.h"
#include "util/compiler.h"

int fs_op_opendir(struct fs_req *r, struct fs_inode *in)
{
	struct fw_open_out *o = fs_reply_buf(r);
	uint64_t fh;
	int fd, ret;

	if (in->type != S_IFDIR)
		return -ENOTDIR;
	fd = fs_inode_open(r->s, in, O_RDONLY);
	if (fd < 0)
		return fd == -EMFILE ? -ENFILE : fd;
	ret = fs_handle_add(r->s, fd, true, in, &fh);
	if (ret < 0)
		return ret;
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	return sizeof(*o);
}

int fs_op_releasedir(struct fs_req *r, struct fs_inode *unused)
{
	const struct fw_release_in *a = (const void *)r->arg;

	return fs_handle_release(r->s, a->fh, true);
}

static bool fs_is_dot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/*
 * Fills the reply with entries from the stream at the guest's offset (a telldir() cookie we
 * handed out earlier, or 0). With plus, each entry but "." and ".." is also looked up, which
 * gives the guest a reference, as LOOKUP does; one that fails is sent with nodeid 0, which the
 * guest lists without caching.
 */
static int fs_readdir(struct fs_req *r, bool plus)
{
	const struct fw_read_in *a = (const void *)r->arg;
	size_t size = min_u64(min_u64(a->size, r->out_room), FS_REPLY_MAX), used = 0;
	uint8_t *buf = fs_reply_buf(r);
	struct fs_handle *h;
	int ret = 0;

	h = fs_handle_get(r->s, a->fh, true);
	if (!h)
		return -EBADF;
	pthread_mutex_lock(&h->lock);
	if (!h->dir) {
		h->dir = fdopendir(h->fd);
		if (!h->dir) {
			ret = fs_host_errno(errno);
			goto out;
		}
	}
	if (a->offset == 0)
		rewinddir(h->dir);
	else if ((long)a->offset != telldir(h->dir))
		seekdir(h->dir, (long)a->offset);
	for (;;) {
		long pos = telldir(h->dir);
		size_t namelen,
			hdr = plus ? sizeof(struct fw_direntplus) : sizeof(struct fw_dirent);
		size_t len;
		struct fw_dirent *d;
		struct dirent *de;

		errno = 0;
		de = readdir(h->dir);
		if (!de) {
			if (errno && !used)
				ret = fs_host_errno(errno);
			break;
		}
		namelen = strlen(de->d_name);
		len = FW_DIRENT_ALIGN(hdr + namelen);
		if (used + len > size) {
			seekdir(h->dir, pos); /* the guest asks again from here */
			break;
		}
		memset(buf + used, 0, len);
		if (plus) {
			struct fw_direntplus *p = (void *)(buf + used);

			if (!fs_is_dot(de->d_name) && fs_name_check(de->d_name) == 0 &&
			    fs_lookup_at(r->s, h->inode, dirfd(h->dir), de->d_name, &p->entry_out,
					 NULL) < 0)
				memset(&p->entry_out, 0, sizeof(p->entry_out));
			d = &p->dirent;
		} else {
			d = (void *)(buf + used);
		}
		d->ino = (uint64_t)de->d_ino;
		d->off = (uint64_t)telldir(h->dir);
		d->namelen = (uint32_t)namelen;
		d->type = de->d_type;
		memcpy((uint8_t *)d + sizeof(*d), de->d_name, namelen);
		used += len;
	}
	if (!ret)
		ret = (int)used;
out:
	pthread_mutex_unlock(&h->lock);
	fs_handle_put(r->s, h);
	return ret;
}

int fs_op_readdir(struct fs_req *r, struct fs_inode *unused)
{
	return fs_readdir(r, false);
}

int fs_op_readdirplus(struct fs_req *r, struct fs_inode *unused)
{
	return fs_readdir(r, true);
}
