// SPDX-License-Identifier: MIT
/*
 * The host's file system calls behind one face. Linux: inode descriptors are O_PATH, names are
 * resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) where the
 * kernel has it, on top of O_NOFOLLOW and the one-component check. macOS: O_EVTONLY descriptors
 * (they hold no mount busy; unlike O_PATH, XNU still asks for read permission and refuses
 * sockets), O_SYMLINK for symlinks, O_NOFOLLOW_ANY on opens.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/openat2.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#endif

#include "fs/fs_int.h"

#ifdef __APPLE__
/* macOS numbers the less common errors differently from Linux, which the guest speaks. */
static const struct {
	int host;
	int linux_errno;
} fs_errno_map[] = {
	{ EAGAIN, 11 },
	{ EDEADLK, 35 },
	{ ENAMETOOLONG, 36 },
	{ ENOLCK, 37 },
	{ ENOSYS, 38 },
	{ ENOTEMPTY, 39 },
	{ ELOOP, 40 },
	{ ENOMSG, 42 },
	{ EIDRM, 43 },
	{ ENOSTR, 60 },
	{ ENODATA, 61 },
	{ ETIME, 62 },
	{ ENOSR, 63 },
	{ EREMOTE, 66 },
	{ ENOLINK, 67 },
	{ EPROTO, 71 },
	{ EMULTIHOP, 72 },
	{ EBADMSG, 74 },
	{ EOVERFLOW, 75 },
	{ EILSEQ, 84 },
	{ EUSERS, 87 },
	{ ENOTSOCK, 88 },
	{ EDESTADDRREQ, 89 },
	{ EMSGSIZE, 90 },
	{ EPROTOTYPE, 91 },
	{ ENOPROTOOPT, 92 },
	{ EPROTONOSUPPORT, 93 },
	{ ESOCKTNOSUPPORT, 94 },
	{ ENOTSUP, 95 },
	{ EOPNOTSUPP, 95 },
	{ EPFNOSUPPORT, 96 },
	{ EAFNOSUPPORT, 97 },
	{ EADDRINUSE, 98 },
	{ EADDRNOTAVAIL, 99 },
	{ ENETDOWN, 100 },
	{ ENETUNREACH, 101 },
	{ ENETRESET, 102 },
	{ ECONNABORTED, 103 },
	{ ECONNRESET, 104 },
	{ ENOBUFS, 105 },
	{ EISCONN, 106 },
	{ ENOTCONN, 107 },
	{ ESHUTDOWN, 108 },
	{ ETOOMANYREFS, 109 },
	{ ETIMEDOUT, 110 },
	{ ECONNREFUSED, 111 },
	{ EHOSTDOWN, 112 },
	{ EHOSTUNREACH, 113 },
	{ EALREADY, 114 },
	{ EINPROGRESS, 115 },
	{ ESTALE, 116 },
	{ EDQUOT, 122 },
	{ ECANCELED, 125 },
	{ EOWNERDEAD, 130 },
	{ ENOTRECOVERABLE, 131 },
	{ EWOULDBLOCK, 11 },
	{ EFTYPE, 22 },
	{ EAUTH, 13 },
	{ ENEEDAUTH, 13 },
	{ ENOATTR, 61 },
};
#endif

int fs_host_errno(int err)
{
	return err > 0 ? -err : -EIO;
}

int fs_wire_errno(int neg)
{
#ifdef __APPLE__
	int err = -neg;

	for (size_t i = 0; i < sizeof(fs_errno_map) / sizeof(fs_errno_map[0]); i++)
		if (fs_errno_map[i].host == err)
			return -fs_errno_map[i].linux_errno;
	/* 1..34 agree (EPERM .. ERANGE); anything else becomes EIO */
	return err > 0 && err <= 34 ? neg : -5;
#else
	return neg < 0 && neg > -4096 ? neg : -EIO;
#endif
}

#ifdef __linux__
/* Cleared once the kernel (or a container's filter) says it has no openat2. */
static atomic_bool fs_no_openat2;

static int fs_openat2(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.mode = flags & O_CREAT ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (atomic_load_explicit(&fs_no_openat2, memory_order_relaxed))
		return -ENOSYS;
	do
		fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* EPERM: a seccomp filter of a container that predates openat2 */
		atomic_store(&fs_no_openat2, true);
		return -ENOSYS;
	}
	return fd < 0 ? -errno : (int)fd;
}
#endif

/*
 * Every open of the server: name is one checked component, O_NOFOLLOW keeps a symlink in its
 * place from being followed, and openat2 refuses any resolution that would leave dirfd.
 */
static int fs_open_raw(int dirfd, const char *name, int flags, mode_t mode)
{
	int fd;

	flags |= O_CLOEXEC;
#ifdef O_SYMLINK
	/* O_SYMLINK opens the link itself; XNU refuses a symlink under O_NOFOLLOW (ELOOP) */
	if (!(flags & O_SYMLINK))
#endif
		flags |= O_NOFOLLOW;
#ifdef O_PATH
	/* a tty in the share never becomes ours; openat2 refuses O_PATH with other flags */
	if (!(flags & O_PATH))
#endif
		flags |= O_NOCTTY;
#ifdef __linux__
	fd = fs_openat2(dirfd, name, flags, mode);
	if (fd != -ENOSYS)
		return fd < 0 ? fs_host_errno(-fd) : fd;
#endif
	do
		fd = openat(dirfd, name, flags, mode);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? fs_host_errno(errno) : fd;
}

int fs_host_open_path(int dirfd, const char *name)
{
#ifdef __linux__
	return fs_open_raw(dirfd, name, O_PATH, 0);
#else
	/*
	 * Unlike O_PATH, this open reaches the file's driver: O_NONBLOCK keeps a fifo (no writer)
	 * or a tty (no carrier) in the share from blocking the worker, as O_NOCTTY keeps the tty.
	 */
	int fd = fs_open_raw(dirfd, name, O_EVTONLY | O_NONBLOCK | O_NOFOLLOW_ANY, 0);

	/* O_NOFOLLOW refuses a symlink: open the link itself, which O_SYMLINK never follows. */
	if (fd == -ELOOP)
		fd = fs_open_raw(dirfd, name, O_EVTONLY | O_NONBLOCK | O_SYMLINK, 0);
	return fd;
#endif
}

int fs_host_open_at(int dirfd, const char *name, int flags, mode_t mode)
{
#ifdef __APPLE__
	flags |= O_NOFOLLOW_ANY;
#endif
	return fs_open_raw(dirfd, name, flags, mode);
}

/* The guest's flags are Linux's (arm64 and x86 agree on these); take only what is safe. */
int fs_host_open_flags(uint32_t g)
{
	int f;

	switch (g & FW_O_ACCMODE) {
	case FW_O_WRONLY:
		f = O_WRONLY;
		break;
	case FW_O_RDWR:
		f = O_RDWR;
		break;
	default:
		f = O_RDONLY;
		break;
	}
	if (g & FW_O_APPEND)
		f |= O_APPEND;
	if (g & FW_O_TRUNC)
		f |= O_TRUNC;
	if (g & FW_O_EXCL)
		f |= O_EXCL;
	if ((g & FW_O_SYNC) == FW_O_SYNC)
		f |= O_SYNC;
	else if (g & FW_O_DSYNC)
		f |= O_DSYNC;
	return f;
}

/* Linux's new_encode_dev(), which the guest decodes. */
static uint32_t fs_encode_dev(dev_t d)
{
	uint32_t ma = major(d), mi = minor(d);

	return (mi & 0xff) | (ma & 0xfff) << 8 | (mi & ~0xffu) << 12;
}

void fs_host_attr(const struct stat *st, struct fw_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = (uint64_t)st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->mode = (uint32_t)st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = (uint32_t)st->st_uid;
	a->gid = (uint32_t)st->st_gid;
	a->rdev = fs_encode_dev(st->st_rdev);
	a->blksize = (uint32_t)st->st_blksize;
#ifdef __APPLE__
	a->atime = (uint64_t)st->st_atimespec.tv_sec;
	a->atimensec = (uint32_t)st->st_atimespec.tv_nsec;
	a->mtime = (uint64_t)st->st_mtimespec.tv_sec;
	a->mtimensec = (uint32_t)st->st_mtimespec.tv_nsec;
	a->ctime = (uint64_t)st->st_ctimespec.tv_sec;
	a->ctimensec = (uint32_t)st->st_ctimespec.tv_nsec;
#else
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
#endif
}

/* fd: the inode's own descriptor; dirfd/name: where it was last seen (name NULL: the root). */
int fs_host_readlink(int fd, int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n;

#ifdef __linux__
	(void)dirfd;
	(void)name;
	n = readlinkat(fd, "", buf, len);
#else
	(void)fd;
	n = name ? readlinkat(dirfd, name, buf, len) : (errno = EINVAL, -1);
#endif
	return n < 0 ? fs_host_errno(errno) : (int)n;
}

int fs_host_chown(int fd, int dirfd, const char *name, uid_t uid, gid_t gid)
{
	int r;

#ifdef __linux__
	(void)dirfd;
	(void)name;
	r = fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
#else
	r = name ? fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) : fchown(fd, uid, gid);
#endif
	return r < 0 ? fs_host_errno(errno) : 0;
}

#ifdef __linux__
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6, the same number on every architecture */
#endif
/* Set once the kernel says it has no fchmodat2. */
static atomic_bool fs_no_fchmodat2;
#endif

/*
 * chmod of the inode itself without opening it, so that a file nobody may read or write can
 * still change its mode, and without following anything. Linux: fchmodat2 on the O_PATH
 * descriptor with AT_EMPTY_PATH (6.6 and newer; -ENOSYS before). macOS: (dirfd, name) with
 * AT_SYMLINK_NOFOLLOW, which the kernel honours; -ENOSYS for the root (name NULL).
 */
int fs_host_chmod(int fd, int dirfd, const char *name, mode_t mode)
{
	int r;

#ifdef __linux__
	(void)dirfd;
	(void)name;
	if (atomic_load_explicit(&fs_no_fchmodat2, memory_order_relaxed))
		return -ENOSYS;
	r = (int)syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH);
	if (r < 0 && errno == ENOSYS) {
		atomic_store(&fs_no_fchmodat2, true);
		return -ENOSYS;
	}
#else
	(void)fd;
	if (!name)
		return -ENOSYS;
	r = fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW);
#endif
	return r < 0 ? fs_host_errno(errno) : 0;
}

int fs_host_access(int fd, int dirfd, const char *name, int mask)
{
	int r;

#ifdef __linux__
	(void)dirfd;
	(void)name;
	r = faccessat(fd, "", mask, AT_EMPTY_PATH);
#else
	r = name ? faccessat(dirfd, name, mask, AT_SYMLINK_NOFOLLOW) : faccessat(fd, ".", mask, 0);
#endif
	return r < 0 ? fs_host_errno(errno) : 0;
}

int fs_host_rename(int olddir, const char *oldname, int newdir, const char *newname, uint32_t flags)
{
	int r;

	if (flags & ~(FW_RENAME_NOREPLACE | FW_RENAME_EXCHANGE))
		return -EINVAL; /* WHITEOUT makes a device node */
	if ((flags & FW_RENAME_NOREPLACE) && (flags & FW_RENAME_EXCHANGE))
		return -EINVAL;
#ifdef __linux__
	r = flags ? renameat2(olddir, oldname, newdir, newname,
			      (flags & FW_RENAME_NOREPLACE ? RENAME_NOREPLACE : 0) |
				      (flags & FW_RENAME_EXCHANGE ? RENAME_EXCHANGE : 0)) :
		    renameat(olddir, oldname, newdir, newname);
#else
	r = flags ? renameatx_np(olddir, oldname, newdir, newname,
				 (flags & FW_RENAME_NOREPLACE ? RENAME_EXCL : 0) |
					 (flags & FW_RENAME_EXCHANGE ? RENAME_SWAP : 0)) :
		    renameat(olddir, oldname, newdir, newname);
#endif
	return r < 0 ? fs_host_errno(errno) : 0;
}

int fs_host_fallocate(int fd, uint32_t mode, uint64_t off, uint64_t len)
{
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
#ifdef __linux__
	if (mode & ~(uint32_t)(FW_FALLOC_KEEP_SIZE | FW_FALLOC_PUNCH_HOLE))
		return -EOPNOTSUPP; /* collapse, insert, zero range: not offered */
	if (fallocate(fd, (int)mode, (off_t)off, (off_t)len) < 0)
		return fs_host_errno(errno);
	return 0;
#else
	(void)fd;
	(void)mode;
	return -EOPNOTSUPP; /* the guest then writes zeroes itself */
#endif
}

int fs_host_sync(int fd, bool datasync)
{
	int r;

#ifdef __APPLE__
	(void)datasync;
	r = fcntl(fd, F_FULLFSYNC);
	if (r < 0)
		r = fsync(fd);
#else
	r = datasync ? fdatasync(fd) : fsync(fd);
#endif
	return r < 0 ? fs_host_errno(errno) : 0;
}

/*
 * What the server calls once running, for the seccomp filter. The base filter already has
 * read/write/pread/pwrite/lseek/fstat/newfstatat/fcntl/close/fsync/fdatasync/fallocate.
 */
const char *const fs_server_syscalls[] = {
	"openat",    "openat2",	  "fstatfs",   "getdents64", "readlinkat", "mkdirat", "mknodat",
	"symlinkat", "linkat",	  "unlinkat",  "renameat",   "renameat2",  "fchmod",  "fchmodat2",
	"fchownat",  "ftruncate", "utimensat", "faccessat",  "faccessat2", NULL,
};
