// SPDX-License-Identifier: MIT
/*
 * The FUSE server's tables: inodes (nodeid -> host descriptor, found again by device and inode
 * number so that one host file is one guest inode) and open handles, with their references.
 * One mutex (fs_server.lock) guards both.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_int.h"
#include "util/compiler.h"

/* ---- inodes ---- */

static unsigned fs_hash_id(const struct fs_server *s, uint64_t id)
{
	return (unsigned)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (s->nr_buckets - 1);
}

static unsigned fs_hash_key(const struct fs_server *s, dev_t dev, ino_t ino)
{
	uint64_t k = (uint64_t)ino ^ ((uint64_t)dev << 40);

	return fs_hash_id(s, k);
}

/* Locked. */
static struct fs_inode *fs_find_id(struct fs_server *s, uint64_t id)
{
	struct fs_inode *in = s->by_id[fs_hash_id(s, id)];

	while (in && in->nodeid != id)
		in = in->next_id;
	return in;
}

static struct fs_inode *fs_find_key(struct fs_server *s, dev_t dev, ino_t ino)
{
	struct fs_inode *in = s->by_key[fs_hash_key(s, dev, ino)];

	while (in && !(in->dev == dev && in->ino == ino))
		in = in->next_key;
	return in;
}

static void fs_unlink_chain(struct fs_inode **head, struct fs_inode *in, bool by_id)
{
	for (struct fs_inode **p = head; *p; p = by_id ? &(*p)->next_id : &(*p)->next_key) {
		if (*p == in) {
			*p = by_id ? in->next_id : in->next_key;
			return;
		}
	}
}

/* Locked. Frees in, then each parent whose last reference it was. */
static void fs_inode_release(struct fs_server *s, struct fs_inode *in)
{
	while (in && !in->refs && !in->nlookup && in != s->root) {
		struct fs_inode *parent = in->parent;

		fs_unlink_chain(&s->by_id[fs_hash_id(s, in->nodeid)], in, true);
		fs_unlink_chain(&s->by_key[fs_hash_key(s, in->dev, in->ino)], in, false);
		s->nr_inodes--;
		close(in->fd);
		free(in);
		if (parent)
			parent->refs--;
		in = parent;
	}
}

struct fs_inode *fs_inode_get(struct fs_server *s, uint64_t nodeid)
{
	struct fs_inode *in;

	pthread_mutex_lock(&s->lock);
	in = fs_find_id(s, nodeid);
	/* an inode the guest forgot is not the guest's to use, even while the server holds it */
	if (in && (in->nlookup || in == s->root))
		in->refs++;
	else
		in = NULL;
	pthread_mutex_unlock(&s->lock);
	return in;
}

void fs_inode_put(struct fs_server *s, struct fs_inode *in)
{
	if (!in)
		return;
	pthread_mutex_lock(&s->lock);
	in->refs--;
	fs_inode_release(s, in);
	pthread_mutex_unlock(&s->lock);
}

bool fs_room_for_inode(struct fs_server *s)
{
	bool room;

	pthread_mutex_lock(&s->lock);
	room = s->nr_inodes < s->max_inodes;
	pthread_mutex_unlock(&s->lock);
	return room;
}

/* Locked: points in at (parent, name), moving the parent reference. */
static void fs_inode_set_where(struct fs_server *s, struct fs_inode *in, struct fs_inode *parent,
			       const char *name)
{
	struct fs_inode *old = in->parent;

	if (in->parent == parent && !strcmp(in->name, name))
		return;
	parent->refs++;
	in->parent = parent;
	snprintf(in->name, sizeof(in->name), "%s", name);
	if (old) {
		old->refs--; /* the last thing holding a parent the guest forgot: free it */
		fs_inode_release(s, old);
	}
}

int fs_inode_where(struct fs_server *s, struct fs_inode *in, struct fs_inode **parent,
		   char name[FS_NAME_MAX + 1])
{
	pthread_mutex_lock(&s->lock);
	*parent = in->parent;
	if (*parent) {
		(*parent)->refs++;
		memcpy(name, in->name, FS_NAME_MAX + 1);
	}
	pthread_mutex_unlock(&s->lock);
	return *parent ? 0 : -ENOENT;
}

static void fs_entry_from_stat(const struct fs_inode *in, const struct stat *st,
			       struct fw_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = in->nodeid;
	e->entry_valid = FS_ENTRY_TIMEOUT_S;
	e->attr_valid = FS_ENTRY_TIMEOUT_S;
	fs_host_attr(st, &e->attr);
}

int fs_fill_entry(struct fs_inode *in, struct fw_entry_out *e)
{
	struct stat st;

	if (fstat(in->fd, &st) < 0)
		return fs_host_errno(errno);
	fs_entry_from_stat(in, &st, e);
	return 0;
}

int fs_lookup_at(struct fs_server *s, struct fs_inode *parent, int dirfd, const char *name,
		 struct fw_entry_out *e, struct fs_inode **inp)
{
	struct fs_inode *in, *fresh = NULL;
	struct stat st;
	int fd, r;

	fd = fs_host_open_path(dirfd, name);
	if (fd < 0)
		return fd == -EMFILE || fd == -ENFILE ? -ENFILE : fd;
	if (fstat(fd, &st) < 0) {
		r = fs_host_errno(errno);
		close(fd);
		return r;
	}
	pthread_mutex_lock(&s->lock);
	in = fs_find_key(s, st.st_dev, st.st_ino);
	if (!in && s->nr_inodes < s->max_inodes) {
		fresh = calloc(1, sizeof(*fresh));
		if (fresh) {
			in = fresh;
			in->fd = fd;
			in->dev = st.st_dev;
			in->ino = st.st_ino;
			in->type = st.st_mode & S_IFMT;
			in->nodeid = s->next_nodeid++;
			in->next_id = s->by_id[fs_hash_id(s, in->nodeid)];
			s->by_id[fs_hash_id(s, in->nodeid)] = in;
			in->next_key = s->by_key[fs_hash_key(s, in->dev, in->ino)];
			s->by_key[fs_hash_key(s, in->dev, in->ino)] = in;
			s->nr_inodes++;
		}
	}
	if (in && in != s->root) {
		fs_inode_set_where(s, in, parent, name);
		in->nlookup++;
		in->refs++; /* while the entry is filled in */
	}
	pthread_mutex_unlock(&s->lock);
	if (!fresh)
		close(fd); /* a known inode, or no room: the new descriptor is not kept */
	if (!in)
		return -ENFILE;
	if (in == s->root) {
		/* the share's root seen again inside itself (a bind mount): no second parent */
		return -ELOOP;
	}
	/* the descriptor just opened names this inode: its attributes are the entry's */
	fs_entry_from_stat(in, &st, e);
	if (inp) {
		*inp = in; /* the caller has the ref */
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	in->refs--;
	fs_inode_release(s, in);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void fs_inode_moved(struct fs_server *s, struct fs_inode *newparent, const char *newname)
{
	struct fs_inode *in;
	struct stat st;

	if (fstatat(newparent->fd, newname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	in = fs_find_key(s, st.st_dev, st.st_ino);
	if (in && in != s->root)
		fs_inode_set_where(s, in, newparent, newname);
	pthread_mutex_unlock(&s->lock);
}

void fs_forget(struct fs_server *s, uint64_t nodeid, uint64_t n)
{
	struct fs_inode *in;

	pthread_mutex_lock(&s->lock);
	in = fs_find_id(s, nodeid);
	if (in && in != s->root) {
		in->nlookup -= min_u64(n, in->nlookup);
		fs_inode_release(s, in);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- handles: fh = generation << 32 | slot + 1, so a stale or made-up fh matches nothing ---- */

int fs_handle_add(struct fs_server *s, int fd, bool is_dir, struct fs_inode *in, uint64_t *fh)
{
	struct fs_handle *h;
	unsigned slot;

	pthread_mutex_lock(&s->lock);
	if (s->nr_free_handles) {
		slot = s->free_handles[--s->nr_free_handles];
	} else if (s->handles_touched < s->max_handles) {
		/* slots are set up as first used: a share nobody opens costs no memory */
		slot = s->handles_touched++;
		pthread_mutex_init(&s->handles[slot].lock, NULL);
	} else {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return -ENFILE;
	}
	h = &s->handles[slot];
	h->used = true;
	h->fd = fd;
	h->dir = NULL;
	h->is_dir = is_dir;
	h->refs = 1;
	h->gen++;
	h->inode = in;
	in->refs++;
	*fh = (uint64_t)h->gen << 32 | (slot + 1);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Locked. */
static struct fs_handle *fs_handle_find(struct fs_server *s, uint64_t fh, bool is_dir)
{
	uint64_t slot = (fh & 0xffffffffu) - 1;
	struct fs_handle *h;

	if ((fh & 0xffffffffu) == 0 || slot >= s->handles_touched)
		return NULL;
	h = &s->handles[slot];
	if (!h->used || h->gen != (uint32_t)(fh >> 32) || h->is_dir != is_dir)
		return NULL;
	return h;
}

struct fs_handle *fs_handle_get(struct fs_server *s, uint64_t fh, bool is_dir)
{
	struct fs_handle *h;

	pthread_mutex_lock(&s->lock);
	h = fs_handle_find(s, fh, is_dir);
	if (h && h->refs)
		h->refs++;
	else
		h = NULL;
	pthread_mutex_unlock(&s->lock);
	return h;
}

/* Locked: the last reference closes the file; the slot is free again. */
static void fs_handle_drop(struct fs_server *s, struct fs_handle *h)
{
	if (--h->refs)
		return;
	if (h->dir)
		closedir(h->dir);
	else
		close(h->fd);
	h->dir = NULL;
	h->fd = -1;
	h->used = false;
	h->inode->refs--;
	fs_inode_release(s, h->inode);
	h->inode = NULL;
	s->free_handles[s->nr_free_handles++] = (unsigned)(h - s->handles);
}

/* A directory stream keeps the descriptor it was made from: no need to look at dir. */
int fs_handle_fd(struct fs_handle *h)
{
	return h->fd;
}

void fs_handle_put(struct fs_server *s, struct fs_handle *h)
{
	pthread_mutex_lock(&s->lock);
	fs_handle_drop(s, h);
	pthread_mutex_unlock(&s->lock);
}

int fs_handle_release(struct fs_server *s, uint64_t fh, bool is_dir)
{
	struct fs_handle *h;
	int r = -EBADF;

	pthread_mutex_lock(&s->lock);
	h = fs_handle_find(s, fh, is_dir);
	/* refs 0 cannot happen here; a handle being released twice is found no more */
	if (h && h->refs) {
		h->gen++; /* no new request finds it; one in flight finishes with its own ref */
		fs_handle_drop(s, h);
		r = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* DESTROY: the guest lets go of every inode and open file at once. */
void fs_forget_all(struct fs_server *s)
{
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->handles_touched; i++) {
		struct fs_handle *h = &s->handles[i];

		/* the open's own reference; a request in flight keeps its own */
		if (h->used && h->refs) {
			h->gen++;
			fs_handle_drop(s, h);
		}
	}
	/* a release frees only inodes without lookups, so earlier buckets need no second look */
	for (unsigned b = 0; b < s->nr_buckets; b++) {
		struct fs_inode *in = s->by_id[b];

		while (in) {
			if (in != s->root && in->nlookup) {
				in->nlookup = 0;
				fs_inode_release(s, in);
				in = s->by_id[b];
			} else {
				in = in->next_id;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- life cycle ---- */

int fs_tables_init(struct fs_server *s)
{
	s->nr_buckets = 64;
	while (s->nr_buckets < s->max_inodes && s->nr_buckets < (1u << 20))
		s->nr_buckets <<= 1;
	s->by_id = calloc(s->nr_buckets, sizeof(*s->by_id));
	s->by_key = calloc(s->nr_buckets, sizeof(*s->by_key));
	s->handles = calloc(s->max_handles, sizeof(*s->handles));
	s->free_handles = calloc(s->max_handles, sizeof(*s->free_handles));
	return s->by_id && s->by_key && s->handles && s->free_handles ? 0 : -ENOMEM;
}

int fs_root_open(struct fs_server *s, const char *path, struct errbuf *e)
{
	struct fs_inode *root = calloc(1, sizeof(*root));
	struct stat st;
#ifdef __linux__
	int flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
#else
	int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
#endif

	if (!root)
		return err_set(e, -ENOMEM, "out of memory");
	s->root = root;
	root->nodeid = FW_ROOT_ID;
	s->by_id[fs_hash_id(s, root->nodeid)] = root; /* freed with the table from now on */
	root->fd = open(path, flags);
	if (root->fd < 0)
		return err_set(e, -errno, "--fs path=%s: %s", path, strerror(errno));
	if (fstat(root->fd, &st) < 0)
		return err_set(e, -errno, "--fs path=%s: %s", path, strerror(errno));
	root->dev = st.st_dev;
	root->ino = st.st_ino;
	root->type = S_IFDIR;
	root->refs = 1; /* never freed before the server */
	s->by_key[fs_hash_key(s, root->dev, root->ino)] = root;
	s->nr_inodes = 1;
	return 0;
}

void fs_tables_free(struct fs_server *s)
{
	for (unsigned i = 0; s->handles && i < s->handles_touched; i++) {
		struct fs_handle *h = &s->handles[i];

		if (h->dir)
			closedir(h->dir);
		else if (h->used)
			close(h->fd);
		pthread_mutex_destroy(&h->lock);
	}
	for (unsigned b = 0; s->by_id && b < s->nr_buckets; b++) {
		struct fs_inode *in = s->by_id[b];

		while (in) {
			struct fs_inode *next = in->next_id;

			if (in->fd >= 0)
				close(in->fd);
			free(in);
			in = next;
		}
	}
	free(s->by_id);
	free(s->by_key);
	free(s->handles);
	free(s->free_handles);
}
