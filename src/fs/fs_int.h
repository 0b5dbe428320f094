/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_FS_FS_INT_H
#define IGNITION_FS_FS_INT_H

/*
 * Server internals shared by the dispatch (server.c), the tables (table.c), the operations
 * (ops_*.c) and host.c.
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs/fs.h"
#include "fs/fuse_wire.h"

#define FS_NAME_MAX 255u /* one component, as Linux's NAME_MAX */
#define FS_LINK_MAX 4095u /* a symlink's target, as Linux's PATH_MAX - 1 */
/* Arguments copied out of a request (names, a symlink target, a batch of forgets). */
#define FS_ARG_MAX (8u * 1024)
/* The largest reply built in scratch (READDIR, READLINK); READ goes straight to the guest. */
#define FS_REPLY_MAX (128u * 1024)
/*
 * The largest READ or WRITE payload: 1 MiB, as virtiofsd, and the most a Linux guest asks for
 * (FUSE_MAX_MAX_PAGES). The data moves between the guest's buffers and the host file directly,
 * so the size costs the VMM nothing; the guest's 1 MiB write() becomes one request, not four.
 * The virtio-fs queue is large enough for such a chain (devices/virtio/fs.c).
 */
#define FS_MAX_WRITE (1024u * 1024)
#define FS_MAX_PAGES (FS_MAX_WRITE / 4096)
/*
 * Per-share caps when neither the parameters nor RLIMIT_NOFILE ask for less: a guest's page
 * and dentry caches pin an inode per file they hold (a git checkout, a build tree), so the
 * table must be large, and it costs about 300 bytes plus a descriptor per inode.
 */
#define FS_DEFAULT_INODES  131072u
#define FS_DEFAULT_HANDLES 16384u
#define FS_FD_WANT	   (1u << 20) /* RLIMIT_NOFILE asked for: Linux's default nr_open */
/* How long the guest may cache names and attributes. */
#define FS_ENTRY_TIMEOUT_S 1u

/*
 * An inode the guest holds (nlookup > 0) or the server still uses (refs > 0). The descriptor
 * is O_PATH on Linux (nothing can be read through it), O_EVTONLY (or O_SYMLINK) on macOS.
 * parent and name say where the inode was last seen, for the operations that need a name
 * (reopening a file for I/O, utimensat): they are the server's own, never the guest's.
 */
struct fs_inode {
	uint64_t nodeid;
	int fd;
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits */
	uint64_t nlookup;
	unsigned refs;
	struct fs_inode *parent; /* holds a ref; NULL for the root */
	char name[FS_NAME_MAX + 1];
	struct fs_inode *next_id; /* hash chains */
	struct fs_inode *next_key;
};

/* An open file or directory (the guest's fh). */
struct fs_handle {
	int fd;
	DIR *dir; /* directories: opened at the first READDIR, owns fd then */
	bool used;
	bool is_dir;
	unsigned refs;
	uint32_t gen;
	struct fs_inode *inode; /* holds a ref */
	pthread_mutex_t lock; /* directories: one READDIR at a time moves the stream */
};

struct fs_server {
	pthread_mutex_t lock; /* the tables, nlookup, refs, parent and name */
	struct fs_inode *root;
	bool readonly;
	atomic_bool initialized;
	uint32_t minor; /* negotiated */
	uint64_t next_nodeid;

	struct fs_inode **by_id;
	struct fs_inode **by_key;
	unsigned nr_buckets; /* power of two */
	unsigned nr_inodes;
	unsigned max_inodes;

	struct fs_handle *handles;
	unsigned *free_handles; /* released slots, reused first */
	unsigned nr_free_handles;
	unsigned handles_touched; /* slots [0, handles_touched) have been set up */
	unsigned max_handles;
};

/* Both buffers hold wire structs, used in place: 8-byte aligned. */
struct fs_scratch {
	_Alignas(8) uint8_t arg[FS_ARG_MAX + 8]; /* + 8: a NUL after whatever was copied */
	_Alignas(8) uint8_t reply[FS_REPLY_MAX];
	struct iovec iov[1024];
};

/* One request being served. */
struct fs_req {
	struct fs_server *s;
	struct fs_scratch *sc;
	struct fw_in_header h;
	const uint8_t *arg; /* a copy of the arguments after the header, NUL-terminated */
	size_t arg_len;
	const struct iovec *in;
	unsigned nr_in;
	size_t in_len; /* what the header says, checked against the chain */
	const struct iovec *out;
	unsigned nr_out;
	size_t out_room; /* writable bytes after the out header */
	bool no_reply;
	bool direct; /* the payload was written straight into out (READ) */
};

/* table.c: the tables */
int fs_tables_init(struct fs_server *s); /* for max_inodes and max_handles; -ENOMEM */
void fs_tables_free(struct fs_server *s); /* closes every descriptor they hold */
int fs_root_open(struct fs_server *s, const char *path, struct errbuf *e);
/* DESTROY, or a device reset: every inode and handle the guest held is let go. */
void fs_forget_all(struct fs_server *s);
struct fs_inode *fs_inode_get(struct fs_server *s, uint64_t nodeid); /* a ref, or NULL */
void fs_inode_put(struct fs_server *s, struct fs_inode *in);
/*
 * Looks name up under parent (an open O_PATH descriptor of it: fd) and gives the guest one more
 * reference to the inode, filling e. -ENFILE when the inode cap is reached. With inp, the
 * inode comes back with a server ref the caller puts.
 */
int fs_lookup_at(struct fs_server *s, struct fs_inode *parent, int dirfd, const char *name,
		 struct fw_entry_out *e, struct fs_inode **inp);
/* Where the inode was last seen: its parent (a ref) and name. -ENOENT for the root. */
int fs_inode_where(struct fs_server *s, struct fs_inode *in, struct fs_inode **parent,
		   char name[FS_NAME_MAX + 1]);
/* A rename moved whatever (parent, name) was to (newparent, newname). */
void fs_inode_moved(struct fs_server *s, struct fs_inode *newparent, const char *newname);
void fs_forget(struct fs_server *s, uint64_t nodeid, uint64_t n);
bool fs_room_for_inode(struct fs_server *s);

/* A handle slot: fh in *fh; -ENFILE at the cap. The handle owns fd (closed on failure). */
int fs_handle_add(struct fs_server *s, int fd, bool is_dir, struct fs_inode *in, uint64_t *fh);
struct fs_handle *fs_handle_get(struct fs_server *s, uint64_t fh, bool is_dir);
void fs_handle_put(struct fs_server *s, struct fs_handle *h);
int fs_handle_release(struct fs_server *s, uint64_t fh, bool is_dir);
int fs_handle_fd(struct fs_handle *h);

/* Request helpers */
const char *fs_req_name(struct fs_req *r, size_t off, size_t *next);
int fs_name_check(const char *name);
void *fs_reply_buf(struct fs_req *r);

/* host.c: the host's system calls, behind one face on Linux and macOS */
int fs_host_errno(int err); /* errno -> -errno, never 0 */
/* A negative host errno as the guest's Linux numbers it (macOS numbers many differently). */
int fs_wire_errno(int neg);
int fs_host_open_path(int dirfd, const char *name); /* an inode descriptor, or -errno */
int fs_host_open_at(int dirfd, const char *name, int flags, mode_t mode); /* I/O, or -errno */
int fs_host_open_flags(uint32_t guest_flags); /* Linux open flags the guest sent -> host */
void fs_host_attr(const struct stat *st, struct fw_attr *a);
int fs_host_readlink(int fd, int dirfd, const char *name, char *buf, size_t len);
int fs_host_chown(int fd, int dirfd, const char *name, uid_t uid, gid_t gid);
int fs_host_chmod(int fd, int dirfd, const char *name, mode_t mode); /* -ENOSYS: open it */
int fs_host_access(int fd, int dirfd, const char *name, int mask);
int fs_host_rename(int olddir, const char *oldname, int newdir, const char *newname,
		   uint32_t flags);
int fs_host_fallocate(int fd, uint32_t mode, uint64_t off, uint64_t len);
int fs_host_sync(int fd, bool datasync);

/* Re-opens an inode for I/O without following anything; checks it is still the same file. */
int fs_inode_open(struct fs_server *s, struct fs_inode *in, int flags);

/* ops_node.c, ops_file.c, ops_dir.c */
typedef int (*fs_op_fn)(struct fs_req *r, struct fs_inode *in);
int fs_op_lookup(struct fs_req *r, struct fs_inode *in);
int fs_op_getattr(struct fs_req *r, struct fs_inode *in);
int fs_op_setattr(struct fs_req *r, struct fs_inode *in);
int fs_op_readlink(struct fs_req *r, struct fs_inode *in);
int fs_op_symlink(struct fs_req *r, struct fs_inode *in);
int fs_op_mknod(struct fs_req *r, struct fs_inode *in);
int fs_op_mkdir(struct fs_req *r, struct fs_inode *in);
int fs_op_unlink(struct fs_req *r, struct fs_inode *in);
int fs_op_rmdir(struct fs_req *r, struct fs_inode *in);
int fs_op_rename(struct fs_req *r, struct fs_inode *in);
int fs_op_rename2(struct fs_req *r, struct fs_inode *in);
int fs_op_link(struct fs_req *r, struct fs_inode *in);
int fs_op_statfs(struct fs_req *r, struct fs_inode *in);
int fs_op_access(struct fs_req *r, struct fs_inode *in);
int fs_op_open(struct fs_req *r, struct fs_inode *in);
int fs_op_create(struct fs_req *r, struct fs_inode *in);
int fs_op_read(struct fs_req *r, struct fs_inode *in);
int fs_op_write(struct fs_req *r, struct fs_inode *in);
int fs_op_flush(struct fs_req *r, struct fs_inode *in);
int fs_op_release(struct fs_req *r, struct fs_inode *in);
int fs_op_fsync(struct fs_req *r, struct fs_inode *in);
int fs_op_fallocate(struct fs_req *r, struct fs_inode *in);
int fs_op_lseek(struct fs_req *r, struct fs_inode *in);
int fs_op_opendir(struct fs_req *r, struct fs_inode *in);
int fs_op_readdir(struct fs_req *r, struct fs_inode *in);
int fs_op_readdirplus(struct fs_req *r, struct fs_inode *in);
int fs_op_releasedir(struct fs_req *r, struct fs_inode *in);
int fs_op_fsyncdir(struct fs_req *r, struct fs_inode *in);

/* Fills an entry (attributes, timeouts) for an inode the caller holds. */
int fs_fill_entry(struct fs_inode *in, struct fw_entry_out *e);

#endif
