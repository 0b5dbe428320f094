// SPDX-License-Identifier: MIT
/*
 * virtio-net (virtio 1.2 §5.1): one RX and one TX queue, MAC, link status, mergeable RX buffers
 * and MTU; checksum and segmentation offloads only when the backend carries a virtio-net header.
 *
 * Both directions run on the event loop thread. RX must (the backend's descriptors are served
 * there). TX does too, for three reasons: libslirp is not thread-safe and is polled there, so
 * handing it frames from a vCPU would need a lock around the whole stack; a backend that is
 * full (-EAGAIN) is resumed from its own descriptor's callback there, with no cross-thread
 * hand-off; and with KVM's ioeventfd the queue notification reaches the loop without any exit
 * to user space, so the vCPU goes back to the guest at once instead of doing the socket write.
 * Queue notifications are therefore events (one per queue) that the loop waits on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/net.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "util/compiler.h"
#include "util/event.h"
#include "util/log.h"

#define NET_QS VIRTIO_NET_QUEUE_SIZE
/* TX chains per loop callback, so RX and other devices get their turn under a TX flood. */
#define NET_TX_BUDGET 256

struct rx_frame {
	struct rx_frame *next;
	size_t len;
	uint8_t data[];
};

struct virtio_net {
	struct virtio_mmio *vm;
	struct net_backend *b;
	struct evloop *loop;
	struct event kick[2]; /* QueueNotify of RX / TX, watched by the loop */
	bool kick_added[2];
	char name[32];
	uint8_t config[VIRTIO_NET_CFG_SIZE];

	/* Guarded by the device lock (virtio_mmio_lock). */
	uint64_t applied_features;
	bool features_applied;
	bool tx_blocked; /* the backend said -EAGAIN: wait for its tx_resume */
	bool rx_blocked; /* we said -EAGAIN to the backend: owe it an rx_resume */
	struct rx_frame *rxq_head, **rxq_tail;
	unsigned rxq_frames;
	size_t rxq_bytes;
	struct virtio_net_stats st;

	/* Scratch of the loop thread (under the lock). */
	struct vq_seg tx_segs[NET_QS];
	struct iovec tx_iov[NET_QS + 1];
	struct vq_seg rx_segs0[NET_QS];
	struct vq_seg rx_segs[NET_QS];
	uint16_t rx_heads[NET_QS];
	uint32_t rx_lens[NET_QS];
};

/* ---- guest -> host ---- */

/*
 * The frame of a TX chain as an iovec over guest memory, the header copied out (it may be split
 * over descriptors) and put first when the backend wants it. -EINVAL: no full header, no
 * Ethernet header, or longer than any frame.
 */
static int tx_build(struct virtio_net *n, const struct vq_chain *c, uint8_t *hdr, unsigned *iovcnt)
{
	uint64_t skip = NET_VNET_HDR_LEN, got = 0;
	unsigned k = 0;

	if (c->readable_len < NET_VNET_HDR_LEN + 14 ||
	    c->readable_len - NET_VNET_HDR_LEN > NET_FRAME_MAX)
		return -EINVAL;
	if (n->b->vnet_hdr)
		n->tx_iov[k++] = (struct iovec){ .iov_base = hdr, .iov_len = NET_VNET_HDR_LEN };
	for (unsigned i = 0; i < c->nr_readable; i++) {
		const struct vq_seg *s = &c->segs[i];
		uint64_t h = min_u64(skip, s->len);

		memcpy(hdr + got, s->ptr, h);
		got += h;
		skip -= h;
		if (h < s->len)
			n->tx_iov[k++] =
				(struct iovec){ .iov_base = s->ptr + h, .iov_len = s->len - h };
	}
	*iovcnt = k;
	return 0;
}

/* The driver's offloads reach the backend once it accepted them (locked). */
static void net_sync_features(struct virtio_net *n)
{
	uint64_t f;

	if (!n->b->ops->set_features || !virtio_mmio_queue(n->vm, VIRTIO_NET_RXQ))
		return;
	f = virtio_mmio_features(n->vm);
	if (n->features_applied && f == n->applied_features)
		return;
	n->b->ops->set_features(n->b, f);
	n->applied_features = f;
	n->features_applied = true;
}

/*
 * Sends what the guest queued, the lock dropped around each send (io_begin keeps a reset
 * waiting meanwhile) so a send that loops back into receive (libslirp answering ARP) and vCPUs
 * touching registers never wait for it.
 */
static void net_tx_run(struct virtio_net *n)
{
	struct vq_chain c = { .segs = n->tx_segs };
	unsigned budget = NET_TX_BUDGET;
	struct virtq *vq;
	bool more = false;

	virtio_mmio_lock(n->vm);
	net_sync_features(n);
	while (!n->tx_blocked && (vq = virtio_mmio_queue(n->vm, VIRTIO_NET_TXQ))) {
		uint8_t hdr[NET_VNET_HDR_LEN];
		unsigned iovcnt;
		int r;

		if (!budget--) {
			more = true;
			break;
		}
		r = vq_pop(vq, &c);
		if (r < 0) {
			n->st.ring_errors++;
			n->st.tx_malformed++;
			virtio_mmio_queue_broken(n->vm, VIRTIO_NET_TXQ);
			break;
		}
		if (r == 0)
			break;
		if (tx_build(n, &c, hdr, &iovcnt)) {
			pr_warn_once("%s: dropped a malformed frame from the guest (%llu bytes)",
				     n->name, (unsigned long long)c.readable_len);
			n->st.tx_malformed++;
			vq_push(vq, c.head, 0);
			continue;
		}
		virtio_mmio_io_begin(n->vm);
		virtio_mmio_unlock(n->vm);
		r = n->b->ops->send(n->b, n->tx_iov, iovcnt);
		virtio_mmio_lock(n->vm);
		virtio_mmio_io_end(n->vm);
		if (r == -EAGAIN) {
			/* Not taken: the chain stays the guest's until the backend drains. */
			vq_unpop(vq, 1);
			n->tx_blocked = true;
			break;
		}
		if (r < 0)
			n->st.tx_errors++;
		else
			n->st.tx_frames++;
		vq_push(vq, c.head, 0);
	}
	vq = virtio_mmio_queue(n->vm, VIRTIO_NET_TXQ);
	if (vq)
		virtio_mmio_queue_flush(n->vm, vq);
	virtio_mmio_unlock(n->vm);
	if (more)
		event_signal(&n->kick[VIRTIO_NET_TXQ]);
}

static void net_tx_kick(void *opaque, int fd, unsigned revents)
{
	struct virtio_net *n = opaque;

	event_drain(&n->kick[VIRTIO_NET_TXQ]);
	net_tx_run(n);
}

static void net_tx_resume(void *dev)
{
	struct virtio_net *n = dev;

	virtio_mmio_lock(n->vm);
	n->tx_blocked = false;
	virtio_mmio_unlock(n->vm);
	net_tx_run(n);
}

/* ---- host -> guest ---- */

/* Copies src into c's writable segments from byte off on; returns what fitted. */
static size_t chain_write(const struct vq_chain *c, size_t off, const uint8_t *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = c->nr_readable; i < c->nr_segs && done < len; i++) {
		const struct vq_seg *s = &c->segs[i];
		size_t k;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		k = min_u64(s->len - off, len - done);
		memcpy(s->ptr + off, src + done, k);
		done += k;
		off = 0;
	}
	return done;
}

/*
 * Puts one frame into the guest's RX buffers (locked): one chain, or with MRG_RXBUF as many as
 * it takes, num_buffers saying how many. 0: delivered or dropped (counted); -EAGAIN: not enough
 * buffers yet, nothing consumed.
 */
static int rx_deliver(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	struct virtq *vq = virtio_mmio_queue(n->vm, VIRTIO_NET_RXQ);
	struct vq_chain c0 = { .segs = n->rx_segs0 }, c = { .segs = n->rx_segs };
	uint8_t hdr[NET_VNET_HDR_LEN] = { 0 };
	const uint8_t *payload = frame;
	size_t plen = len, done = 0;
	unsigned nbuf = 0, max;
	bool mrg;

	if (!vq)
		return -EAGAIN;
	mrg = virtio_mmio_features(n->vm) & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	max = mrg ? vq->num : 1;
	if (n->b->vnet_hdr) {
		if (len < NET_VNET_HDR_LEN) {
			n->st.rx_dropped++;
			return 0;
		}
		memcpy(hdr, frame, NET_VNET_HDR_LEN);
		payload += NET_VNET_HDR_LEN;
		plen -= NET_VNET_HDR_LEN;
	}
	if (plen > NET_FRAME_MAX) {
		n->st.rx_dropped++;
		return 0;
	}
	while (done < plen || !nbuf) {
		struct vq_chain *ch = nbuf ? &c : &c0;
		size_t off = nbuf ? 0 : NET_VNET_HDR_LEN, take;
		int r;

		if (nbuf == max) {
			/* The guest's buffers can never hold it (without MRG_RXBUF: one chain). */
			vq_unpop(vq, (uint16_t)nbuf);
			pr_warn_once(
				"%s: a %zu-byte frame does not fit the guest's RX buffers; dropped",
				n->name, plen);
			n->st.rx_dropped++;
			return 0;
		}
		r = vq_pop(vq, ch);
		if (r < 0) {
			n->st.ring_errors++;
			n->st.rx_dropped++;
			virtio_mmio_queue_broken(n->vm, VIRTIO_NET_RXQ);
			return 0;
		}
		if (r == 0) {
			vq_unpop(vq, (uint16_t)nbuf);
			return -EAGAIN;
		}
		if (!nbuf && ch->writable_len < NET_VNET_HDR_LEN) {
			/* No room for a header: give it back empty, the driver drops it. */
			n->st.rx_bad_buffers++;
			vq_push(vq, ch->head, 0);
			continue;
		}
		take = min_u64(ch->writable_len - off, plen - done);
		chain_write(ch, off, payload + done, take);
		n->rx_heads[nbuf] = ch->head;
		n->rx_lens[nbuf] = (uint32_t)(off + take);
		done += take;
		nbuf++;
	}
	put_le16(hdr + 10, (uint16_t)(mrg ? nbuf : 1));
	chain_write(&c0, 0, hdr, NET_VNET_HDR_LEN);
	for (unsigned i = 0; i < nbuf; i++)
		vq_push(vq, n->rx_heads[i], n->rx_lens[i]);
	virtio_mmio_queue_flush(n->vm, vq);
	n->st.rx_frames++;
	return 0;
}

static bool rxq_full(const struct virtio_net *n, size_t len)
{
	return n->rxq_frames >= VIRTIO_NET_RX_QUEUE_FRAMES ||
	       n->rxq_bytes + len > VIRTIO_NET_RX_QUEUE_BYTES;
}

/* Keeps a copy until the guest posts buffers (locked). -EAGAIN when the queue is full. */
static int rxq_add(struct virtio_net *n, const void *frame, size_t len)
{
	struct rx_frame *f;

	if (len > NET_FRAME_MAX + NET_VNET_HDR_LEN) {
		n->st.rx_dropped++;
		return 0;
	}
	if (rxq_full(n, len))
		return -EAGAIN;
	f = malloc(sizeof(*f) + len);
	if (!f) {
		n->st.rx_dropped++;
		return 0;
	}
	f->next = NULL;
	f->len = len;
	memcpy(f->data, frame, len);
	*n->rxq_tail = f;
	n->rxq_tail = &f->next;
	n->rxq_frames++;
	n->rxq_bytes += len;
	n->st.rx_queued = n->rxq_frames;
	return 0;
}

static void rxq_pop(struct virtio_net *n)
{
	struct rx_frame *f = n->rxq_head;

	n->rxq_head = f->next;
	if (!n->rxq_head)
		n->rxq_tail = &n->rxq_head;
	n->rxq_frames--;
	n->rxq_bytes -= f->len;
	n->st.rx_queued = n->rxq_frames;
	free(f);
}

static void rxq_flush(struct virtio_net *n)
{
	while (n->rxq_head && rx_deliver(n, n->rxq_head->data, n->rxq_head->len) == 0)
		rxq_pop(n);
}

static void rxq_clear(struct virtio_net *n)
{
	while (n->rxq_head)
		rxq_pop(n);
}

static int net_receive(void *dev, const void *frame, size_t len)
{
	struct virtio_net *n = dev;
	int r = -EAGAIN;

	virtio_mmio_lock(n->vm);
	net_sync_features(n);
	/* Behind queued frames a new one waits its turn, so the guest sees them in order. */
	if (!n->rxq_head)
		r = rx_deliver(n, frame, len);
	if (r == -EAGAIN) {
		r = rxq_add(n, frame, len);
		if (r)
			n->rx_blocked = true;
	}
	virtio_mmio_unlock(n->vm);
	return r;
}

/* The guest posted RX buffers (or the device was reset): deliver what waits, resume the backend. */
static void net_rx_kick(void *opaque, int fd, unsigned revents)
{
	struct virtio_net *n = opaque;
	bool resume;

	event_drain(&n->kick[VIRTIO_NET_RXQ]);
	virtio_mmio_lock(n->vm);
	net_sync_features(n);
	rxq_flush(n);
	/* Half empty before asking for more, so a trickle of buffers does not ping-pong. */
	resume = n->rx_blocked && n->rxq_frames <= VIRTIO_NET_RX_QUEUE_FRAMES / 2 &&
		 n->rxq_bytes <= VIRTIO_NET_RX_QUEUE_BYTES / 2;
	if (resume)
		n->rx_blocked = false;
	virtio_mmio_unlock(n->vm);
	if (resume && n->b->ops->rx_resume)
		n->b->ops->rx_resume(n->b);
}

static void net_link(void *dev, bool up)
{
	struct virtio_net *n = dev;
	uint16_t s;

	virtio_mmio_lock(n->vm);
	s = get_le16(n->config + VIRTIO_NET_CFG_STATUS);
	if (!!(s & VIRTIO_NET_S_LINK_UP) != up) {
		put_le16(n->config + VIRTIO_NET_CFG_STATUS,
			 (uint16_t)(up ? s | VIRTIO_NET_S_LINK_UP : s & ~VIRTIO_NET_S_LINK_UP));
		virtio_mmio_config_changed(n->vm);
	}
	virtio_mmio_unlock(n->vm);
}

/* ---- transport ops ---- */

/* Locked, on the notifying thread: the work is the loop's. */
static void net_notify(void *dev, unsigned q)
{
	struct virtio_net *n = dev;

	if (q < 2)
		event_signal(&n->kick[q]);
}

static int net_notify_fd(void *dev, unsigned q)
{
	struct virtio_net *n = dev;

	return q < 2 ? event_fd(&n->kick[q]) : -1;
}

/* Locked. Frames queued for the old driver are stale; the backend may read again. */
static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	rxq_clear(n);
	n->features_applied = false;
	if (n->rx_blocked)
		event_signal(&n->kick[VIRTIO_NET_RXQ]);
}

static void net_free(struct virtio_net *n)
{
	for (unsigned q = 0; q < 2; q++) {
		if (n->kick_added[q])
			evloop_del_fd(n->loop, event_fd(&n->kick[q]));
		event_close(&n->kick[q]);
	}
	if (n->b)
		n->b->ops->destroy(n->b);
	rxq_clear(n);
	free(n);
}

static void net_destroy(void *dev)
{
	struct virtio_net *n = dev;

	if (n->st.tx_malformed || n->st.rx_dropped || n->st.tx_errors)
		pr_debug("%s: tx %llu (%llu malformed, %llu refused), rx %llu (%llu dropped)",
			 n->name, (unsigned long long)n->st.tx_frames,
			 (unsigned long long)n->st.tx_malformed,
			 (unsigned long long)n->st.tx_errors, (unsigned long long)n->st.rx_frames,
			 (unsigned long long)(n->st.rx_dropped + n->b->rx_dropped));
	net_free(n);
}

static const struct virtio_dev_ops net_ops = {
	.notify = net_notify,
	.notify_fd = net_notify_fd,
	.reset = net_reset,
	.destroy = net_destroy,
};

static uint64_t net_features(const struct net_backend *b)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
		     VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
		     VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     VIRTIO_BIT(VIRTIO_NET_F_MTU);
	/* Offloads travel in the virtio-net header: only a backend that keeps it can offer them. */
	uint64_t offloads =
		VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
		VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
		VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);

	if (b->vnet_hdr)
		f |= b->offloads & offloads;
	return f;
}

static int net_events_init(struct virtio_net *n, struct errbuf *e)
{
	static const ev_fd_fn fns[2] = { net_rx_kick, net_tx_kick };

	for (unsigned q = 0; q < 2; q++) {
		int r = event_init(&n->kick[q]);

		if (r < 0)
			return err_set(e, r, "%s: cannot create its events: %s", n->name,
				       strerror(-r));
		r = evloop_add_fd(n->loop, event_fd(&n->kick[q]), EV_IN, fns[q], n);
		if (r < 0)
			return err_set(e, r, "%s: event loop: %s", n->name, strerror(-r));
		n->kick_added[q] = true;
	}
	return 0;
}

struct virtio_net *virtio_net_create(const struct virtio_net_params *p, struct net_backend *b,
				     struct evloop *loop, const struct guest_mem *gm,
				     struct irq_line *irq, struct errbuf *e)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct virtio_mmio_params mp = { 0 };

	if (!n) {
		b->ops->destroy(b);
		err_set(e, -ENOMEM, "virtio-net: out of memory");
		return NULL;
	}
	n->b = b;
	n->loop = loop;
	n->rxq_tail = &n->rxq_head;
	n->kick[0].rfd = n->kick[0].wfd = n->kick[1].rfd = n->kick[1].wfd = -1;
	snprintf(n->name, sizeof(n->name), "virtio-net%u", p->index);
	memcpy(n->config + VIRTIO_NET_CFG_MAC, p->mac, 6);
	put_le16(n->config + VIRTIO_NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	put_le16(n->config + VIRTIO_NET_CFG_MTU, (uint16_t)(b->mtu ? b->mtu : VIRTIO_NET_MTU));
	if (net_events_init(n, e) < 0) {
		net_free(n);
		return NULL;
	}
	mp.name = n->name;
	mp.device_id = VIRTIO_ID_NET;
	mp.features = net_features(b);
	mp.nr_queues = 2;
	mp.queue_num_max = NET_QS;
	mp.config = n->config;
	mp.config_len = sizeof(n->config);
	mp.ops = &net_ops;
	mp.dev = n;
	n->vm = virtio_mmio_create(&mp, gm, irq, e);
	if (!n->vm) {
		net_free(n);
		return NULL;
	}
	b->port = (struct net_port){
		.receive = net_receive,
		.tx_resume = net_tx_resume,
		.link = net_link,
		.dev = n,
	};
	if (b->ops->start && b->ops->start(b, e) < 0) {
		virtio_mmio_destroy(n->vm);
		return NULL;
	}
	return n;
}

struct virtio_mmio *virtio_net_mmio(struct virtio_net *n)
{
	return n->vm;
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s)
{
	virtio_mmio_lock(n->vm);
	*s = n->st;
	virtio_mmio_unlock(n->vm);
}
