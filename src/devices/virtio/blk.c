// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/falloc.h>
#endif

#include "devices/virtio/blk.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "util/compiler.h"
#include "util/event.h"
#include "util/log.h"

#define BLK_QUEUE_SIZE VIRTIO_MMIO_QUEUE_NUM_MAX
/*
 * Chains taken per trip through the device lock; their used elements are handed over together
 * (one index store, one interrupt decision), and a reset waits for at most this many requests.
 */
#define BLK_BATCH		16
#define BLK_DISCARD_SEG_MAX	16u
#define BLK_DISCARD_SECTORS_MAX 0x3fffffu

struct virtio_blk {
	struct virtio_mmio *vm;
	int fd;
	bool readonly;
	bool discard; /* DISCARD and WRITE_ZEROES offered */
	uint64_t capacity; /* sectors */
	char *path;
	char serial[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CFG_SIZE];

	/* The worker: kick is what QueueNotify (or its ioeventfd) signals. */
	struct event kick;
	struct event stop;
	pthread_t worker;
	bool worker_running;

	/* Worker-only scratch, allocated once: a batch of chains, each as long as a queue allows. */
	struct vq_chain chains[BLK_BATCH];
	uint32_t used[BLK_BATCH];
	struct vq_seg segs[BLK_BATCH][BLK_QUEUE_SIZE];
	struct iovec iov[BLK_QUEUE_SIZE];
};

/* A request after parsing: where the header ended, where the status byte goes. */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	const struct vq_chain *c;
	unsigned data_seg; /* first readable segment after the header ... */
	size_t data_off; /* ... and the offset of the payload in it */
	uint8_t *status;
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
static int iov_readable(struct virtio_blk *b, const struct blk_req *r, uint64_t *len)
{
	const struct vq_chain *c = r->c;
	int n = 0;

	*len = 0;
	for (unsigned i = r->data_seg; i < c->nr_readable; i++) {
		size_t off = i == r->data_seg ? r->data_off : 0;

		b->iov[n].iov_base = c->segs[i].ptr + off;
		b->iov[n].iov_len = c->segs[i].len - off;
		*len += b->iov[n++].iov_len;
	}
	return n;
}

/* Writable payload: every writable byte but the status. */
static int iov_writable(struct virtio_blk *b, const struct blk_req *r, uint64_t *len)
{
	const struct vq_chain *c = r->c;
	int n = 0;

	*len = 0;
	for (unsigned i = c->nr_readable; i < c->nr_segs; i++) {
		size_t l = c->segs[i].len - (i == c->nr_segs - 1);

		if (!l)
			continue;
		b->iov[n].iov_base = c->segs[i].ptr;
		b->iov[n].iov_len = l;
		*len += l;
		n++;
	}
	return n;
}

/* preadv/pwritev until done: both may transfer less than asked. */
static int rw_full(int fd, struct iovec *iov, int cnt, off_t off, bool write)
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
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static bool range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t nsectors)
{
	return sector <= b->capacity && nsectors <= b->capacity - sector;
}

static uint8_t blk_rw(struct virtio_blk *b, const struct blk_req *r, bool write, uint32_t *used)
{
	uint64_t len;
	int n = write ? iov_readable(b, r, &len) : iov_writable(b, r, &len);

	if (write && b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % VIRTIO_BLK_SECTOR || !range_ok(b, r->sector, len / VIRTIO_BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (!write)
		*used += (uint32_t)min_u64(len, UINT32_MAX - 1);
	if (rw_full(b->fd, b->iov, n, (off_t)(r->sector * VIRTIO_BLK_SECTOR), write)) {
		pr_warn_once("%s: %s failed at sector %llu", b->path, write ? "write" : "read",
			     (unsigned long long)r->sector);
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static int blk_sync(int fd)
{
#ifdef __APPLE__
	/* fsync on macOS stops at the drive's cache; F_FULLFSYNC reaches the medium. */
	if (fcntl(fd, F_FULLFSYNC) == 0)
		return 0;
#endif
	return fdatasync(fd) ? -errno : 0;
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
	int n = iov_writable(b, r, &len);
	const uint8_t *src = (const uint8_t *)b->serial;

	left = min_u64(len, VIRTIO_BLK_ID_BYTES);
	*used += (uint32_t)left;
	for (int i = 0; i < n && left; i++) {
		size_t l = min_u64(b->iov[i].iov_len, left);

		memcpy(b->iov[i].iov_base, src, l);
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

	iov_readable(b, r, &len);
	nr = (unsigned)min_u64(len / VIRTIO_BLK_DWZ_BYTES, UINT32_MAX);
	if (!b->discard || b->readonly)
		return b->discard ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP;
	if (!nr || len % VIRTIO_BLK_DWZ_BYTES || nr > BLK_DISCARD_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned i = 0; i < nr; i++) {
		uint8_t st;

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

/* Runs one request without the device lock. Returns the used length. */
static uint32_t blk_handle(struct virtio_blk *b, const struct vq_chain *c)
{
	struct blk_req r;
	uint32_t used = 1; /* the status byte */
	uint8_t st;

	if (!req_parse(c, &r)) {
		pr_warn_once("%s: request without header or status byte", b->path);
		if (r.status) {
			*r.status = VIRTIO_BLK_S_IOERR;
			return 1;
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
	*r.status = st;
	return used;
}

/* Takes up to BLK_BATCH chains (locked); 0 when there is nothing to do or the device stopped. */
static unsigned blk_pop_batch(struct virtio_blk *b, struct virtq **vqp)
{
	struct virtq *vq = virtio_mmio_queue(b->vm, 0);
	unsigned n = 0;
	int r;

	*vqp = vq;
	while (vq && n < BLK_BATCH) {
		r = vq_pop(vq, &b->chains[n]);
		if (r < 0)
			virtio_mmio_queue_broken(b->vm, 0);
		if (r <= 0)
			break;
		n++;
	}
	return n;
}

/*
 * Drains the queue. The lock is held for ring work only; the I/O runs between io_begin and
 * io_end, so a reset waits for the batch and vCPUs never wait for the disk.
 */
static void blk_process(struct virtio_blk *b)
{
	struct virtio_mmio *vm = b->vm;
	struct virtq *vq;
	unsigned n;

	virtio_mmio_lock(vm);
	while ((n = blk_pop_batch(b, &vq))) {
		virtio_mmio_io_begin(vm);
		virtio_mmio_unlock(vm);
		for (unsigned i = 0; i < n; i++)
			b->used[i] = blk_handle(b, &b->chains[i]);
		virtio_mmio_lock(vm);
		virtio_mmio_io_end(vm);
		/* No reset can have run since the pops: it waits for io_end, and we hold the lock. */
		for (unsigned i = 0; i < n; i++)
			vq_push(vq, b->chains[i].head, b->used[i]);
		virtio_mmio_queue_flush(vm, vq);
	}
	virtio_mmio_unlock(vm);
}

static void *blk_worker(void *opaque)
{
	struct virtio_blk *b = opaque;
	struct pollfd pfd[2] = {
		{ .fd = event_fd(&b->stop), .events = POLLIN },
		{ .fd = event_fd(&b->kick), .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: worker poll: %s", b->path, strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		/* Drain first: a kick arriving while we work then wakes us again. */
		event_drain(&b->kick);
		blk_process(b);
	}
	return NULL;
}

static void blk_notify(void *dev, unsigned q)
{
	struct virtio_blk *b = dev;

	event_signal(&b->kick);
}

static int blk_notify_fd(void *dev, unsigned q)
{
	struct virtio_blk *b = dev;

	return event_fd(&b->kick);
}

static void blk_shutdown(void *dev)
{
	struct virtio_blk *b = dev;

	if (b->worker_running) {
		event_signal(&b->stop);
		pthread_join(b->worker, NULL);
		b->worker_running = false;
	}
	if (!b->readonly && b->fd >= 0) {
		int r = blk_sync(b->fd);

		if (r)
			pr_err("%s: flush at shutdown failed: %s", b->path, strerror(-r));
	}
}

static void blk_free(struct virtio_blk *b)
{
	if (b->fd >= 0)
		close(b->fd);
	event_close(&b->kick);
	event_close(&b->stop);
	free(b->path);
	free(b);
}

static void blk_destroy(void *dev)
{
	blk_free(dev);
}

static const struct virtio_dev_ops blk_ops = {
	.notify = blk_notify,
	.notify_fd = blk_notify_fd,
	.shutdown = blk_shutdown,
	.destroy = blk_destroy,
};

static int blk_lock_image(struct virtio_blk *b)
{
	if (!flock(b->fd, (b->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB))
		return 0;
	if (errno == EWOULDBLOCK)
		return -EBUSY;
	/* Some filesystems (NFS without lockd) cannot lock: say so, but do not refuse. */
	pr_warn("%s: cannot lock the image (%s); make sure nothing else writes it", b->path,
		strerror(errno));
	return 0;
}

static int blk_open(struct virtio_blk *b, struct errbuf *e)
{
	struct stat st;
	off_t size;
	int r;

	b->fd = open(b->path, (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		return err_set(e, -errno, "%s: %s", b->path, strerror(errno));
	if (fstat(b->fd, &st))
		return err_set(e, -errno, "%s: %s", b->path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(e, -EISDIR, "%s: is a directory, not a disk image", b->path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return err_set(e, -EINVAL, "%s: not a regular file or block device", b->path);
	r = blk_lock_image(b);
	if (r)
		return err_set(e, r, "%s: locked by another process (another ignition using it?)",
			       b->path);
	/* lseek, unlike st_size, also sizes block devices. */
	size = lseek(b->fd, 0, SEEK_END);
	if (size < 0)
		return err_set(e, -errno, "%s: cannot size: %s", b->path, strerror(errno));
	if (size % VIRTIO_BLK_SECTOR)
		return err_set(e, -EINVAL, "%s: size %lld is not a multiple of %u bytes", b->path,
			       (long long)size, VIRTIO_BLK_SECTOR);
	b->capacity = (uint64_t)size / VIRTIO_BLK_SECTOR;
	return 0;
}

static void blk_config_init(struct virtio_blk *b)
{
	uint8_t *c = b->config;

	put_le64(c + VIRTIO_BLK_CFG_CAPACITY, b->capacity);
	put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, BLK_QUEUE_SIZE - 2);
	put_le32(c + VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR);
	put_le16(c + VIRTIO_BLK_CFG_NUM_QUEUES, 1);
	if (!b->discard)
		return;
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, BLK_DISCARD_SECTORS_MAX);
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, BLK_DISCARD_SEG_MAX);
	put_le32(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, 8);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, BLK_DISCARD_SECTORS_MAX);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, BLK_DISCARD_SEG_MAX);
	c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
}

static uint64_t blk_features(const struct virtio_blk *b)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
		     VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		     VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);

	if (b->readonly)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	if (b->discard)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static int blk_setup(struct virtio_blk *b, const struct virtio_blk_params *p, struct errbuf *e)
{
	int r;

	for (unsigned i = 0; i < BLK_BATCH; i++)
		b->chains[i].segs = b->segs[i];
	b->fd = -1;
	b->kick.rfd = b->kick.wfd = b->stop.rfd = b->stop.wfd = -1;
	b->readonly = p->readonly;
	b->path = strdup(p->path);
	if (!b->path)
		return err_set(e, -ENOMEM, "out of memory");
	r = blk_open(b, e);
	if (r)
		return r;
#ifdef __linux__
	b->discard = !b->readonly;
#endif
	snprintf(b->serial, sizeof(b->serial), "ignition%u", p->index);
	blk_config_init(b);
	r = event_init(&b->kick);
	if (!r)
		r = event_init(&b->stop);
	if (r)
		return err_set(e, r, "%s: cannot create worker events: %s", b->path, strerror(-r));
	return 0;
}

struct virtio_mmio *virtio_blk_create(const struct virtio_blk_params *p, const struct guest_mem *gm,
				      struct irq_line *irq, struct errbuf *e)
{
	struct virtio_mmio_params mp = { 0 };
	struct virtio_blk *b = calloc(1, sizeof(*b));
	char name[32];
	int r;

	if (!b) {
		err_set(e, -ENOMEM, "%s: out of memory", p->path);
		return NULL;
	}
	if (blk_setup(b, p, e)) {
		blk_free(b);
		return NULL;
	}
	snprintf(name, sizeof(name), "virtio-blk%u", p->index);
	mp.name = name;
	mp.device_id = VIRTIO_ID_BLOCK;
	mp.features = blk_features(b);
	mp.nr_queues = 1;
	mp.queue_num_max = BLK_QUEUE_SIZE;
	mp.config = b->config;
	mp.config_len = sizeof(b->config);
	mp.ops = &blk_ops;
	mp.dev = b;
	b->vm = virtio_mmio_create(&mp, gm, irq, e);
	if (!b->vm) {
		blk_free(b);
		return NULL;
	}
	r = pthread_create(&b->worker, NULL, blk_worker, b);
	if (r) {
		err_set(e, -r, "%s: cannot start worker: %s", p->path, strerror(r));
		virtio_mmio_destroy(b->vm);
		return NULL;
	}
	b->worker_running = true;
	return b->vm;
}
