// SPDX-License-Identifier: MIT
/*
 * The FUSE server's dispatch and life cycle: one request from the chain's buffers to its reply,
 * INIT, DESTROY and the FORGETs. The tables of inodes and open handles are in table.c, the
 * other operations in ops_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_int.h"
#include "util/compiler.h"

/* ---- requests ---- */

/* A NUL-terminated string at off in the arguments; NULL when it runs past them. */
const char *fs_req_name(struct fs_req *r, size_t off, size_t *next)
{
	const char *p;
	size_t n;

	if (off >= r->arg_len)
		return NULL;
	p = (const char *)r->arg + off;
	n = strnlen(p, r->arg_len - off);
	if (n == r->arg_len - off)
		return NULL;
	if (next)
		*next = off + n + 1;
	return p;
}

/* One component, never a way up, across or nowhere. */
int fs_name_check(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!n || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return -EINVAL;
	return 0;
}

void *fs_reply_buf(struct fs_req *r)
{
	return r->sc->reply;
}

/* Copies len bytes at offset off of the iovecs from (to_iov) or into buf; returns bytes moved. */
static size_t fs_iov_copy(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len,
			  bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = min_u64(l - off, len - done);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, l);
		else
			memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

static size_t fs_iov_len(const struct iovec *iov, unsigned n)
{
	size_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static int fs_op_init(struct fs_req *r, struct fs_inode *in)
{
	const uint32_t want = FW_INIT_ASYNC_READ | FW_INIT_ATOMIC_O_TRUNC | FW_INIT_BIG_WRITES |
			      FW_INIT_AUTO_INVAL_DATA | FW_INIT_DO_READDIRPLUS |
			      FW_INIT_READDIRPLUS_AUTO | FW_INIT_PARALLEL_DIROPS |
			      FW_INIT_MAX_PAGES | FW_INIT_CACHE_SYMLINKS;
	struct fw_init_in ii = { 0 };
	struct fw_init_out *o = fs_reply_buf(r);

	memcpy(&ii, r->arg, min_u64(r->arg_len, sizeof(ii)));
	memset(o, 0, sizeof(*o));
	o->major = FW_KERNEL_VERSION;
	o->minor = FW_MINOR;
	/* a newer major: answer with ours, and the kernel asks again in our version */
	if (ii.major > FW_KERNEL_VERSION)
		return sizeof(*o);
	if (ii.major < FW_KERNEL_VERSION || ii.minor < FW_MINOR_MIN)
		return -EPROTO;
	r->s->minor = (uint32_t)min_u64(ii.minor, FW_MINOR);
	o->minor = r->s->minor;
	o->max_readahead = ii.max_readahead;
	o->flags = ii.flags & want;
	o->max_background = 64;
	o->congestion_threshold = 48;
	o->max_write = FS_MAX_WRITE;
	o->time_gran = 1;
	o->max_pages = FS_MAX_PAGES;
	r->s->initialized = true;
	return sizeof(*o);
}

void fs_server_reset(struct fs_server *s)
{
	fs_forget_all(s);
	s->initialized = false;
}

static int fs_op_destroy(struct fs_req *r, struct fs_inode *in)
{
	fs_server_reset(r->s);
	return 0;
}

static int fs_op_forget(struct fs_req *r, struct fs_inode *in)
{
	const struct fw_forget_in *f = (const void *)r->arg;

	fs_forget(r->s, r->h.nodeid, f->nlookup);
	r->no_reply = true;
	return 0;
}

static int fs_op_batch_forget(struct fs_req *r, struct fs_inode *in)
{
	const struct fw_batch_forget_in *b = (const void *)r->arg;
	size_t room = (r->arg_len - sizeof(*b)) / sizeof(struct fw_forget_one);
	size_t n = min_u64(b->count, room);

	for (size_t i = 0; i < n; i++) {
		struct fw_forget_one f;

		memcpy(&f, r->arg + sizeof(*b) + i * sizeof(f), sizeof(f));
		fs_forget(r->s, f.nodeid, f.nlookup);
	}
	r->no_reply = true;
	return 0;
}

enum {
	FS_OP_NODE = 1 << 0, /* needs the inode h.nodeid */
	FS_OP_WRITES = 1 << 1, /* EROFS on a read-only share */
	FS_OP_ANY = 1 << 2, /* runs before INIT */
};

struct fs_op {
	fs_op_fn fn;
	uint8_t flags;
	uint16_t arg_min; /* fixed argument bytes */
	uint16_t reply_min; /* fixed reply bytes: refused before anything is done without room */
};

#define OP(code, f, fl, a, rep) [code] = { .fn = f, .flags = fl, .arg_min = a, .reply_min = rep }
#define N			FS_OP_NODE
#define W			(FS_OP_NODE | FS_OP_WRITES)
/* Requests on an open file name it by fh; the inode is the handle's. */
#define F  0
#define FW FS_OP_WRITES
static const struct fs_op fs_ops[] = {
	OP(FW_INIT, fs_op_init, FS_OP_ANY, FW_INIT_IN_SIZE_OLD, sizeof(struct fw_init_out)),
	OP(FW_DESTROY, fs_op_destroy, 0, 0, 0),
	OP(FW_LOOKUP, fs_op_lookup, N, 0, sizeof(struct fw_entry_out)),
	OP(FW_FORGET, fs_op_forget, FS_OP_ANY, sizeof(struct fw_forget_in), 0),
	OP(FW_BATCH_FORGET, fs_op_batch_forget, FS_OP_ANY, sizeof(struct fw_batch_forget_in), 0),
	OP(FW_GETATTR, fs_op_getattr, N, sizeof(struct fw_getattr_in), sizeof(struct fw_attr_out)),
	OP(FW_SETATTR, fs_op_setattr, W, sizeof(struct fw_setattr_in), sizeof(struct fw_attr_out)),
	OP(FW_STATFS, fs_op_statfs, N, 0, sizeof(struct fw_statfs_out)),
	OP(FW_ACCESS, fs_op_access, N, sizeof(struct fw_access_in), 0),
	OP(FW_READLINK, fs_op_readlink, N, 0, 0),
	OP(FW_SYMLINK, fs_op_symlink, W, 0, sizeof(struct fw_entry_out)),
	OP(FW_MKNOD, fs_op_mknod, W, sizeof(struct fw_mknod_in), sizeof(struct fw_entry_out)),
	OP(FW_MKDIR, fs_op_mkdir, W, sizeof(struct fw_mkdir_in), sizeof(struct fw_entry_out)),
	OP(FW_UNLINK, fs_op_unlink, W, 0, 0),
	OP(FW_RMDIR, fs_op_rmdir, W, 0, 0),
	OP(FW_RENAME, fs_op_rename, W, sizeof(struct fw_rename_in), 0),
	OP(FW_RENAME2, fs_op_rename2, W, sizeof(struct fw_rename2_in), 0),
	OP(FW_LINK, fs_op_link, W, sizeof(struct fw_link_in), sizeof(struct fw_entry_out)),
	OP(FW_OPEN, fs_op_open, N, sizeof(struct fw_open_in), sizeof(struct fw_open_out)),
	OP(FW_CREATE, fs_op_create, W, sizeof(struct fw_create_in),
	   sizeof(struct fw_entry_out) + sizeof(struct fw_open_out)),
	OP(FW_READ, fs_op_read, F, sizeof(struct fw_read_in), 0),
	OP(FW_WRITE, fs_op_write, FW, sizeof(struct fw_write_in), sizeof(struct fw_write_out)),
	OP(FW_FLUSH, fs_op_flush, F, sizeof(struct fw_flush_in), 0),
	OP(FW_RELEASE, fs_op_release, F, sizeof(struct fw_release_in), 0),
	OP(FW_FSYNC, fs_op_fsync, F, sizeof(struct fw_fsync_in), 0),
	OP(FW_OPENDIR, fs_op_opendir, N, sizeof(struct fw_open_in), sizeof(struct fw_open_out)),
	OP(FW_READDIR, fs_op_readdir, F, sizeof(struct fw_read_in), 0),
	OP(FW_READDIRPLUS, fs_op_readdirplus, F, sizeof(struct fw_read_in), 0),
	OP(FW_RELEASEDIR, fs_op_releasedir, F, sizeof(struct fw_release_in), 0),
	OP(FW_FSYNCDIR, fs_op_fsyncdir, F, sizeof(struct fw_fsync_in), 0),
	OP(FW_FALLOCATE, fs_op_fallocate, FW, sizeof(struct fw_fallocate_in), 0),
	OP(FW_LSEEK, fs_op_lseek, F, sizeof(struct fw_lseek_in), sizeof(struct fw_lseek_out)),
};
#undef N
#undef W
#undef F
#undef FW
#undef OP

/* Copies the arguments: all of them, or for WRITE only its header (the data stays in place). */
static int fs_req_parse(struct fs_req *r, size_t in_total)
{
	size_t want;

	if (in_total < sizeof(r->h) ||
	    fs_iov_copy(r->in, r->nr_in, 0, &r->h, sizeof(r->h), false) != sizeof(r->h))
		return -EINVAL;
	if (r->h.len < sizeof(r->h) || r->h.len > in_total)
		return -EINVAL;
	r->in_len = r->h.len;
	want = r->in_len - sizeof(r->h);
	if (r->h.opcode == FW_WRITE)
		want = min_u64(want, sizeof(struct fw_write_in));
	r->arg_len = min_u64(want, FS_ARG_MAX);
	fs_iov_copy(r->in, r->nr_in, sizeof(r->h), r->sc->arg, r->arg_len, false);
	r->sc->arg[r->arg_len] = 0;
	r->arg = r->sc->arg;
	return 0;
}

static int fs_dispatch(struct fs_req *r)
{
	const struct fs_op *op;
	struct fs_inode *in = NULL;
	int ret;

	if (r->h.opcode >= ARRAY_SIZE(fs_ops) || !fs_ops[r->h.opcode].fn)
		return -ENOSYS; /* xattrs, locks, ioctl, poll, DAX mappings, ... */
	op = &fs_ops[r->h.opcode];
	if (!(op->flags & FS_OP_ANY) && !r->s->initialized)
		return -EIO;
	if (r->arg_len < op->arg_min)
		return -EINVAL;
	if (r->out_room < op->reply_min)
		return -EINVAL;
	if ((op->flags & FS_OP_WRITES) && r->s->readonly)
		return -EROFS;
	if (op->flags & FS_OP_NODE) {
		in = fs_inode_get(r->s, r->h.nodeid);
		if (!in)
			return -ENOENT;
	}
	ret = op->fn(r, in);
	fs_inode_put(r->s, in);
	return ret;
}

uint32_t fs_server_handle(struct fs_server *s, struct fs_scratch *sc, const struct iovec *in,
			  unsigned nr_in, const struct iovec *out, unsigned nr_out)
{
	struct fs_req r = {
		.s = s,
		.sc = sc,
		.in = in,
		.nr_in = nr_in,
		.out = out,
		.nr_out = nr_out,
	};
	size_t out_total = fs_iov_len(out, nr_out);
	struct fw_out_header oh = { 0 };
	int ret;

	if (fs_req_parse(&r, fs_iov_len(in, nr_in)) < 0)
		return 0; /* not even a header to answer */
	r.out_room = out_total >= sizeof(oh) ? out_total - sizeof(oh) : 0;
	/* the two opcodes without a reply have no writable part */
	if (out_total < sizeof(oh) && r.h.opcode != FW_FORGET && r.h.opcode != FW_BATCH_FORGET)
		return 0;
	ret = fs_dispatch(&r);
	if (r.no_reply || r.h.opcode == FW_FORGET || r.h.opcode == FW_BATCH_FORGET ||
	    out_total < sizeof(oh))
		return 0;
	oh.unique = r.h.unique;
	if (ret < 0) {
		oh.error = fs_wire_errno(ret);
		ret = 0;
	}
	if ((size_t)ret > r.out_room)
		ret = 0; /* cannot happen: every op sizes its reply to out_room */
	oh.len = (uint32_t)(sizeof(oh) + (size_t)ret);
	if (ret && !r.direct)
		fs_iov_copy(out, nr_out, sizeof(oh), sc->reply, (size_t)ret, true);
	fs_iov_copy(out, nr_out, 0, &oh, sizeof(oh), true);
	return oh.len;
}

/* ---- life cycle ---- */

/* How many descriptors the process may have, raised as far as allowed first. */
static unsigned fs_fd_budget(void)
{
#ifdef __APPLE__
	const rlim_t want = OPEN_MAX; /* macOS refuses a soft limit above it */
#else
	const rlim_t want = FS_FD_WANT;
#endif
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	/* with CAP_SYS_RESOURCE (ignition run as root) the hard limit goes up too, as virtiofsd's */
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit n = { .rlim_cur = want, .rlim_max = want };

		if (setrlimit(RLIMIT_NOFILE, &n) == 0)
			rl = n;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		struct rlimit n = { .rlim_cur = min_u64(want, rl.rlim_max),
				    .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &n) == 0)
			rl.rlim_cur = n.rlim_cur;
	}
	return (unsigned)min_u64(rl.rlim_cur, want);
}

/*
 * Half of the descriptors the process may have, split over the shares, go to the guest's
 * inodes (three quarters) and open files; the other half stays for the VMM's disks, sockets
 * and events.
 */
static void fs_caps(const struct fs_server_params *p, unsigned *inodes, unsigned *handles)
{
	unsigned budget = fs_fd_budget() / 2 / (p->nr_shares ? p->nr_shares : 8);

	*inodes = p->max_inodes ? p->max_inodes :
				  (unsigned)min_u64(FS_DEFAULT_INODES, max_u64(budget * 3 / 4, 64));
	*handles = p->max_handles ? p->max_handles :
				    (unsigned)min_u64(FS_DEFAULT_HANDLES, max_u64(budget / 4, 32));
}

int fs_server_create(const struct fs_server_params *p, struct fs_server **out, struct errbuf *e)
{
	struct fs_server *s = calloc(1, sizeof(*s));
	int r;

	*out = NULL;
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	s->readonly = p->readonly;
	s->next_nodeid = FW_ROOT_ID + 1;
	/*
	 * The guest's kernel applied its umask to every mode it sends; the host's must not strip
	 * more. ignition creates no other file once running (like virtiofsd, which does the same).
	 */
	umask(0);
	fs_caps(p, &s->max_inodes, &s->max_handles);
	if (fs_tables_init(s) < 0) {
		fs_server_destroy(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	r = fs_root_open(s, p->path, e);
	if (r < 0) {
		fs_server_destroy(s);
		return r;
	}
	*out = s;
	return 0;
}

void fs_server_destroy(struct fs_server *s)
{
	if (!s)
		return;
	fs_tables_free(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void fs_server_stats(struct fs_server *s, struct fs_server_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->inodes = s->nr_inodes;
	st->handles = s->handles_touched - s->nr_free_handles;
	st->max_inodes = s->max_inodes;
	st->max_handles = s->max_handles;
	pthread_mutex_unlock(&s->lock);
}

struct fs_scratch *fs_scratch_create(void)
{
	return malloc(sizeof(struct fs_scratch));
}

void fs_scratch_destroy(struct fs_scratch *sc)
{
	free(sc);
}
