// SPDX-License-Identifier: MIT
/*
 * FUSE operations on names and inodes: LOOKUP, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD,
 * MKDIR, UNLINK, RMDIR, RENAME(2), LINK, STATFS, ACCESS. Each works on the inode's descriptor or
 * on its parent's with one checked name; nothing here follows a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#ifdef __APPLE__
#include <sys/mount.h>
#endif
#include <unistd.h>

#include "fs/fs_int.h"

/* Permission bits a guest may set: never setuid or setgid. */
#define FS_PERM_MASK (S_IRWXU | S_IRWXG | S_IRWXO | S_ISVTX)

int fs_inode_open(struct fs_server *s, struct fs_inode *in, int flags)
{
	char name[FS_NAME_MAX + 1];
	struct fs_inode *parent;
	struct stat st;
	int fd, r;

	if (in->type == S_IFDIR)
		return fs_host_open_at(in->fd, ".", flags | O_DIRECTORY, 0);
	r = fs_inode_where(s, in, &parent, name);
	if (r < 0)
		return r;
	/* O_NONBLOCK: if a fifo took the file's name meanwhile, the open must not wait */
	fd = fs_host_open_at(parent->fd, name, flags | O_NONBLOCK, 0);
	fs_inode_put(s, parent);
	if (fd < 0)
		return fd == -EMFILE ? -ENFILE : fd;
	if (fstat(fd, &st) < 0 || st.st_dev != in->dev || st.st_ino != in->ino) {
		close(fd);
		return -ESTALE; /* the name now belongs to another file */
	}
	return fd;
}

static int fs_entry_reply(struct fs_req *r, struct fs_inode *parent, const char *name)
{
	int ret = fs_lookup_at(r->s, parent, parent->fd, name, fs_reply_buf(r), NULL);

	return ret < 0 ? ret : (int)sizeof(struct fw_entry_out);
}

int fs_op_lookup(struct fs_req *r, struct fs_inode *in)
{
	const char *name = fs_req_name(r, 0, NULL);
	int ret;

	/* the share's root is the top: its ".." is itself */
	if (name && in == r->s->root && !strcmp(name, "..")) {
		ret = fs_fill_entry(in, fs_reply_buf(r));
		return ret < 0 ? ret : (int)sizeof(struct fw_entry_out);
	}
	ret = fs_name_check(name);
	if (ret < 0)
		return ret;
	if (in->type != S_IFDIR)
		return -ENOTDIR;
	return fs_entry_reply(r, in, name);
}

static int fs_attr_reply(struct fs_req *r, int fd)
{
	struct fw_attr_out *o = fs_reply_buf(r);
	struct stat st;

	if (fstat(fd, &st) < 0)
		return fs_host_errno(errno);
	memset(o, 0, sizeof(*o));
	o->attr_valid = FS_ENTRY_TIMEOUT_S;
	fs_host_attr(&st, &o->attr);
	return sizeof(*o);
}

int fs_op_getattr(struct fs_req *r, struct fs_inode *in)
{
	const struct fw_getattr_in *g = (const void *)r->arg;

	(void)g;
	return fs_attr_reply(r, in->fd);
}

/* chmod without opening the inode (see fs_host_chmod); -ENOSYS where that cannot be done. */
static int fs_chmod_inode(struct fs_req *r, struct fs_inode *in, mode_t mode)
{
#ifdef __linux__
	(void)r;
	return fs_host_chmod(in->fd, -1, NULL, mode);
#else
	char name[FS_NAME_MAX + 1];
	struct fs_inode *parent;
	int ret;

	if (fs_inode_where(r->s, in, &parent, name) < 0)
		return -ENOSYS;
	/* one component, not followed: at worst a file the guest renamed there itself */
	ret = fs_host_chmod(in->fd, parent->fd, name, mode);
	fs_inode_put(r->s, parent);
	return ret;
#endif
}

static int fs_setattr_mode(struct fs_req *r, struct fs_inode *in, int fd, uint32_t mode)
{
	mode_t m = (mode_t)(mode & FS_PERM_MASK);
	int own = -1, ret = 0;

	if (in->type == S_IFLNK)
		return -EOPNOTSUPP;
#ifdef __linux__
	/* through the O_PATH descriptor: no open, which a mode like 000 would refuse */
	if (fd < 0) {
		ret = fs_chmod_inode(r, in, m);
		/* EPERM may also be a container's filter that predates the call: try the open */
		if (ret != -ENOSYS && ret != -EPERM)
			return ret;
		ret = 0;
	}
#endif
	if (fd < 0) {
		own = fs_inode_open(r->s, in, O_RDONLY);
		if (own == -EACCES && in->type == S_IFREG)
			own = fs_inode_open(r->s, in, O_WRONLY);
#ifndef __linux__
		/* neither readable nor writable: by name, never following */
		if (own == -EACCES)
			return fs_chmod_inode(r, in, m);
#endif
		if (own < 0)
			return own;
		fd = own;
	}
	if (fchmod(fd, m) < 0)
		ret = fs_host_errno(errno);
	if (own >= 0)
		close(own);
	return ret;
}

static int fs_setattr_size(struct fs_req *r, struct fs_inode *in, int fd, uint64_t size)
{
	int own = -1, ret = 0;

	if (in->type == S_IFDIR)
		return -EISDIR;
	if (in->type != S_IFREG)
		return -EINVAL;
	if (size > INT64_MAX)
		return -EFBIG;
	if (fd < 0) {
		own = fs_inode_open(r->s, in, O_WRONLY);
		if (own < 0)
			return own;
		fd = own;
	}
	if (ftruncate(fd, (off_t)size) < 0)
		ret = fs_host_errno(errno);
	if (own >= 0)
		close(own);
	return ret;
}

static void fs_time(struct timespec *t, uint32_t valid, uint32_t set, uint32_t now, uint64_t sec,
		    uint32_t nsec)
{
	t->tv_sec = 0;
	if (valid & now) {
		t->tv_nsec = UTIME_NOW;
	} else if (valid & set) {
		t->tv_sec = (time_t)sec;
		t->tv_nsec = nsec < 1000000000u ? (long)nsec : 999999999L;
	} else {
		t->tv_nsec = UTIME_OMIT;
	}
}

static int fs_setattr_times(struct fs_req *r, struct fs_inode *in, int fd,
			    const struct fw_setattr_in *a)
{
	char name[FS_NAME_MAX + 1];
	struct fs_inode *parent;
	struct timespec ts[2];
	int ret;

	fs_time(&ts[0], a->valid, FW_FATTR_ATIME, FW_FATTR_ATIME_NOW, a->atime, a->atimensec);
	fs_time(&ts[1], a->valid, FW_FATTR_MTIME, FW_FATTR_MTIME_NOW, a->mtime, a->mtimensec);
	if (fd >= 0)
		return futimens(fd, ts) < 0 ? fs_host_errno(errno) : 0;
	if (fs_inode_where(r->s, in, &parent, name) == 0) {
		/* one component, not followed: at worst a file the guest renamed there itself */
		ret = utimensat(parent->fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ?
			      fs_host_errno(errno) :
			      0;
		fs_inode_put(r->s, parent);
		return ret;
	}
	fd = fs_inode_open(r->s, in, O_RDONLY); /* the root */
	if (fd < 0)
		return fd;
	ret = futimens(fd, ts) < 0 ? fs_host_errno(errno) : 0;
	close(fd);
	return ret;
}

int fs_op_setattr(struct fs_req *r, struct fs_inode *in)
{
	struct fw_setattr_in a;
	struct fs_handle *h = NULL;
	int fd = -1, ret = 0;

	memcpy(&a, r->arg, sizeof(a));
	if (a.valid & FW_FATTR_FH) {
		h = fs_handle_get(r->s, a.fh, in->type == S_IFDIR);
		if (!h || h->inode != in) {
			if (h)
				fs_handle_put(r->s, h);
			return -EBADF;
		}
		fd = fs_handle_fd(h);
	}
	if (a.valid & FW_FATTR_MODE)
		ret = fs_setattr_mode(r, in, fd, a.mode);
	if (!ret && (a.valid & (FW_FATTR_UID | FW_FATTR_GID)))
		ret = fs_host_chown(in->fd, -1, NULL,
				    a.valid & FW_FATTR_UID ? (uid_t)a.uid : (uid_t)-1,
				    a.valid & FW_FATTR_GID ? (gid_t)a.gid : (gid_t)-1);
	if (!ret && (a.valid & FW_FATTR_SIZE))
		ret = fs_setattr_size(r, in, fd, a.size);
	if (!ret &&
	    (a.valid & (FW_FATTR_ATIME | FW_FATTR_MTIME | FW_FATTR_ATIME_NOW | FW_FATTR_MTIME_NOW)))
		ret = fs_setattr_times(r, in, fd, &a);
	if (h)
		fs_handle_put(r->s, h);
	return ret < 0 ? ret : fs_attr_reply(r, in->fd);
}

int fs_op_readlink(struct fs_req *r, struct fs_inode *in)
{
	char name[FS_NAME_MAX + 1];
	struct fs_inode *parent = NULL;
	size_t room = r->out_room < FS_LINK_MAX + 1 ? r->out_room : FS_LINK_MAX + 1;
	int ret;

	if (in->type != S_IFLNK)
		return -EINVAL;
	if (fs_inode_where(r->s, in, &parent, name) < 0)
		return -EINVAL;
	ret = fs_host_readlink(in->fd, parent->fd, name, fs_reply_buf(r), room);
	fs_inode_put(r->s, parent);
	if (ret >= 0 && (size_t)ret == room && room <= FS_LINK_MAX)
		return -ERANGE; /* the guest's buffer is too small for the whole target */
	return ret;
}

int fs_op_symlink(struct fs_req *r, struct fs_inode *in)
{
	size_t next;
	const char *name = fs_req_name(r, 0, &next);
	const char *target = name ? fs_req_name(r, next, NULL) : NULL;
	int ret = fs_name_check(name);

	if (ret < 0)
		return ret;
	if (!target || !*target)
		return -EINVAL;
	if (strlen(target) > FS_LINK_MAX)
		return -ENAMETOOLONG;
	if (!fs_room_for_inode(r->s))
		return -ENFILE;
	/* the target is only data for the guest: the host never resolves it */
	if (symlinkat(target, in->fd, name) < 0)
		return fs_host_errno(errno);
	return fs_entry_reply(r, in, name);
}

int fs_op_mknod(struct fs_req *r, struct fs_inode *in)
{
	struct fw_mknod_in m;
	const char *name = fs_req_name(r, sizeof(m), NULL);
	mode_t perm;
	int ret = fs_name_check(name), fd;

	if (ret < 0)
		return ret;
	memcpy(&m, r->arg, sizeof(m));
	perm = (mode_t)(m.mode & (S_IRWXU | S_IRWXG | S_IRWXO));
	if (!fs_room_for_inode(r->s))
		return -ENFILE;
	switch (m.mode & S_IFMT) {
	case S_IFREG:
		fd = fs_host_open_at(in->fd, name, O_CREAT | O_EXCL | O_RDONLY, perm);
		if (fd < 0)
			return fd;
		close(fd);
		break;
	case S_IFIFO:
		if (mknodat(in->fd, name, S_IFIFO | perm, 0) < 0)
			return fs_host_errno(errno);
		break;
	default:
		return -EPERM; /* device nodes and sockets: never */
	}
	return fs_entry_reply(r, in, name);
}

int fs_op_mkdir(struct fs_req *r, struct fs_inode *in)
{
	struct fw_mkdir_in m;
	const char *name = fs_req_name(r, sizeof(m), NULL);
	int ret = fs_name_check(name);

	if (ret < 0)
		return ret;
	memcpy(&m, r->arg, sizeof(m));
	if (!fs_room_for_inode(r->s))
		return -ENFILE;
	if (mkdirat(in->fd, name, (mode_t)(m.mode & FS_PERM_MASK)) < 0)
		return fs_host_errno(errno);
	return fs_entry_reply(r, in, name);
}

static int fs_remove(struct fs_req *r, struct fs_inode *in, int flags)
{
	const char *name = fs_req_name(r, 0, NULL);
	int ret = fs_name_check(name);

	if (ret < 0)
		return ret;
	return unlinkat(in->fd, name, flags) < 0 ? fs_host_errno(errno) : 0;
}

int fs_op_unlink(struct fs_req *r, struct fs_inode *in)
{
	return fs_remove(r, in, 0);
}

int fs_op_rmdir(struct fs_req *r, struct fs_inode *in)
{
	return fs_remove(r, in, AT_REMOVEDIR);
}

static int fs_rename(struct fs_req *r, struct fs_inode *in, uint64_t newdir, size_t off,
		     uint32_t flags)
{
	size_t next;
	const char *oldname = fs_req_name(r, off, &next);
	const char *newname = oldname ? fs_req_name(r, next, NULL) : NULL;
	struct fs_inode *nd;
	int ret;

	ret = fs_name_check(oldname);
	if (!ret)
		ret = fs_name_check(newname);
	if (ret < 0)
		return ret;
	nd = fs_inode_get(r->s, newdir);
	if (!nd)
		return -ENOENT;
	ret = fs_host_rename(in->fd, oldname, nd->fd, newname, flags);
	if (!ret) {
		fs_inode_moved(r->s, nd, newname);
		if (flags & FW_RENAME_EXCHANGE)
			fs_inode_moved(r->s, in, oldname);
	}
	fs_inode_put(r->s, nd);
	return ret;
}

int fs_op_rename(struct fs_req *r, struct fs_inode *in)
{
	struct fw_rename_in a;

	memcpy(&a, r->arg, sizeof(a));
	return fs_rename(r, in, a.newdir, sizeof(a), 0);
}

int fs_op_rename2(struct fs_req *r, struct fs_inode *in)
{
	struct fw_rename2_in a;

	memcpy(&a, r->arg, sizeof(a));
	return fs_rename(r, in, a.newdir, sizeof(a), a.flags);
}

int fs_op_link(struct fs_req *r, struct fs_inode *in)
{
	struct fw_link_in a;
	const char *name = fs_req_name(r, sizeof(a), NULL);
	char oldname[FS_NAME_MAX + 1];
	struct fs_inode *old, *oldparent;
	int ret = fs_name_check(name);

	if (ret < 0)
		return ret;
	memcpy(&a, r->arg, sizeof(a));
	old = fs_inode_get(r->s, a.oldnodeid);
	if (!old)
		return -ENOENT;
	if (old->type == S_IFDIR) {
		fs_inode_put(r->s, old);
		return -EPERM;
	}
	ret = fs_inode_where(r->s, old, &oldparent, oldname);
	fs_inode_put(r->s, old);
	if (ret < 0)
		return -EPERM;
	/* linkat without AT_SYMLINK_FOLLOW links a symlink itself */
	ret = linkat(oldparent->fd, oldname, in->fd, name, 0) < 0 ? fs_host_errno(errno) : 0;
	fs_inode_put(r->s, oldparent);
	return ret < 0 ? ret : fs_entry_reply(r, in, name);
}

int fs_op_statfs(struct fs_req *r, struct fs_inode *in)
{
	struct fw_statfs_out *o = fs_reply_buf(r);
#ifdef __APPLE__
	/* macOS's statvfs counts in 32 bits (a big APFS volume overflows); statfs in 64 */
	struct statfs f;

	if (fstatfs(in->fd, &f) < 0)
		return fs_host_errno(errno);
	memset(o, 0, sizeof(*o));
	o->st.blocks = f.f_blocks;
	o->st.bfree = f.f_bfree;
	o->st.bavail = f.f_bavail;
	o->st.files = f.f_files;
	o->st.ffree = f.f_ffree;
	o->st.bsize = f.f_bsize;
	o->st.frsize = f.f_bsize;
	o->st.namelen = FS_NAME_MAX;
	return sizeof(*o);
#else
	struct statvfs v;

	if (fstatvfs(in->fd, &v) < 0)
		return fs_host_errno(errno);
	memset(o, 0, sizeof(*o));
	o->st.blocks = v.f_blocks;
	o->st.bfree = v.f_bfree;
	o->st.bavail = v.f_bavail;
	o->st.files = v.f_files;
	o->st.ffree = v.f_ffree;
	o->st.bsize = (uint32_t)v.f_bsize;
	o->st.frsize = (uint32_t)v.f_frsize;
	o->st.namelen = (uint32_t)(v.f_namemax < FS_NAME_MAX ? v.f_namemax : FS_NAME_MAX);
	return sizeof(*o);
#endif
}

int fs_op_access(struct fs_req *r, struct fs_inode *in)
{
	const struct fw_access_in *a = (const void *)r->arg;
	char name[FS_NAME_MAX + 1];
	struct fs_inode *parent = NULL;
	int mask = (int)(a->mask & (R_OK | W_OK | X_OK)), ret;

	if ((mask & W_OK) && r->s->readonly)
		return -EROFS;
	if (fs_inode_where(r->s, in, &parent, name) < 0)
		return fs_host_access(in->fd, -1, NULL, mask);
	ret = fs_host_access(in->fd, parent->fd, name, mask);
	fs_inode_put(r->s, parent);
	return ret;
}
