/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_FS_FUSE_WIRE_H
#define IGNITION_FS_FUSE_WIRE_H

/*
 * The FUSE wire protocol, version 7.31 to 7.38, as the project's own definitions: macOS has no
 * <linux/fuse.h>, and the server only needs the messages it speaks. Written from the protocol's
 * documentation (the kernel's uapi header comments and libfuse's docs); tests/unit/fs/
 * test_fuse_wire.c checks every size and offset against <linux/fuse.h> on Linux.
 *
 * Every message is little-endian on the hosts we run on (arm64, x86_64), as the guest's is: the
 * structs are used in place on copies of the request, never on guest memory directly.
 */
#include <stdint.h>

#define FW_KERNEL_VERSION 7
#define FW_MINOR_MIN	  31 /* the oldest we accept: Linux 5.10, the first with virtio-fs */
#define FW_MINOR	  38 /* what we implement */
#define FW_ROOT_ID	  1ULL

enum fw_opcode {
	FW_LOOKUP = 1,
	FW_FORGET = 2, /* no reply */
	FW_GETATTR = 3,
	FW_SETATTR = 4,
	FW_READLINK = 5,
	FW_SYMLINK = 6,
	FW_MKNOD = 8,
	FW_MKDIR = 9,
	FW_UNLINK = 10,
	FW_RMDIR = 11,
	FW_RENAME = 12,
	FW_LINK = 13,
	FW_OPEN = 14,
	FW_READ = 15,
	FW_WRITE = 16,
	FW_STATFS = 17,
	FW_RELEASE = 18,
	FW_FSYNC = 20,
	FW_SETXATTR = 21,
	FW_GETXATTR = 22,
	FW_LISTXATTR = 23,
	FW_REMOVEXATTR = 24,
	FW_FLUSH = 25,
	FW_INIT = 26,
	FW_OPENDIR = 27,
	FW_READDIR = 28,
	FW_RELEASEDIR = 29,
	FW_FSYNCDIR = 30,
	FW_GETLK = 31,
	FW_SETLK = 32,
	FW_SETLKW = 33,
	FW_ACCESS = 34,
	FW_CREATE = 35,
	FW_INTERRUPT = 36,
	FW_BMAP = 37,
	FW_DESTROY = 38,
	FW_IOCTL = 39,
	FW_POLL = 40,
	FW_NOTIFY_REPLY = 41,
	FW_BATCH_FORGET = 42, /* no reply */
	FW_FALLOCATE = 43,
	FW_READDIRPLUS = 44,
	FW_RENAME2 = 45,
	FW_LSEEK = 46,
	FW_COPY_FILE_RANGE = 47,
	FW_SETUPMAPPING = 48,
	FW_REMOVEMAPPING = 49,
	FW_SYNCFS = 50,
	FW_TMPFILE = 51,
};

/* FW_INIT flags (fw_init_in.flags / fw_init_out.flags): the ones we may agree to. */
#define FW_INIT_ASYNC_READ	 (1u << 0)
#define FW_INIT_ATOMIC_O_TRUNC	 (1u << 3)
#define FW_INIT_BIG_WRITES	 (1u << 5)
#define FW_INIT_AUTO_INVAL_DATA	 (1u << 12)
#define FW_INIT_DO_READDIRPLUS	 (1u << 13)
#define FW_INIT_READDIRPLUS_AUTO (1u << 14)
#define FW_INIT_PARALLEL_DIROPS	 (1u << 18)
#define FW_INIT_MAX_PAGES	 (1u << 22)
#define FW_INIT_CACHE_SYMLINKS	 (1u << 23)
#define FW_INIT_INIT_EXT	 (1u << 30) /* flags2 is meaningful */

/* fw_setattr_in.valid */
#define FW_FATTR_MODE	   (1u << 0)
#define FW_FATTR_UID	   (1u << 1)
#define FW_FATTR_GID	   (1u << 2)
#define FW_FATTR_SIZE	   (1u << 3)
#define FW_FATTR_ATIME	   (1u << 4)
#define FW_FATTR_MTIME	   (1u << 5)
#define FW_FATTR_FH	   (1u << 6)
#define FW_FATTR_ATIME_NOW (1u << 7)
#define FW_FATTR_MTIME_NOW (1u << 8)
#define FW_FATTR_LOCKOWNER (1u << 9)
#define FW_FATTR_CTIME	   (1u << 10)

#define FW_GETATTR_FH	    (1u << 0) /* fw_getattr_in.getattr_flags: fh is valid */
#define FW_FSYNC_FDATASYNC  (1u << 0)
#define FW_RENAME_NOREPLACE (1u << 0) /* as Linux's renameat2 flags */
#define FW_RENAME_EXCHANGE  (1u << 1)
#define FW_RENAME_WHITEOUT  (1u << 2)
#define FW_FOPEN_KEEP_CACHE (1u << 1)
#define FW_FOPEN_CACHE_DIR  (1u << 3)

/* Linux's open(2) flag values, which the guest sends whatever the host's are. */
#define FW_O_ACCMODE  00000003
#define FW_O_RDONLY   00000000
#define FW_O_WRONLY   00000001
#define FW_O_RDWR     00000002
#define FW_O_CREAT    00000100
#define FW_O_EXCL     00000200
#define FW_O_TRUNC    00001000
#define FW_O_APPEND   00002000
#define FW_O_NONBLOCK 00004000
#define FW_O_DSYNC    00010000
#define FW_O_SYNC     04010000

/*
 * Mode bits (S_IFMT and permissions) and DT_* types are the same numbers on Linux and macOS;
 * errno values are not: the server translates each reply's error once (fs_wire_errno()).
 */

struct fw_in_header {
	uint32_t len; /* the whole request, header included */
	uint32_t opcode;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;
	uint16_t total_extlen; /* 7.36: extensions after the arguments, in 8-byte units */
	uint16_t padding;
};

struct fw_out_header {
	uint32_t len; /* the whole reply, header included */
	int32_t error; /* 0 or a negative Linux errno */
	uint64_t unique;
};

struct fw_attr {
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t atime;
	uint64_t mtime;
	uint64_t ctime;
	uint32_t atimensec;
	uint32_t mtimensec;
	uint32_t ctimensec;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev;
	uint32_t blksize;
	uint32_t flags;
};

struct fw_entry_out {
	uint64_t nodeid;
	uint64_t generation;
	uint64_t entry_valid; /* seconds the name stays cached */
	uint64_t attr_valid;
	uint32_t entry_valid_nsec;
	uint32_t attr_valid_nsec;
	struct fw_attr attr;
};

struct fw_forget_in {
	uint64_t nlookup;
};

struct fw_forget_one {
	uint64_t nodeid;
	uint64_t nlookup;
};

struct fw_batch_forget_in {
	uint32_t count; /* followed by count fw_forget_one */
	uint32_t dummy;
};

struct fw_getattr_in {
	uint32_t getattr_flags;
	uint32_t dummy;
	uint64_t fh;
};

struct fw_attr_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t dummy;
	struct fw_attr attr;
};

struct fw_mknod_in {
	uint32_t mode;
	uint32_t rdev;
	uint32_t umask;
	uint32_t padding; /* then the name */
};

struct fw_mkdir_in {
	uint32_t mode;
	uint32_t umask; /* then the name */
};

struct fw_rename_in {
	uint64_t newdir; /* then the old name, then the new one */
};

struct fw_rename2_in {
	uint64_t newdir;
	uint32_t flags;
	uint32_t padding;
};

struct fw_link_in {
	uint64_t oldnodeid; /* then the new name */
};

struct fw_setattr_in {
	uint32_t valid;
	uint32_t padding;
	uint64_t fh;
	uint64_t size;
	uint64_t lock_owner;
	uint64_t atime;
	uint64_t mtime;
	uint64_t ctime;
	uint32_t atimensec;
	uint32_t mtimensec;
	uint32_t ctimensec;
	uint32_t mode;
	uint32_t unused4;
	uint32_t uid;
	uint32_t gid;
	uint32_t unused5;
};

struct fw_open_in {
	uint32_t flags;
	uint32_t open_flags; /* 7.33 */
};

struct fw_create_in {
	uint32_t flags;
	uint32_t mode;
	uint32_t umask;
	uint32_t open_flags; /* then the name */
};

struct fw_open_out {
	uint64_t fh;
	uint32_t open_flags;
	uint32_t padding;
};

struct fw_release_in {
	uint64_t fh;
	uint32_t flags;
	uint32_t release_flags;
	uint64_t lock_owner;
};

struct fw_flush_in {
	uint64_t fh;
	uint32_t unused;
	uint32_t padding;
	uint64_t lock_owner;
};

struct fw_read_in {
	uint64_t fh;
	uint64_t offset;
	uint32_t size;
	uint32_t read_flags;
	uint64_t lock_owner;
	uint32_t flags;
	uint32_t padding;
};

struct fw_write_in {
	uint64_t fh;
	uint64_t offset;
	uint32_t size; /* then size bytes of data */
	uint32_t write_flags;
	uint64_t lock_owner;
	uint32_t flags;
	uint32_t padding;
};

struct fw_write_out {
	uint32_t size;
	uint32_t padding;
};

struct fw_kstatfs {
	uint64_t blocks;
	uint64_t bfree;
	uint64_t bavail;
	uint64_t files;
	uint64_t ffree;
	uint32_t bsize;
	uint32_t namelen;
	uint32_t frsize;
	uint32_t padding;
	uint32_t spare[6];
};

struct fw_statfs_out {
	struct fw_kstatfs st;
};

struct fw_fsync_in {
	uint64_t fh;
	uint32_t fsync_flags;
	uint32_t padding;
};

struct fw_access_in {
	uint32_t mask;
	uint32_t padding;
};

/* Before 7.36 the kernel sent only the first four fields; later ones add flags2 and room. */
struct fw_init_in {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint32_t flags2;
	uint32_t unused[11];
};

#define FW_INIT_IN_SIZE_OLD 16u

struct fw_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t unused[7];
};

/* One READDIR entry: the name follows, the next entry starts at the next multiple of 8. */
struct fw_dirent {
	uint64_t ino;
	uint64_t off; /* where the next READDIR resumes */
	uint32_t namelen;
	uint32_t type; /* DT_* (S_IFMT >> 12) */
};

#define FW_DIRENT_ALIGN(x) (((x) + 7u) & ~7u)

struct fw_direntplus {
	struct fw_entry_out entry_out;
	struct fw_dirent dirent;
};

struct fw_fallocate_in {
	uint64_t fh;
	uint64_t offset;
	uint64_t length;
	uint32_t mode;
	uint32_t padding;
};

struct fw_lseek_in {
	uint64_t fh;
	uint64_t offset;
	uint32_t whence;
	uint32_t padding;
};

struct fw_lseek_out {
	uint64_t offset;
};

#define FW_FALLOC_KEEP_SIZE  0x01 /* Linux's fallocate(2) modes */
#define FW_FALLOC_PUNCH_HOLE 0x02
#define FW_SEEK_DATA	     3
#define FW_SEEK_HOLE	     4

#endif
