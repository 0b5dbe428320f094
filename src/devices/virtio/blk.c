// SPDX-License-Identifier: MIT
/* virtio-blk: the image, the worker thread and the device's life cycle. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk_int.h"
#include "devices/virtio/virtio.h"
#include "util/compiler.h"
#include "util/log.h"
#include "util/thread.h"

/*
 * Takes up to BLK_BATCH chains (locked); 0 when there is nothing to do or the device stopped.
 * Reads stop at BLK_BATCH_BYTES, so large ones complete one by one while the guest refills the
 * queue, and *more then wakes another worker to read alongside. Writes never wake one: two
 * threads writing one image contend for its inode lock (bench_devices, 1 MiB writes: 0.8x of
 * raw with two writers and small batches, 0.95x as one batch by one writer; 1 MiB reads
 * 0.75-0.88x -> 0.85-0.98x). Their batches stop at BLK_BATCH_WRITE_BYTES instead, so what one
 * batch holds back from the guest (and a reset waits for) stays bounded.
 */
static unsigned blk_pop_batch(struct blk_worker *w, struct virtq **vqp, bool *more)
{
	struct virtio_blk *b = w->b;
	struct virtq *vq = virtio_mmio_queue(b->vm, 0);
	uint64_t bytes = 0;
	unsigned n = 0;
	bool writes = false;
	int r;

	*vqp = vq;
	*more = true;
	while (vq && n < BLK_BATCH && bytes < (writes ? BLK_BATCH_WRITE_BYTES : BLK_BATCH_BYTES)) {
		struct vq_chain *c = &w->s->chains[n];

		r = vq_pop(vq, c);
		if (r < 0)
			virtio_mmio_queue_broken(b->vm, 0);
		if (r <= 0) {
			*more = false;
			break;
		}
		bytes += c->readable_len + c->writable_len;
		/* a payload the guest sends: a write (or discard), not only the header */
		writes |= c->readable_len > VIRTIO_BLK_HDR_BYTES;
		n++;
	}
	*more = *more && !writes;
	return n;
}

/*
 * Drains the queue. The lock is held for ring work only; the I/O runs between io_begin and
 * io_end, so a reset waits for the batch and vCPUs never wait for the disk. A full batch means
 * the guest keeps a deep queue: the next worker is woken to take batches alongside this one.
 * Batches stop at a number of bytes (blk_pop_batch). Once the device stops, the current batch
 * ends after the chunk in progress: what was answered is published (and flushed to the disk by
 * blk_shutdown), the rest is left for a guest that is going away.
 */
static void blk_process(struct blk_worker *w)
{
	struct virtio_blk *b = w->b;
	struct virtio_mmio *vm = b->vm;
	struct blk_worker *next = w + 1 < b->workers + BLK_WORKERS ? w + 1 : NULL;
	struct virtq *vq;
	unsigned n, done;
	bool more;

	virtio_mmio_lock(vm);
	while ((n = blk_pop_batch(w, &vq, &more))) {
		virtio_mmio_io_begin(vm);
		virtio_mmio_unlock(vm);
		if (more && next)
			event_signal(&next->help);
		done = blk_handle_batch(b, w->s, n);
		virtio_mmio_lock(vm);
		virtio_mmio_io_end(vm);
		/* No reset can have run since the pops: it waits for io_end, and we hold the lock. */
		for (unsigned i = 0; i < done; i++)
			vq_push(vq, w->s->chains[i].head, w->s->used[i]);
		virtio_mmio_queue_flush(vm, vq);
		if (done < n)
			break;
	}
	virtio_mmio_unlock(vm);
}

static void *blk_worker(void *opaque)
{
	struct blk_worker *w = opaque;
	struct pollfd pfd[2] = {
		{ .fd = event_fd(&w->b->stop), .events = POLLIN },
		{ .fd = event_fd(w->wake), .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: worker poll: %s", w->b->path, strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		/* Drain first: a kick arriving while we work then wakes us again. */
		event_drain(w->wake);
		blk_process(w);
	}
	return NULL;
}

static int blk_workers_start(struct virtio_blk *b)
{
	sigset_t old;
	int r = 0;

	thread_block_async_signals(&old);
	for (unsigned i = 0; i < BLK_WORKERS && !r; i++) {
		r = thread_create(&b->workers[i].thread, blk_worker, &b->workers[i]);
		b->workers[i].running = !r;
	}
	thread_restore_signals(&old);
	return r;
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

	/* The transport already hands out no queue: workers finish their chunk and return. */
	atomic_store(&b->stopping, true);
	event_signal(&b->stop);
	for (unsigned i = 0; i < BLK_WORKERS; i++) {
		if (b->workers[i].running) {
			pthread_join(b->workers[i].thread, NULL);
			b->workers[i].running = false;
		}
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
	for (unsigned i = 0; i < BLK_WORKERS; i++) {
		event_close(&b->workers[i].help);
		blk_ring_destroy(b->scratch[i].ring);
	}
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

void blk_config_init(struct virtio_blk *b)
{
	uint8_t *c = b->config;

	put_le64(c + VIRTIO_BLK_CFG_CAPACITY, b->capacity);
	put_le32(c + VIRTIO_BLK_CFG_SIZE_MAX, BLK_SIZE_MAX);
	put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, BLK_SEG_MAX);
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

uint64_t blk_features(const struct virtio_blk *b)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
		     VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) |
		     VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
		     VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);

	if (b->readonly)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	if (b->discard)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

/* Worker 0 waits for kicks; the others wait to be asked. */
static void blk_workers_init(struct virtio_blk *b)
{
	for (unsigned i = 0; i < BLK_WORKERS; i++) {
		struct blk_worker *w = &b->workers[i];

		w->b = b;
		w->s = &b->scratch[i];
		for (unsigned k = 0; k < BLK_BATCH; k++)
			w->s->chains[k].segs = w->s->segs[k];
		w->wake = i ? &w->help : &b->kick;
		w->help.rfd = w->help.wfd = -1;
	}
}

/* Rings are optional: without one a worker does the same I/O one call at a time. */
static void blk_rings_init(struct virtio_blk *b)
{
	const char *why = NULL;

	for (unsigned i = 0; i < BLK_WORKERS; i++)
		b->scratch[i].ring = blk_ring_create(&why);
	if (why)
		pr_debug("%s: no io_uring (%s): one preadv/pwritev per request", b->path, why);
}

static int blk_events_init(struct virtio_blk *b)
{
	int r = event_init(&b->kick);

	if (!r)
		r = event_init(&b->stop);
	for (unsigned i = 1; i < BLK_WORKERS && !r; i++)
		r = event_init(&b->workers[i].help);
	return r;
}

static int blk_setup(struct virtio_blk *b, const struct virtio_blk_params *p, struct errbuf *e)
{
	int r;

	blk_workers_init(b);
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
	blk_rings_init(b);
	r = blk_events_init(b);
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
	r = blk_workers_start(b);
	if (r) {
		err_set(e, -r, "%s: cannot start workers: %s", p->path, strerror(r));
		virtio_mmio_destroy(b->vm);
		return NULL;
	}
	return b->vm;
}
