// SPDX-License-Identifier: MIT
/* The virtio-blk request protocol (virtio 1.2 §5.2.6): one chain in, a status byte out. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/falloc.h>
#endif

#include "devices/virtio/blk_int.h"
#include "util/compiler.h"
#include "util/log.h"

/*
 * Not a status the guest sees: the device stopped before the request finished, and it is left
 * unanswered (blk_handle_batch).
 */
#define BLK_S_STOPPED 0xffu

static bool blk_stopping(struct virtio_blk *b)
{
	return atomic_load_explicit(&b->stopping, memory_order_relaxed);
}

/* A request after parsing: where the header ended, where the status byte goes. */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	const struct vq_chain *c;
	unsigned data_seg; /* first readable segment after the header ... */
	size_t data_off; /* ... and the offset of the payload in it */
	uint8_t *status;
	struct iovec *iov; /* the worker's scratch, as long as a queue */
};

/* Copies len bytes from the readable segments starting at (*seg, *off); false when short. */
static bool chain_copy_out(const struct vq_chain *c, unsigned *seg, size_t *off, void *dst,
			   size_t len)
{
	uint8_t *d = dst;

	while (len) {
		const struct vq_seg *s;
		size_t n;

		if (*seg >= c->nr_readable)
			return false;
		s = &c->segs[*seg];
		n = min_u64(s->len - *off, len);
		memcpy(d, s->ptr + *off, n);
		d += n;
		len -= n;
		*off += n;
		if (*off == s->len) {
			(*seg)++;
			*off = 0;
		}
	}
	return true;
}

/* The header may span descriptors; the status is the chain's last writable byte. */
static bool req_parse(const struct vq_chain *c, struct blk_req *r)
{
	uint8_t hdr[VIRTIO_BLK_HDR_BYTES];
	const struct vq_seg *last;

	r->status = NULL;
	if (!c->writable_len)
		return false;
	last = &c->segs[c->nr_segs - 1];
	r->status = last->ptr + last->len - 1;
	r->c = c;
	r->data_seg = 0;
	r->data_off = 0;
	if (!chain_copy_out(c, &r->data_seg, &r->data_off, hdr, sizeof(hdr)))
		return false;
	r->type = get_le32(hdr);
	r->sector = get_le64(hdr + 8);
	return true;
}

/* Readable payload after the header, as iovecs. */
static int iov_readable(const struct blk_req *r, uint64_t *len)
{
	const struct vq_chain *c = r->c;
	int n = 0;

	*len = 0;
	for (unsigned i = r->data_seg; i < c->nr_readable; i++) {
		size_t off = i == r->data_seg ? r->data_off : 0;

		r->iov[n].iov_base = c->segs[i].ptr + off;
		r->iov[n].iov_len = c->segs[i].len - off;
		*len += r->iov[n++].iov_len;
	}
	return n;
}

/* Writable payload: every writable byte but the status. */
static int iov_writable(const struct blk_req *r, uint64_t *len)
{
	const struct vq_chain *c = r->c;
	int n = 0;

	*len = 0;
	for (unsigned i = c->nr_readable; i < c->nr_segs; i++) {
		size_t l = c->segs[i].len - (i == c->nr_segs - 1);

		if (!l)
			continue;
		r->iov[n].iov_base = c->segs[i].ptr;
		r->iov[n].iov_len = l;
		*len += l;
		n++;
	}
	return n;
}

void blk_iov_skip(struct iovec **iov, int *cnt, size_t n)
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

int blk_rw_full(int fd, struct iovec *iov, int cnt, off_t off, bool write)
{
	while (cnt > 0) {
		ssize_t n = write ? pwritev(fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt, off) :
				    preadv(fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the image shrank under us */
		off += n;
		blk_iov_skip(&iov, &cnt, (size_t)n);
	}
	return 0;
}

/*
 * A read or write in chunks of at most BLK_CHUNK_BYTES (whole iovecs, each at most SIZE_MAX), so
 * a stopping device gives up between two of them: 0, -errno, or -ECANCELED when it stopped.
 */
static int blk_rw_chunked(struct virtio_blk *b, struct blk_io *io)
{
	struct iovec *iov = io->iov;
	int cnt = io->cnt;
	off_t off = io->off;

	while (cnt > 0) {
		uint64_t len = iov[0].iov_len;
		int k = 1, r;

		if (blk_stopping(b))
			return -ECANCELED;
		while (k < cnt && len + iov[k].iov_len <= BLK_CHUNK_BYTES)
			len += iov[k++].iov_len;
		r = blk_rw_full(b->fd, iov, k, off, io->write);
		if (r)
			return r;
		iov += k;
		cnt -= k;
		off += (off_t)len;
	}
	return 0;
}

static bool range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t nsectors)
{
	return sector <= b->capacity && nsectors <= b->capacity - sector;
}

/* SEG_MAX payload segments of at most SIZE_MAX bytes, and so at most BLK_REQ_MAX_BYTES. */
static bool limits_ok(const struct iovec *iov, int n, uint64_t len)
{
	if (n > (int)BLK_SEG_MAX || len > BLK_REQ_MAX_BYTES)
		return false;
	for (int i = 0; i < n; i++)
		if (iov[i].iov_len > BLK_SIZE_MAX)
			return false;
	return true;
}

/* Checks a read or write and describes it in *io; a status other than OK answers it at once. */
static uint8_t rw_prepare(struct virtio_blk *b, const struct blk_req *r, bool write,
			  struct blk_io *io, uint32_t *used)
{
	uint64_t len;
	int n = write ? iov_readable(r, &len) : iov_writable(r, &len);

	if (write && b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!limits_ok(r->iov, n, len)) {
		pr_warn_once("%s: a request beyond SEG_MAX %u x SIZE_MAX %u bytes refused", b->path,
			     BLK_SEG_MAX, BLK_SIZE_MAX);
		return VIRTIO_BLK_S_IOERR;
	}
	if (len % VIRTIO_BLK_SECTOR || !range_ok(b, r->sector, len / VIRTIO_BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (!write)
		*used += (uint32_t)len; /* at most BLK_REQ_MAX_BYTES */
	io->iov = r->iov;
	io->cnt = n;
	io->write = write;
	io->off = (off_t)(r->sector * VIRTIO_BLK_SECTOR);
	io->len = len;
	io->status = r->status;
	io->err = 0;
	return VIRTIO_BLK_S_OK;
}

static uint8_t rw_status(struct virtio_blk *b, const struct blk_io *io)
{
	if (!io->err)
		return VIRTIO_BLK_S_OK;
	pr_warn_once("%s: %s failed at byte %llu: %s", b->path, io->write ? "write" : "read",
		     (unsigned long long)io->off, strerror(-io->err));
	return VIRTIO_BLK_S_IOERR;
}

static uint8_t blk_rw(struct virtio_blk *b, const struct blk_req *r, bool write, uint32_t *used)
{
	struct blk_io io;
	uint8_t st = rw_prepare(b, r, write, &io, used);

	if (st != VIRTIO_BLK_S_OK)
		return st;
	io.err = blk_rw_chunked(b, &io);
	if (io.err == -ECANCELED)
		return BLK_S_STOPPED;
	return rw_status(b, &io);
}

int blk_sync(int fd)
{
#ifdef __APPLE__
	/*
	 * fsync on macOS stops at the drive's cache; F_FULLFSYNC reaches the medium. Some file
	 * systems (SMB, FAT) refuse it: fsync is then the best there is. The SDK declares no
	 * fdatasync.
	 */
	if (fcntl(fd, F_FULLFSYNC) == 0)
		return 0;
	return fsync(fd) ? -errno : 0;
#else
	return fdatasync(fd) ? -errno : 0;
#endif
}

static uint8_t blk_flush(struct virtio_blk *b)
{
	if (b->readonly)
		return VIRTIO_BLK_S_OK;
	return blk_sync(b->fd) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(struct virtio_blk *b, const struct blk_req *r, uint32_t *used)
{
	uint64_t len, left;
	int n = iov_writable(r, &len);
	const uint8_t *src = (const uint8_t *)b->serial;

	left = min_u64(len, VIRTIO_BLK_ID_BYTES);
	*used += (uint32_t)left;
	for (int i = 0; i < n && left; i++) {
		size_t l = min_u64(r->iov[i].iov_len, left);

		memcpy(r->iov[i].iov_base, src, l);
		src += l;
		left -= l;
	}
	return VIRTIO_BLK_S_OK;
}

#ifdef __linux__
static int punch(int fd, int mode, uint64_t off, uint64_t len)
{
	return fallocate(fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ? -errno : 0;
}

/* Zeroes a range: in place when the filesystem can, else by deallocating (reads back zero). */
static int zero_range(int fd, uint64_t off, uint64_t len, bool unmap)
{
	int r = -EOPNOTSUPP;

	if (!unmap)
		r = punch(fd, FALLOC_FL_ZERO_RANGE, off, len);
	if (r == -EOPNOTSUPP)
		r = punch(fd, FALLOC_FL_PUNCH_HOLE, off, len);
	return r;
}

static uint8_t blk_dwz_one(struct virtio_blk *b, const uint8_t *seg, bool zeroes)
{
	uint64_t sector = get_le64(seg);
	uint32_t nr = get_le32(seg + 8), flags = get_le32(seg + 12);
	uint64_t off = sector * VIRTIO_BLK_SECTOR, len = (uint64_t)nr * VIRTIO_BLK_SECTOR;
	int r;

	/* §5.2.6.2: unknown flags, and unmap on a discard, are not supported. */
	if (flags & ~(zeroes ? VIRTIO_BLK_WZ_FLAG_UNMAP : 0))
		return VIRTIO_BLK_S_UNSUPP;
	if (nr > BLK_DISCARD_SECTORS_MAX || !range_ok(b, sector, nr))
		return VIRTIO_BLK_S_IOERR;
	if (!nr)
		return VIRTIO_BLK_S_OK;
	if (zeroes)
		return zero_range(b->fd, off, len, flags & VIRTIO_BLK_WZ_FLAG_UNMAP) ?
			       VIRTIO_BLK_S_IOERR :
			       VIRTIO_BLK_S_OK;
	r = punch(b->fd, FALLOC_FL_PUNCH_HOLE, off, len);
	/* A discard is a hint: a filesystem that cannot punch holes loses nothing by ignoring it. */
	return r && r != -EOPNOTSUPP ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t blk_discard(struct virtio_blk *b, const struct blk_req *r, bool zeroes)
{
	unsigned seg = r->data_seg;
	size_t off = r->data_off;
	uint8_t range[VIRTIO_BLK_DWZ_BYTES];
	uint64_t len;
	unsigned nr;

	iov_readable(r, &len);
	nr = (unsigned)min_u64(len / VIRTIO_BLK_DWZ_BYTES, UINT32_MAX);
	if (!b->discard || b->readonly)
		return b->discard ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP;
	if (!nr || len % VIRTIO_BLK_DWZ_BYTES || nr > BLK_DISCARD_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned i = 0; i < nr; i++) {
		uint8_t st;

		if (blk_stopping(b))
			return BLK_S_STOPPED;
		chain_copy_out(r->c, &seg, &off, range, sizeof(range));
		st = blk_dwz_one(b, range, zeroes);
		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	return VIRTIO_BLK_S_OK;
}
#else
static uint8_t blk_discard(struct virtio_blk *b, const struct blk_req *r, bool zeroes)
{
	return VIRTIO_BLK_S_UNSUPP;
}
#endif

/*
 * Runs one request without the device lock and sets its used length: 0, or -ECANCELED when the
 * device stopped before it finished (no status written, nothing to answer).
 */
static int blk_handle_one(struct virtio_blk *b, const struct vq_chain *c, struct iovec *iov,
			  uint32_t *usedp)
{
	struct blk_req r = { .iov = iov };
	uint32_t used = 1; /* the status byte */
	uint8_t st;

	if (!req_parse(c, &r)) {
		pr_warn_once("%s: request without header or status byte", b->path);
		*usedp = 0;
		if (r.status) {
			*r.status = VIRTIO_BLK_S_IOERR;
			*usedp = 1;
		}
		return 0;
	}
	switch (r.type) {
	case VIRTIO_BLK_T_IN:
		st = blk_rw(b, &r, false, &used);
		break;
	case VIRTIO_BLK_T_OUT:
		st = blk_rw(b, &r, true, &used);
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = blk_flush(b);
		break;
	case VIRTIO_BLK_T_GET_ID:
		st = blk_get_id(b, &r, &used);
		break;
	case VIRTIO_BLK_T_DISCARD:
		st = blk_discard(b, &r, false);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = blk_discard(b, &r, true);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (st == BLK_S_STOPPED)
		return -ECANCELED;
	*r.status = st;
	*usedp = used;
	return 0;
}

/* Submits the reads and writes gathered so far, waits for them, and answers them. */
static void batch_io_run(struct virtio_blk *b, struct blk_scratch *s, unsigned n)
{
	if (!n)
		return;
	blk_ring_run(s->ring, b->fd, s->io, n);
	for (unsigned i = 0; i < n; i++)
		*s->io[i].status = rw_status(b, &s->io[i]);
}

unsigned blk_handle_batch(struct virtio_blk *b, struct blk_scratch *s, unsigned n)
{
	struct iovec *iov = s->iov;
	unsigned nr_io = 0, i;

	for (i = 0; i < n && !blk_stopping(b); i++) {
		const struct vq_chain *c = &s->chains[i];
		struct blk_req r = { .iov = iov };
		struct blk_io *io = &s->io[nr_io];
		bool write;
		uint8_t st;

		if (!s->ring || !req_parse(c, &r) ||
		    (r.type != VIRTIO_BLK_T_IN && r.type != VIRTIO_BLK_T_OUT)) {
			batch_io_run(b, s, nr_io);
			nr_io = 0;
			iov = s->iov;
			if (blk_handle_one(b, c, s->iov, &s->used[i]))
				break;
			continue;
		}
		write = r.type == VIRTIO_BLK_T_OUT;
		s->used[i] = 1; /* the status byte */
		st = rw_prepare(b, &r, write, io, &s->used[i]);
		if (st != VIRTIO_BLK_S_OK) {
			*r.status = st;
			continue;
		}
		if (write || io->len > BLK_RING_MAX_BYTES) {
			io->err = blk_rw_chunked(b, io);
			if (io->err == -ECANCELED)
				break;
			*r.status = rw_status(b, io);
			continue;
		}
		iov += io->cnt;
		nr_io++;
	}
	/* Small reads already gathered are answered even when stopping: a few hundred KiB. */
	batch_io_run(b, s, nr_io);
	return i;
}
