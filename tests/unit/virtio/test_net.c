// SPDX-License-Identifier: MIT
/*
 * virtio-net against the tests' virtio driver and a fake backend: TX, RX, mergeable buffers, RX
 * starvation, malformed chains, link status, backpressure both ways, offload negotiation.
 * The event loop runs on the test thread (evloop_run_once), so every step is deterministic.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/net.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "tests/unit/virtio/driver.h"
#include "util/log.h"

#define RAM_SIZE (4 * SZ_1M)
#define RXQ	 VIRTIO_NET_RXQ
#define TXQ	 VIRTIO_NET_TXQ
#define HDR	 NET_VNET_HDR_LEN
#define BUF	 1526u /* what Linux posts per mergeable buffer at MTU 1500 */

struct fake_be {
	struct net_backend b;
	uint8_t *last;
	size_t last_len;
	unsigned nr_sent;
	int send_ret;
	unsigned rx_resumes;
	uint64_t features;
	unsigned features_calls;
};

struct ctx {
	struct vdrv d;
	struct evloop *loop;
	struct fake_be *fb;
	struct virtio_net *n;
};

static int fake_send(struct net_backend *b, const struct iovec *iov, unsigned iovcnt)
{
	struct fake_be *f = (struct fake_be *)b;

	if (f->send_ret)
		return f->send_ret;
	f->last_len = 0;
	for (unsigned i = 0; i < iovcnt; i++) {
		memcpy(f->last + f->last_len, iov[i].iov_base, iov[i].iov_len);
		f->last_len += iov[i].iov_len;
	}
	f->nr_sent++;
	return 0;
}

static void fake_rx_resume(struct net_backend *b)
{
	((struct fake_be *)b)->rx_resumes++;
}

static void fake_set_features(struct net_backend *b, uint64_t features)
{
	struct fake_be *f = (struct fake_be *)b;

	f->features = features;
	f->features_calls++;
}

static void fake_destroy(struct net_backend *b)
{
	struct fake_be *f = (struct fake_be *)b;

	free(f->last);
	free(f);
}

static const struct net_backend_ops fake_ops = {
	.send = fake_send,
	.rx_resume = fake_rx_resume,
	.set_features = fake_set_features,
	.destroy = fake_destroy,
};

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static struct ctx *ctx_new_mtu(bool vnet_hdr, unsigned mtu)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct virtio_net_params p = { .index = 0 };
	struct errbuf e;

	assert_non_null(c);
	assert_int_equal(vdrv_init(&c->d, RAM_SIZE), 0);
	assert_int_equal(evloop_create(&c->loop, &e), 0);
	c->fb = calloc(1, sizeof(*c->fb));
	c->fb->last = malloc(NET_FRAME_MAX + HDR);
	c->fb->b = (struct net_backend){ .ops = &fake_ops, .loop = c->loop, .name = "fake" };
	if (vnet_hdr) {
		c->fb->b.vnet_hdr = true;
		c->fb->b.offloads = ~0ULL;
	}
	c->fb->b.mtu = mtu;
	memcpy(p.mac, test_mac, 6);
	c->n = virtio_net_create(&p, &c->fb->b, c->loop, &c->d.gm, &c->d.irq, &e);
	assert_non_null(c->n);
	c->d.vm = virtio_net_mmio(c->n);
	return c;
}

static struct ctx *ctx_new(bool vnet_hdr)
{
	return ctx_new_mtu(vnet_hdr, 0);
}

/* Negotiates want (& offered), sets up both queues with num entries, DRIVER_OK. */
static void ctx_start(struct ctx *c, uint64_t want, uint16_t num)
{
	assert_int_equal(vdrv_negotiate(&c->d, want), 0);
	assert_int_equal(vdrv_queue_setup(&c->d, RXQ, num), 0);
	assert_int_equal(vdrv_queue_setup(&c->d, TXQ, num), 0);
	vdrv_driver_ok(&c->d);
	assert_true(vdrv_status(&c->d) & VIRTIO_STATUS_DRIVER_OK);
}

static int setup(void **state)
{
	struct ctx *c = ctx_new(false);

	ctx_start(c, VIRTIO_BIT(VIRTIO_F_VERSION_1), 256);
	*state = c;
	return 0;
}

static int setup_mrg(void **state)
{
	struct ctx *c = ctx_new(false);

	ctx_start(c, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), 256);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	vdrv_fini(&c->d);
	evloop_destroy(c->loop);
	free(c);
	return 0;
}

/* Lets the loop handle what is pending (the kicks are events it waits on). */
static void run_loop(struct ctx *c)
{
	for (int i = 0; i < 4; i++)
		evloop_run_once(c->loop, 0);
}

static struct virtio_net_stats stats(struct ctx *c)
{
	struct virtio_net_stats s;

	virtio_net_get_stats(c->n, &s);
	return s;
}

static void fill_frame(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* A TX chain: the header split over two descriptors, then the frame in two. */
static int tx_submit(struct ctx *c, const uint8_t *frame, size_t len)
{
	uint64_t g = vdrv_alloc(&c->d, HDR + len, 16);
	uint8_t *p = vdrv_ptr(&c->d, g);
	size_t half = len / 2;
	struct vdrv_buf b[4] = {
		{ .gpa = g, .len = 4 },
		{ .gpa = g + 4, .len = HDR - 4 },
		{ .gpa = g + HDR, .len = (uint32_t)half },
		{ .gpa = g + HDR + half, .len = (uint32_t)(len - half) },
	};

	memset(p, 0, HDR);
	p[0] = 0x5a; /* a header byte the socket backends must not see */
	memcpy(p + HDR, frame, len);
	return vdrv_submit(&c->d, TXQ, b, 4, false);
}

static void test_features_and_config(void **state)
{
	struct ctx *c = *state;
	uint64_t f = vdrv_device_features(&c->d);
	uint8_t mac[6];

	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_MAC));
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_STATUS));
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_MTU));
	/* a socket backend cannot carry the header the offloads need */
	assert_false(f & VIRTIO_BIT(VIRTIO_NET_F_CSUM));
	assert_false(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4));
	assert_int_equal(vdrv_read(&c->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	for (int i = 0; i < 6; i++)
		mac[i] =
			(uint8_t)vdrv_read_w(&c->d, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MAC + i, 1);
	assert_memory_equal(mac, test_mac, 6);
	assert_int_equal(vdrv_read_w(&c->d, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS, 2),
			 VIRTIO_NET_S_LINK_UP);
	assert_int_equal(vdrv_read_w(&c->d, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MTU, 2), 1500);
}

/* The guest's MTU is the backend's (libslirp's 16384), 1500 when it names none. */
static void test_mtu_from_backend(void **state)
{
	struct ctx *c = ctx_new_mtu(false, 16384);

	(void)state;
	assert_int_equal(vdrv_read_w(&c->d, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MTU, 2), 16384);
	teardown((void **)&c);
}

static void test_offloads_with_vnet_hdr(void **state)
{
	struct ctx *c = ctx_new(true);
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
			VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_CSUM);
	uint64_t f = vdrv_device_features(&c->d);
	uint8_t frame[64];

	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_CSUM));
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM));
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6));
	assert_true(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6));
	ctx_start(c, want, 64);
	run_loop(c);
	/* the backend learns what the driver accepted, once */
	assert_int_equal(c->fb->features_calls, 1);
	assert_int_equal(c->fb->features & ~VIRTIO_BIT(VIRTIO_F_VERSION_1),
			 want & ~VIRTIO_BIT(VIRTIO_F_VERSION_1));
	/* and gets the header with the frame */
	fill_frame(frame, sizeof(frame), 3);
	assert_true(tx_submit(c, frame, sizeof(frame)) >= 0);
	vdrv_notify(&c->d, TXQ);
	run_loop(c);
	assert_int_equal(c->fb->nr_sent, 1);
	assert_int_equal(c->fb->last_len, HDR + sizeof(frame));
	assert_int_equal(c->fb->last[0], 0x5a);
	assert_memory_equal(c->fb->last + HDR, frame, sizeof(frame));
	assert_int_equal(c->fb->features_calls, 1);
	teardown((void **)&c);
}

static void test_tx(void **state)
{
	struct ctx *c = *state;
	uint8_t frame[1514];
	uint32_t id, len;
	int head;

	fill_frame(frame, sizeof(frame), 1);
	head = tx_submit(c, frame, sizeof(frame));
	assert_true(head >= 0);
	vdrv_notify(&c->d, TXQ);
	/* nothing happens on the notifying thread: the loop does the work */
	assert_int_equal(c->fb->nr_sent, 0);
	run_loop(c);
	assert_int_equal(c->fb->nr_sent, 1);
	assert_int_equal(c->fb->last_len, sizeof(frame));
	assert_memory_equal(c->fb->last, frame, sizeof(frame));
	assert_int_equal(vdrv_get_used(&c->d, TXQ, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_true(vdrv_ack(&c->d) & VIRTIO_MMIO_INT_VRING);
	assert_int_equal(stats(c).tx_frames, 1);
}

static void test_tx_many_in_order(void **state)
{
	struct ctx *c = *state;
	uint8_t frame[100];

	for (unsigned i = 0; i < 200; i++) {
		fill_frame(frame, sizeof(frame), i);
		frame[0] = (uint8_t)i;
		assert_true(tx_submit(c, frame, sizeof(frame)) >= 0);
		if (i % 3 == 0)
			vdrv_notify(&c->d, TXQ);
		if (i % 50 == 49) {
			uint32_t id, len;

			run_loop(c);
			assert_int_equal(c->fb->nr_sent, i + 1);
			assert_int_equal(c->fb->last[0], (uint8_t)i);
			while (vdrv_get_used(&c->d, TXQ, &id, &len) == 1)
				;
		}
	}
}

static void test_tx_backpressure(void **state)
{
	struct ctx *c = *state;
	uint8_t frame[60];
	uint32_t id, len;

	fill_frame(frame, sizeof(frame), 2);
	c->fb->send_ret = -EAGAIN;
	assert_true(tx_submit(c, frame, sizeof(frame)) >= 0);
	vdrv_notify(&c->d, TXQ);
	run_loop(c);
	/* not taken: the chain stays the guest's, nothing is counted */
	assert_int_equal(vdrv_get_used(&c->d, TXQ, &id, &len), 0);
	assert_int_equal(stats(c).tx_frames, 0);
	/* further kicks wait for the backend, they do not retry in a loop */
	vdrv_notify(&c->d, TXQ);
	run_loop(c);
	assert_int_equal(vdrv_get_used(&c->d, TXQ, &id, &len), 0);
	c->fb->send_ret = 0;
	c->fb->b.port.tx_resume(c->fb->b.port.dev);
	assert_int_equal(c->fb->nr_sent, 1);
	assert_memory_equal(c->fb->last, frame, sizeof(frame));
	assert_int_equal(vdrv_get_used(&c->d, TXQ, &id, &len), 1);
}

static void test_tx_malformed(void **state)
{
	struct ctx *c = *state;
	uint64_t g = vdrv_alloc(&c->d, 70000, 16);
	struct vdrv_buf short_hdr = { .gpa = g, .len = 8 };
	struct vdrv_buf too_long[2] = { { .gpa = g, .len = HDR },
					{ .gpa = g + HDR, .len = NET_FRAME_MAX + 1 } };
	uint8_t frame[60];
	uint32_t id, len;

	assert_true(vdrv_submit(&c->d, TXQ, &short_hdr, 1, false) >= 0);
	assert_true(vdrv_submit(&c->d, TXQ, too_long, 2, false) >= 0);
	fill_frame(frame, sizeof(frame), 9);
	assert_true(tx_submit(c, frame, sizeof(frame)) >= 0);
	vdrv_notify(&c->d, TXQ);
	run_loop(c);
	/* both bad ones dropped and counted, given back; the good one behind them goes out */
	assert_int_equal(stats(c).tx_malformed, 2);
	assert_int_equal(c->fb->nr_sent, 1);
	assert_memory_equal(c->fb->last, frame, sizeof(frame));
	for (int i = 0; i < 3; i++)
		assert_int_equal(vdrv_get_used(&c->d, TXQ, &id, &len), 1);
	assert_false(vdrv_status(&c->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_tx_chain_longer_than_queue(void **state)
{
	struct ctx *c = ctx_new(false);
	uint64_t g;
	uint8_t frame[60];

	ctx_start(c, VIRTIO_BIT(VIRTIO_F_VERSION_1), 8);
	g = vdrv_alloc(&c->d, 64, 16);
	/* a loop: 0 -> 1 -> ... -> 7 -> 0, more descriptors than the queue has */
	for (uint16_t i = 0; i < 8; i++)
		vdrv_desc(&c->d, TXQ, i, g, 16, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % 8));
	vdrv_avail_publish(&c->d, TXQ, 0);
	vdrv_notify(&c->d, TXQ);
	run_loop(c);
	assert_int_equal(c->fb->nr_sent, 0);
	assert_int_equal(stats(c).tx_malformed, 1);
	assert_int_equal(stats(c).ring_errors, 1);
	assert_true(vdrv_status(&c->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* a reset brings it back */
	ctx_start(c, VIRTIO_BIT(VIRTIO_F_VERSION_1), 8);
	fill_frame(frame, sizeof(frame), 4);
	assert_true(tx_submit(c, frame, sizeof(frame)) >= 0);
	vdrv_notify(&c->d, TXQ);
	run_loop(c);
	assert_int_equal(c->fb->nr_sent, 1);
	teardown((void **)&c);
}

/* Posts n RX buffers of size bytes each; returns the first one's address. */
static uint64_t rx_post(struct ctx *c, unsigned n, uint32_t size)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < n; i++) {
		struct vdrv_buf b = { .gpa = vdrv_alloc(&c->d, size, 16),
				      .len = size,
				      .write = true };

		memset(vdrv_ptr(&c->d, b.gpa), 0xee, size);
		if (!i)
			first = b.gpa;
		assert_true(vdrv_submit(&c->d, RXQ, &b, 1, false) >= 0);
	}
	vdrv_notify(&c->d, RXQ);
	run_loop(c);
	return first;
}

static int inject(struct ctx *c, const uint8_t *frame, size_t len)
{
	return c->fb->b.port.receive(c->fb->b.port.dev, frame, len);
}

static void test_rx(void **state)
{
	struct ctx *c = *state;
	uint64_t buf = rx_post(c, 1, BUF);
	uint8_t frame[100], *p = vdrv_ptr(&c->d, buf);
	uint32_t id, len;

	fill_frame(frame, sizeof(frame), 5);
	assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	assert_int_equal(len, HDR + sizeof(frame));
	/* a zero header but num_buffers, then the frame */
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(get_le16(p + 10), 1);
	assert_memory_equal(p + HDR, frame, sizeof(frame));
	assert_int_equal(p[HDR + sizeof(frame)], 0xee);
	assert_true(vdrv_ack(&c->d) & VIRTIO_MMIO_INT_VRING);
	assert_int_equal(stats(c).rx_frames, 1);
}

static void test_rx_mergeable_64k(void **state)
{
	struct ctx *c = *state;
	size_t flen = 65536, total = HDR + flen;
	unsigned need = (unsigned)((total + BUF - 1) / BUF);
	uint8_t *frame = malloc(flen), *got = malloc(total);
	uint64_t bufs[64];
	unsigned nused = 0;
	size_t off = 0;
	uint32_t id, len;

	assert_int_equal(need, 43);
	for (unsigned i = 0; i < 50; i++)
		bufs[i] = rx_post(c, 1, BUF);
	fill_frame(frame, flen, 6);
	assert_int_equal(inject(c, frame, flen), 0);
	while (vdrv_get_used(&c->d, RXQ, &id, &len) == 1) {
		/* buffers were posted in order from head 0, so id i is bufs[i] */
		assert_int_equal(id, nused);
		assert_true(len <= BUF);
		memcpy(got + off, vdrv_ptr(&c->d, bufs[id]), len);
		off += len;
		nused++;
	}
	assert_int_equal(nused, need);
	assert_int_equal(off, total);
	assert_int_equal(get_le16(got + 10), need);
	assert_memory_equal(got + HDR, frame, flen);
	/* the 7 buffers left take the next frame */
	assert_int_equal(inject(c, frame, 100), 0);
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	assert_int_equal(id, need);
	assert_int_equal(get_le16((uint8_t *)vdrv_ptr(&c->d, bufs[need]) + 10), 1);
	free(frame);
	free(got);
}

static void test_rx_mergeable_waits_for_enough(void **state)
{
	struct ctx *c = *state;
	uint8_t *frame = malloc(8000);
	uint32_t id, len;

	fill_frame(frame, 8000, 8);
	rx_post(c, 2, BUF); /* 3052 bytes: not enough for 8012 */
	assert_int_equal(inject(c, frame, 8000), 0);
	/* nothing delivered, nothing consumed: it waits in the device */
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 0);
	assert_int_equal(stats(c).rx_queued, 1);
	rx_post(c, 4, BUF);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	assert_int_equal(stats(c).rx_queued, 0);
	assert_int_equal(stats(c).rx_frames, 1);
	free(frame);
}

static void test_rx_too_big_without_mrg(void **state)
{
	struct ctx *c = *state;
	uint64_t buf = rx_post(c, 1, BUF);
	uint8_t frame[2000];
	uint32_t id, len;

	fill_frame(frame, sizeof(frame), 7);
	/* one chain per frame without MRG_RXBUF: this one can never fit */
	assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	assert_int_equal(stats(c).rx_dropped, 1);
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 0);
	/* the buffer is still there for a frame that fits */
	assert_int_equal(inject(c, frame, 1000), 0);
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	assert_int_equal(len, HDR + 1000);
	assert_memory_equal((uint8_t *)vdrv_ptr(&c->d, buf) + HDR, frame, 1000);
	/* and an oversized frame from a backend is dropped too */
	assert_int_equal(inject(c, frame, NET_FRAME_MAX + 1), 0);
	assert_int_equal(stats(c).rx_dropped, 2);
}

static void test_rx_bad_buffer(void **state)
{
	struct ctx *c = *state;
	uint64_t g = vdrv_alloc(&c->d, 64, 16);
	struct vdrv_buf tiny = { .gpa = g, .len = 4, .write = true };
	struct vdrv_buf readable = { .gpa = g + 16, .len = 32 };
	uint8_t frame[80];
	uint32_t id, len;

	assert_true(vdrv_submit(&c->d, RXQ, &tiny, 1, false) >= 0);
	assert_true(vdrv_submit(&c->d, RXQ, &readable, 1, false) >= 0);
	rx_post(c, 1, BUF);
	fill_frame(frame, sizeof(frame), 10);
	assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	/* the two useless buffers come back empty, the frame lands in the third */
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	assert_int_equal(len, HDR + sizeof(frame));
	assert_int_equal(stats(c).rx_bad_buffers, 2);
	assert_false(vdrv_status(&c->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_rx_starvation(void **state)
{
	struct ctx *c = *state;
	uint8_t frame[200];
	unsigned sent = 0, got = 0;
	uint32_t id, len;
	int64_t t0;
	int r;

	/* no buffers: frames wait in a bounded queue, then the backend is told to wait */
	for (;;) {
		fill_frame(frame, sizeof(frame), sent);
		frame[0] = (uint8_t)sent;
		r = inject(c, frame, sizeof(frame));
		if (r)
			break;
		sent++;
		assert_true(sent <= VIRTIO_NET_RX_QUEUE_FRAMES);
	}
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(sent, VIRTIO_NET_RX_QUEUE_FRAMES);
	assert_int_equal(stats(c).rx_queued, sent);
	/* nothing spins meanwhile: once the start-up kicks are handled, the loop sleeps */
	run_loop(c);
	t0 = evloop_now_ms();
	evloop_run_once(c->loop, 60);
	assert_true(evloop_now_ms() - t0 >= 50);
	assert_int_equal(c->fb->rx_resumes, 0);
	/* 40 buffers: 40 frames delivered in order; the queue is below half, the backend resumes */
	rx_post(c, 40, BUF);
	while (vdrv_get_used(&c->d, RXQ, &id, &len) == 1) {
		assert_int_equal(len, HDR + sizeof(frame));
		got++;
	}
	assert_int_equal(got, 40);
	assert_int_equal(stats(c).rx_queued, sent - 40);
	assert_int_equal(c->fb->rx_resumes, 1);
	/* frames now queue behind the waiting ones, in order */
	frame[0] = 0xab;
	assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	rx_post(c, 100, BUF);
	while (vdrv_get_used(&c->d, RXQ, &id, &len) == 1)
		got++;
	assert_int_equal(got, sent + 1);
	assert_int_equal(stats(c).rx_queued, 0);
	assert_int_equal(stats(c).rx_frames, sent + 1);
}

static void test_rx_order_after_starvation(void **state)
{
	struct ctx *c = *state;
	uint64_t bufs[8];
	uint8_t frame[60];
	uint32_t id, len;

	for (unsigned i = 0; i < 5; i++) {
		memset(frame, (int)i, sizeof(frame));
		assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	}
	for (unsigned i = 0; i < 5; i++)
		bufs[i] = rx_post(c, 1, BUF);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
		assert_int_equal(((uint8_t *)vdrv_ptr(&c->d, bufs[id]))[HDR], i);
	}
}

static void test_reset_drops_queued(void **state)
{
	struct ctx *c = *state;
	uint8_t frame[60] = { 1 };

	for (unsigned i = 0; i < VIRTIO_NET_RX_QUEUE_FRAMES; i++)
		assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	assert_int_equal(inject(c, frame, sizeof(frame)), -EAGAIN);
	ctx_start(c, VIRTIO_BIT(VIRTIO_F_VERSION_1), 256);
	run_loop(c);
	/* stale frames are gone and the backend was told to read again */
	assert_int_equal(stats(c).rx_queued, 0);
	assert_int_equal(c->fb->rx_resumes, 1);
}

static void test_link_status(void **state)
{
	struct ctx *c = *state;
	uint32_t gen = vdrv_read(&c->d, VIRTIO_MMIO_CONFIG_GENERATION);

	vdrv_ack(&c->d);
	c->fb->b.port.link(c->fb->b.port.dev, false);
	assert_int_equal(vdrv_read_w(&c->d, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS, 2), 0);
	assert_true(atomic_load(&c->d.level));
	assert_int_equal(vdrv_ack(&c->d), VIRTIO_MMIO_INT_CONFIG);
	assert_int_not_equal(vdrv_read(&c->d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	/* the same state again is no change and no interrupt */
	c->fb->b.port.link(c->fb->b.port.dev, false);
	assert_false(atomic_load(&c->d.level));
	c->fb->b.port.link(c->fb->b.port.dev, true);
	assert_int_equal(vdrv_read_w(&c->d, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS, 2),
			 VIRTIO_NET_S_LINK_UP);
	assert_int_equal(vdrv_ack(&c->d), VIRTIO_MMIO_INT_CONFIG);
}

static void test_rx_before_driver_ok(void **state)
{
	struct ctx *c = ctx_new(false);
	uint8_t frame[60] = { 7 };
	uint32_t id, len;

	/* a frame before the driver is up waits for it */
	assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	ctx_start(c, VIRTIO_BIT(VIRTIO_F_VERSION_1), 16);
	run_loop(c);
	/* the reset at negotiation dropped it: a new driver does not get the old one's frames */
	assert_int_equal(stats(c).rx_queued, 0);
	inject(c, frame, sizeof(frame));
	rx_post(c, 1, BUF);
	assert_int_equal(vdrv_get_used(&c->d, RXQ, &id, &len), 1);
	teardown((void **)&c);
}

/* As in a VM: the loop on its own thread, the guest's kicks and interrupts across threads. */
static void test_loop_thread(void **state)
{
	struct ctx *c = *state;
	uint8_t frame[300];
	uint32_t id, len, isr;
	struct errbuf e;

	assert_int_equal(evloop_start(c->loop, &e), 0);
	fill_frame(frame, sizeof(frame), 12);
	assert_true(tx_submit(c, frame, sizeof(frame)) >= 0);
	vdrv_notify(&c->d, TXQ);
	assert_int_equal(vdrv_wait_used(&c->d, TXQ, &id, &len, 2000), 0);
	assert_int_equal(stats(c).tx_frames, 1);
	assert_int_equal(vdrv_wait_irq(&c->d, 2000, &isr), 0);
	assert_true(isr & VIRTIO_MMIO_INT_VRING);
	/* a host frame waits for buffers the guest posts later, from its own thread */
	assert_int_equal(inject(c, frame, sizeof(frame)), 0);
	{
		struct vdrv_buf b = { .gpa = vdrv_alloc(&c->d, BUF, 16),
				      .len = BUF,
				      .write = true };

		assert_true(vdrv_submit(&c->d, RXQ, &b, 1, false) >= 0);
		vdrv_notify(&c->d, RXQ);
		assert_int_equal(vdrv_wait_used(&c->d, RXQ, &id, &len, 2000), 0);
		assert_int_equal(len, HDR + sizeof(frame));
		assert_memory_equal((uint8_t *)vdrv_ptr(&c->d, b.gpa) + HDR, frame, sizeof(frame));
	}
	evloop_stop(c->loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features_and_config, setup, teardown),
		cmocka_unit_test(test_mtu_from_backend),
		cmocka_unit_test(test_offloads_with_vnet_hdr),
		cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_many_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_malformed, setup, teardown),
		cmocka_unit_test(test_tx_chain_longer_than_queue),
		cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable_64k, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable_waits_for_enough, setup_mrg,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_big_without_mrg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_bad_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_starvation, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_order_after_starvation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_status, setup, teardown),
		cmocka_unit_test(test_rx_before_driver_ok),
		cmocka_unit_test_setup_teardown(test_loop_thread, setup, teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
