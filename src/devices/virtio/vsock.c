// SPDX-License-Identifier: MIT
/*
 * virtio-vsock, the device: rings in, rings out. A guest packet's header is copied out of guest
 * RAM once and checked there; what the device refuses it answers with RST from a small bounded
 * queue of its own, the rest goes to the backend. Packets for the guest are written straight
 * into rx buffers, the backend reading socket data into them without a bounce buffer.
 *
 * All ring work happens on the event loop thread with the device lock held: a QueueNotify only
 * signals `kick` (or KVM signals it as an ioeventfd), and a driver reset only bumps a generation
 * that the loop acts on before it next touches a ring.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock.h"
#include "util/compiler.h"
#include "util/event.h"
#include "util/evloop.h"
#include "util/log.h"

#define VSOCK_QUEUE_SIZE VIRTIO_MMIO_QUEUE_NUM_MAX
#define VSOCK_RXQ	 0
#define VSOCK_TXQ	 1
#define VSOCK_EVQ	 2
/* Packets handled per queue and pass, so one busy guest or host peer cannot hold the loop. */
#define VSOCK_BUDGET 256
/* RSTs for refused packets waiting for rx buffers; beyond this they are dropped (and counted). */
#define VSOCK_RST_QUEUE 256

struct vsock_rst {
	uint64_t src_cid;
	uint32_t src_port;
	uint32_t dst_port;
};

struct virtio_vsock {
	struct virtio_mmio *vm;
	struct evloop *loop;
	uint8_t config[8]; /* le64 guest_cid */
	uint64_t guest_cid;
	const struct vsock_backend_ops *be_ops;
	void *be;

	struct event kick;
	bool kick_registered;
	struct ev_bh *rx_bh;

	/* Bumped by a driver reset (vCPU thread, locked); the loop catches up before ring work. */
	atomic_uint reset_gen;
	unsigned seen_gen;

	/* Loop thread only. */
	struct vq_seg tx_segs[VSOCK_QUEUE_SIZE];
	struct vq_seg rx_segs[VSOCK_QUEUE_SIZE];
	struct vq_chain rx_chain; /* popped, not yet used: kept for the next packet */
	bool rx_held;
	struct iovec iov[VSOCK_QUEUE_SIZE + 1];
	struct vsock_rst rsts[VSOCK_RST_QUEUE];
	unsigned rst_head, rst_count;
	struct vsock_dev_stats stats;
};

void vsock_hdr_decode(struct vsock_hdr *h, const uint8_t raw[VSOCK_HDR_SIZE])
{
	h->src_cid = get_le64(raw);
	h->dst_cid = get_le64(raw + 8);
	h->src_port = get_le32(raw + 16);
	h->dst_port = get_le32(raw + 20);
	h->len = get_le32(raw + 24);
	h->type = get_le16(raw + 28);
	h->op = get_le16(raw + 30);
	h->flags = get_le32(raw + 32);
	h->buf_alloc = get_le32(raw + 36);
	h->fwd_cnt = get_le32(raw + 40);
}

void vsock_hdr_encode(uint8_t raw[VSOCK_HDR_SIZE], const struct vsock_hdr *h)
{
	put_le64(raw, h->src_cid);
	put_le64(raw + 8, h->dst_cid);
	put_le32(raw + 16, h->src_port);
	put_le32(raw + 20, h->dst_port);
	put_le32(raw + 24, h->len);
	put_le16(raw + 28, h->type);
	put_le16(raw + 30, h->op);
	put_le32(raw + 32, h->flags);
	put_le32(raw + 36, h->buf_alloc);
	put_le32(raw + 40, h->fwd_cnt);
}

/*
 * The segments [first, last) of c seen as one byte string: copies len bytes at offset off into
 * (to_guest) or out of buf. Returns the bytes copied.
 */
static size_t segs_copy(const struct vq_chain *c, unsigned first, unsigned last, size_t off,
			void *buf, size_t len, bool to_guest)
{
	uint8_t *b = buf;
	size_t done = 0;

	for (unsigned i = first; i < last && done < len; i++) {
		size_t seg = c->segs[i].len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = min_u64(seg - off, len - done);
		if (to_guest)
			memcpy(c->segs[i].ptr + off, b + done, n);
		else
			memcpy(b + done, c->segs[i].ptr + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* iovecs for at most len bytes of segments [first, last) from offset off; returns their number. */
static unsigned segs_iov(const struct vq_chain *c, unsigned first, unsigned last, size_t off,
			 size_t len, struct iovec *iov)
{
	unsigned n = 0;

	for (unsigned i = first; i < last && len; i++) {
		size_t seg = c->segs[i].len, take;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		take = min_u64(seg - off, len);
		iov[n++] = (struct iovec){ .iov_base = c->segs[i].ptr + off, .iov_len = take };
		len -= take;
		off = 0;
	}
	return n;
}

/* An RST answering h (a guest packet), queued until an rx buffer takes it. */
static void vsock_queue_rst(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct vsock_rst *r;

	if (h->op == VSOCK_OP_RST)
		return; /* never answer a reset with a reset */
	if (v->rst_count == VSOCK_RST_QUEUE) {
		v->stats.rst_dropped++;
		return;
	}
	r = &v->rsts[(v->rst_head + v->rst_count++) % VSOCK_RST_QUEUE];
	*r = (struct vsock_rst){ .src_cid = h->dst_cid,
				 .src_port = h->dst_port,
				 .dst_port = h->src_port };
}

/* Catch up with driver resets: no connection, packet or held buffer survives one. */
static void vsock_sync_reset(struct virtio_vsock *v)
{
	unsigned gen = atomic_load(&v->reset_gen);

	if (gen == v->seen_gen)
		return;
	v->seen_gen = gen;
	v->rx_held = false;
	v->rst_head = v->rst_count = 0;
	v->be_ops->reset(v->be);
}

/*
 * Checks one guest packet and hands it on. Anything addressed to the host with the guest's own
 * CID but otherwise unacceptable is answered with RST, and the backend is told the guest reset
 * that connection, so both ends forget it.
 */
static void vsock_tx_one(struct virtio_vsock *v, const struct vq_chain *c)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	uint64_t data_len;
	unsigned n;

	if (c->readable_len < VSOCK_HDR_SIZE) {
		v->stats.short_header++;
		return;
	}
	data_len = c->readable_len - VSOCK_HDR_SIZE;
	segs_copy(c, 0, c->nr_readable, 0, raw, VSOCK_HDR_SIZE, false);
	vsock_hdr_decode(&h, raw);
	v->stats.tx_packets++;
	if (h.src_cid != v->guest_cid) {
		v->stats.bad_src_cid++;
		return;
	}
	if (h.dst_cid != VSOCK_CID_HOST) {
		v->stats.bad_dst_cid++;
		vsock_queue_rst(v, &h);
		return;
	}
	if (h.type != VSOCK_TYPE_STREAM || h.op == VSOCK_OP_INVALID ||
	    h.op > VSOCK_OP_CREDIT_REQUEST || h.len > VSOCK_MAX_PKT || h.len > data_len) {
		if (h.type != VSOCK_TYPE_STREAM)
			v->stats.bad_type++;
		else if (h.op == VSOCK_OP_INVALID || h.op > VSOCK_OP_CREDIT_REQUEST)
			v->stats.bad_op++;
		else
			v->stats.bad_len++;
		vsock_queue_rst(v, &h);
		h.op = VSOCK_OP_RST;
		h.len = 0;
		v->be_ops->tx(v->be, &h, NULL, 0);
		return;
	}
	n = segs_iov(c, 0, c->nr_readable, VSOCK_HDR_SIZE, h.len, v->iov);
	v->be_ops->tx(v->be, &h, v->iov, n);
}

/* Returns true when the budget ran out with packets possibly left. */
static bool vsock_process_tx(struct virtio_vsock *v)
{
	struct virtq *vq = virtio_mmio_queue(v->vm, VSOCK_TXQ);
	struct vq_chain c = { .segs = v->tx_segs };
	unsigned done = 0;
	int r = 0;

	if (!vq)
		return false;
	while (done < VSOCK_BUDGET && (r = vq_pop(vq, &c)) > 0) {
		vsock_tx_one(v, &c);
		vq_push(vq, c.head, 0);
		done++;
	}
	if (r < 0)
		virtio_mmio_queue_broken(v->vm, VSOCK_TXQ);
	virtio_mmio_queue_flush(v->vm, vq);
	return r > 0 && done == VSOCK_BUDGET;
}

/* Fills one rx chain with the next packet; false (chain untouched) when there is none. */
static bool vsock_rx_one(struct virtio_vsock *v, const struct vq_chain *c, uint32_t *used)
{
	unsigned first = c->nr_readable, n;
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h = { 0 };
	size_t cap;

	cap = min_u64(c->writable_len - VSOCK_HDR_SIZE, VSOCK_MAX_PKT);
	if (v->rst_count) {
		const struct vsock_rst *r = &v->rsts[v->rst_head];

		h = (struct vsock_hdr){ .src_cid = r->src_cid,
					.dst_cid = v->guest_cid,
					.src_port = r->src_port,
					.dst_port = r->dst_port,
					.type = VSOCK_TYPE_STREAM,
					.op = VSOCK_OP_RST };
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
		v->rst_count--;
	} else {
		n = segs_iov(c, first, c->nr_segs, VSOCK_HDR_SIZE, cap, v->iov);
		if (!v->be_ops->rx(v->be, &h, v->iov, n, cap))
			return false;
		if (h.len > cap)
			h.len = (uint32_t)cap; /* a backend bug must not make us lie to the guest */
	}
	vsock_hdr_encode(raw, &h);
	segs_copy(c, first, c->nr_segs, 0, raw, VSOCK_HDR_SIZE, true);
	*used = VSOCK_HDR_SIZE + h.len;
	v->stats.rx_packets++;
	return true;
}

/* Returns true when the budget ran out with packets possibly left. */
static bool vsock_process_rx(struct virtio_vsock *v)
{
	struct virtq *vq = virtio_mmio_queue(v->vm, VSOCK_RXQ);
	struct vq_chain *c = &v->rx_chain;
	unsigned done = 0;
	bool more = false;
	uint32_t used;
	int r;

	if (!vq)
		return false;
	while (done < VSOCK_BUDGET) {
		if (!v->rx_held) {
			c->segs = v->rx_segs;
			r = vq_pop(vq, c);
			if (r < 0)
				virtio_mmio_queue_broken(v->vm, VSOCK_RXQ);
			if (r <= 0)
				break;
			v->rx_held = true;
			if (c->writable_len < VSOCK_HDR_SIZE) {
				v->stats.small_rx_buf++;
				vq_push(vq, c->head, 0);
				v->rx_held = false;
				continue;
			}
		}
		if (!vsock_rx_one(v, c, &used))
			break;
		vq_push(vq, c->head, used);
		v->rx_held = false;
		done++;
	}
	more = done == VSOCK_BUDGET;
	virtio_mmio_queue_flush(v->vm, vq);
	return more;
}

/* One pass over both rings (loop thread). */
static void vsock_process(struct virtio_vsock *v)
{
	bool more;

	virtio_mmio_lock(v->vm);
	vsock_sync_reset(v);
	more = vsock_process_tx(v);
	more |= vsock_process_rx(v);
	virtio_mmio_unlock(v->vm);
	/* Let sockets and timers have the loop before the next batch. */
	if (more)
		ev_bh_schedule(v->rx_bh);
}

static void vsock_kick_ready(void *opaque, int fd, unsigned revents)
{
	struct virtio_vsock *v = opaque;

	event_drain(&v->kick);
	vsock_process(v);
}

static void vsock_bh(void *opaque)
{
	vsock_process(opaque);
}

/* The backend has packets: a bottom half coalesces many sockets' readiness into one pass. */
static void vsock_rx_ready(void *dev)
{
	struct virtio_vsock *v = dev;

	ev_bh_schedule(v->rx_bh);
}

/* QueueNotify, on a vCPU (locked): the loop does the work. */
static void vsock_notify(void *dev, unsigned q)
{
	struct virtio_vsock *v = dev;

	event_signal(&v->kick);
}

static int vsock_notify_fd(void *dev, unsigned q)
{
	struct virtio_vsock *v = dev;

	return q == VSOCK_EVQ ? -1 : event_fd(&v->kick);
}

/* Driver reset (vCPU, locked): the loop drops every connection before it next uses a ring. */
static void vsock_reset(void *dev)
{
	struct virtio_vsock *v = dev;

	atomic_fetch_add(&v->reset_gen, 1);
	event_signal(&v->kick);
}

static void vsock_destroy(void *dev)
{
	struct virtio_vsock *v = dev;

	/* The loop is stopped (or never ran) by now: unregistering is safe from here. */
	if (v->kick_registered)
		evloop_del_fd(v->loop, event_fd(&v->kick));
	ev_bh_free(v->rx_bh);
	if (v->be_ops && v->be_ops->destroy)
		v->be_ops->destroy(v->be);
	event_close(&v->kick);
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.notify = vsock_notify,
	.notify_fd = vsock_notify_fd,
	.reset = vsock_reset,
	.destroy = vsock_destroy,
};

struct virtio_vsock *virtio_vsock_create(const struct virtio_vsock_params *p,
					 const struct guest_mem *gm, struct irq_line *irq,
					 struct errbuf *e)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	struct virtio_mmio_params mp = {
		.name = "virtio-vsock",
		.device_id = VIRTIO_ID_VSOCK,
		.features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
			    VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC),
		.nr_queues = 3,
		.queue_num_max = VSOCK_QUEUE_SIZE,
		.config_len = 8,
		.ops = &vsock_ops,
	};
	int r;

	if (!v) {
		if (p->be_ops->destroy)
			p->be_ops->destroy(p->be);
		err_set(e, -ENOMEM, "virtio-vsock: out of memory");
		return NULL;
	}
	v->loop = p->loop;
	v->guest_cid = p->guest_cid;
	v->be_ops = p->be_ops;
	v->be = p->be;
	put_le64(v->config, p->guest_cid);
	mp.config = v->config;
	mp.dev = v;
	v->kick.rfd = v->kick.wfd = -1;
	r = event_init(&v->kick);
	if (r < 0) {
		err_set(e, r, "virtio-vsock: cannot create its notifier: %s", strerror(-r));
		goto fail;
	}
	v->rx_bh = evloop_bh_new(v->loop, vsock_bh, v);
	if (!v->rx_bh) {
		err_set(e, -ENOMEM, "virtio-vsock: out of memory");
		goto fail;
	}
	r = evloop_add_fd(v->loop, event_fd(&v->kick), EV_IN, vsock_kick_ready, v);
	if (r < 0) {
		err_set(e, r, "virtio-vsock: cannot watch its notifier: %s", strerror(-r));
		goto fail;
	}
	v->kick_registered = true;
	v->vm = virtio_mmio_create(&mp, gm, irq, e);
	if (!v->vm)
		goto fail;
	v->be_ops->attach(v->be, vsock_rx_ready, v);
	return v;
fail:
	vsock_destroy(v);
	return NULL;
}

struct virtio_mmio *virtio_vsock_mmio(struct virtio_vsock *v)
{
	return v->vm;
}

void virtio_vsock_stats(const struct virtio_vsock *v, struct vsock_dev_stats *out)
{
	*out = v->stats;
}
