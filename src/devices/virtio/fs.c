// SPDX-License-Identifier: MIT
/*
 * virtio-fs: FUSE requests from the guest's rings to the passthrough server (src/fs/) and back.
 * Worker threads take one chain at a time, so a slow request (an fsync, a large read) holds
 * one worker while the others go on; the vCPU that kicked only signals an event.
 *
 * A kick wakes one idle worker, not all of them (on Linux: each worker's epoll holds the kick
 * events with EPOLLEXCLUSIVE, and a busy worker's epoll does not take the wake-up). The common
 * case, one request at a time from a guest that waits for each, then costs one thread wake-up
 * per request, as a single queue thread would (virtiofsd's); a worker that finds more chains
 * waiting than its own wakes the next idle one, since the guest does not kick for them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/epoll.h>
#endif

#include "devices/virtio/fs.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "fs/fs.h"
#include "util/compiler.h"
#include "util/event.h"
#include "util/log.h"
#include "util/thread.h"

/*
 * A chain per request, and no valid chain is longer than the queue (§2.7.5.3.1, also for
 * indirect tables). The guest's largest request is a WRITE of max_pages pages plus four
 * headers, so the queue is larger than the other devices': 1 MiB writes need 260 descriptors.
 */
#define FS_QUEUE_SIZE 1024u
#define FS_WORKERS    4
/* epoll data of the stop event; the kick events carry their queue index */
#define FS_EV_STOP UINT32_MAX

struct virtio_fs;

struct fs_worker {
	struct virtio_fs *f;
	pthread_t thread;
	bool running;
	int epfd; /* Linux: this worker's wait for kicks and the stop event */
	struct fs_scratch *sc;
	struct vq_chain chain;
	struct vq_seg segs[FS_QUEUE_SIZE];
	struct iovec in[FS_QUEUE_SIZE];
	struct iovec out[FS_QUEUE_SIZE];
};

struct virtio_fs {
	struct virtio_mmio *vm;
	struct fs_server *srv;
	char name[32];
	uint8_t config[VIRTIO_FS_CFG_SIZE];
	struct event kick[VIRTIO_FS_NR_QUEUES];
	struct event stop;
	bool inline_requests; /* no workers: QueueNotify serves the queues itself */
	struct fs_worker workers[FS_WORKERS];
};

/* Takes a chain, hiprio first (FORGETs free what new requests may need); locked. */
static struct virtq *vfs_pop(struct fs_worker *w, unsigned *qp)
{
	for (unsigned q = 0; q < VIRTIO_FS_NR_QUEUES; q++) {
		struct virtq *vq = virtio_mmio_queue(w->f->vm, q);
		int r;

		if (!vq)
			continue;
		r = vq_pop(vq, &w->chain);
		*qp = q;
		if (r > 0)
			return vq;
		if (r < 0)
			virtio_mmio_queue_broken(w->f->vm, q);
	}
	return NULL;
}

static uint32_t vfs_handle(struct fs_worker *w)
{
	const struct vq_chain *c = &w->chain;
	unsigned nin = 0, nout = 0;

	for (unsigned i = 0; i < c->nr_segs; i++) {
		struct iovec v = { .iov_base = c->segs[i].ptr, .iov_len = c->segs[i].len };

		if (i < c->nr_readable)
			w->in[nin++] = v;
		else
			w->out[nout++] = v;
	}
	return fs_server_handle(w->f->srv, w->sc, w->in, nin, w->out, nout);
}

/* More chains are known to wait than the one just taken; locked. */
static bool vfs_backlog(const struct virtq *vq)
{
	return vq->last_avail != vq->avail_shadow;
}

/*
 * Drains both queues (locked). Each request runs between io_begin and io_end, without the lock
 * unless keep_lock (inline requests: nothing else runs).
 */
static void vfs_drain(struct fs_worker *w, bool keep_lock)
{
	struct virtio_mmio *vm = w->f->vm;
	struct virtq *vq;
	unsigned q;

	while ((vq = vfs_pop(w, &q))) {
		bool more = vfs_backlog(vq);
		uint32_t used;

		virtio_mmio_io_begin(vm);
		if (!keep_lock) {
			virtio_mmio_unlock(vm);
			/* the guest kicked once for several chains: another worker takes the next */
			if (more)
				event_signal(&w->f->kick[q]);
		}
		used = vfs_handle(w);
		if (!keep_lock)
			virtio_mmio_lock(vm);
		virtio_mmio_io_end(vm);
		/* a reset waits for io_end, and we hold the lock: the queue is still the one we used */
		vq_push(vq, w->chain.head, used);
		virtio_mmio_queue_flush(vm, vq);
	}
}

static void vfs_process(struct fs_worker *w)
{
	virtio_mmio_lock(w->f->vm);
	vfs_drain(w, false);
	virtio_mmio_unlock(w->f->vm);
}

/*
 * Waits for a kick (drained, so that one arriving while we work wakes someone again) or the
 * stop event: false on stop.
 */
#ifdef __linux__
static bool vfs_wait(struct fs_worker *w)
{
	struct virtio_fs *f = w->f;
	struct epoll_event ev[1 + VIRTIO_FS_NR_QUEUES];
	int n;

	do
		n = epoll_wait(w->epfd, ev, ARRAY_SIZE(ev), -1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		pr_err("%s: worker epoll_wait: %s", f->name, strerror(errno));
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == FS_EV_STOP)
			return false;
		/* nothing to drain means another worker was first, which is as good */
		event_drain(&f->kick[ev[i].data.u32]);
	}
	return true;
}

/* Each worker's epoll: the kicks exclusive (one idle worker wakes), the stop event for all. */
static int vfs_epoll_init(struct virtio_fs *f, struct fs_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = FS_EV_STOP };

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, event_fd(&f->stop), &ev) < 0)
		return -errno;
	for (unsigned q = 0; q < VIRTIO_FS_NR_QUEUES; q++) {
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = q };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, event_fd(&f->kick[q]), &ev) < 0)
			return -errno;
	}
	return 0;
}
#else
/* Elsewhere every idle worker wakes on a kick; the first to pop takes the chain. */
static bool vfs_wait(struct fs_worker *w)
{
	struct virtio_fs *f = w->f;
	struct pollfd pfd[1 + VIRTIO_FS_NR_QUEUES] = {
		{ .fd = event_fd(&f->stop), .events = POLLIN },
	};

	for (unsigned q = 0; q < VIRTIO_FS_NR_QUEUES; q++)
		pfd[1 + q] = (struct pollfd){ .fd = event_fd(&f->kick[q]), .events = POLLIN };
	while (poll(pfd, ARRAY_SIZE(pfd), -1) < 0) {
		if (errno != EINTR) {
			pr_err("%s: worker poll: %s", f->name, strerror(errno));
			return false;
		}
	}
	if (pfd[0].revents)
		return false;
	for (unsigned q = 0; q < VIRTIO_FS_NR_QUEUES; q++)
		if (pfd[1 + q].revents)
			event_drain(&f->kick[q]);
	return true;
}

static int vfs_epoll_init(struct virtio_fs *f, struct fs_worker *w)
{
	(void)f;
	w->epfd = -1;
	return 0;
}
#endif

static void *vfs_worker(void *opaque)
{
	struct fs_worker *w = opaque;

	while (vfs_wait(w))
		vfs_process(w);
	return NULL;
}

static int vfs_workers_start(struct virtio_fs *f)
{
	sigset_t old;
	int r = 0;

	thread_block_async_signals(&old);
	for (unsigned i = 0; i < FS_WORKERS && !r; i++) {
		r = thread_create(&f->workers[i].thread, vfs_worker, &f->workers[i]);
		f->workers[i].running = !r;
	}
	thread_restore_signals(&old);
	return r;
}

static void vfs_notify(void *dev, unsigned q)
{
	struct virtio_fs *f = dev;

	if (f->inline_requests)
		vfs_drain(&f->workers[0], true);
	else if (q < VIRTIO_FS_NR_QUEUES)
		event_signal(&f->kick[q]);
}

static int vfs_notify_fd(void *dev, unsigned q)
{
	struct virtio_fs *f = dev;

	return q < VIRTIO_FS_NR_QUEUES && !f->inline_requests ? event_fd(&f->kick[q]) : -1;
}

/* A new driver starts a new FUSE session: nothing the old one held stays pinned. */
static void vfs_reset(void *dev)
{
	struct virtio_fs *f = dev;

	fs_server_reset(f->srv);
}

static void vfs_shutdown(void *dev)
{
	struct virtio_fs *f = dev;

	event_signal(&f->stop);
	for (unsigned i = 0; i < FS_WORKERS; i++) {
		if (f->workers[i].running) {
			pthread_join(f->workers[i].thread, NULL);
			f->workers[i].running = false;
		}
	}
}

static void vfs_free(struct virtio_fs *f)
{
	for (unsigned q = 0; q < VIRTIO_FS_NR_QUEUES; q++)
		event_close(&f->kick[q]);
	event_close(&f->stop);
	for (unsigned i = 0; i < FS_WORKERS; i++) {
		if (f->workers[i].epfd >= 0)
			close(f->workers[i].epfd);
		fs_scratch_destroy(f->workers[i].sc);
	}
	fs_server_destroy(f->srv);
	free(f);
}

static void vfs_destroy(void *dev)
{
	vfs_free(dev);
}

static const struct virtio_dev_ops vfs_ops = {
	.notify = vfs_notify,
	.notify_fd = vfs_notify_fd,
	.reset = vfs_reset,
	.shutdown = vfs_shutdown,
	.destroy = vfs_destroy,
};

static int vfs_setup(struct virtio_fs *f, const struct virtio_fs_params *p, struct errbuf *e)
{
	struct fs_server_params sp = {
		.path = p->path,
		.readonly = p->readonly,
		.max_inodes = p->max_inodes,
		.max_handles = p->max_handles,
		.nr_shares = p->nr_shares,
	};
	size_t taglen = strlen(p->tag);
	int r = 0;

	for (unsigned q = 0; q < VIRTIO_FS_NR_QUEUES; q++)
		f->kick[q].rfd = f->kick[q].wfd = -1;
	f->stop.rfd = f->stop.wfd = -1;
	for (unsigned i = 0; i < FS_WORKERS; i++)
		f->workers[i].epfd = -1;
	if (!taglen || taglen > VIRTIO_FS_TAG_BYTES)
		return err_set(e, -EINVAL, "--fs tag=%s: 1 to %u bytes", p->tag,
			       VIRTIO_FS_TAG_BYTES);
	/* the tag fills its 36 bytes without a NUL when it is that long (§5.11.4) */
	memcpy(f->config, p->tag, taglen);
	put_le32(f->config + VIRTIO_FS_CFG_NUM_REQUEST_QUEUES, VIRTIO_FS_NR_QUEUES - 1);
	for (unsigned i = 0; i < FS_WORKERS; i++) {
		f->workers[i].f = f;
		f->workers[i].chain.segs = f->workers[i].segs;
		f->workers[i].sc = fs_scratch_create();
		if (!f->workers[i].sc)
			return err_set(e, -ENOMEM, "out of memory");
	}
	for (unsigned q = 0; q < VIRTIO_FS_NR_QUEUES && !r; q++)
		r = event_init(&f->kick[q]);
	if (!r)
		r = event_init(&f->stop);
	for (unsigned i = 0; i < FS_WORKERS && !r; i++)
		r = vfs_epoll_init(f, &f->workers[i]);
	if (r)
		return err_set(e, r, "%s: cannot create worker events: %s", f->name, strerror(-r));
	return fs_server_create(&sp, &f->srv, e);
}

struct virtio_mmio *virtio_fs_create(const struct virtio_fs_params *p, const struct guest_mem *gm,
				     struct irq_line *irq, struct errbuf *e)
{
	struct virtio_mmio_params mp = { 0 };
	struct virtio_fs *f = calloc(1, sizeof(*f));
	int r;

	if (!f) {
		err_set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(f->name, sizeof(f->name), "virtio-fs%u", p->index);
	if (vfs_setup(f, p, e)) {
		vfs_free(f);
		return NULL;
	}
	mp.name = f->name;
	mp.device_id = VIRTIO_ID_FS;
	mp.features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
		      VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	mp.nr_queues = VIRTIO_FS_NR_QUEUES;
	mp.queue_num_max = FS_QUEUE_SIZE;
	mp.config = f->config;
	mp.config_len = sizeof(f->config);
	mp.ops = &vfs_ops;
	mp.dev = f;
	f->vm = virtio_mmio_create(&mp, gm, irq, e);
	if (!f->vm) {
		vfs_free(f);
		return NULL;
	}
	f->inline_requests = p->inline_requests;
	r = f->inline_requests ? 0 : vfs_workers_start(f);
	if (r) {
		err_set(e, -r, "%s: cannot start workers: %s", f->name, strerror(r));
		virtio_mmio_destroy(f->vm);
		return NULL;
	}
	return f->vm;
}
