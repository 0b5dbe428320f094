// SPDX-License-Identifier: MIT
/*
 * virtio-net through the virtio-mmio transport, guest -> device -> backend and back: rings,
 * TX chains and RX buffers from the input, host frames of any length, link changes and a backend
 * that refuses (-EAGAIN) and resumes. The event loop runs on this thread after each operation,
 * until neither queue kick is pending.
 *
 * Input: u8 flags (bit 0 the backend keeps virtio-net headers (tap), bit 1 EVENT_IDX, bit 2
 * INDIRECT_DESC, bit 3 MRG_RXBUF, bit 4 offloads, bits 5-7 all set: the device is destroyed at
 * the end instead of reset), u8 queue size (2^(n % 9), both queues), u16 x 6 ring offsets in RAM
 * (RX desc, avail, used; TX desc, avail, used); then up to 128 operations (restarts after the
 * 8th are skipped):
 *   0 patch    u16 offset, u8 len, bytes: the driver writes RAM
 *   1 tx       u8 shape (segments 1..8, indirect, no notify), per segment u16 length (the
 *              first two may hold the header), then up to 16 bytes of it
 *   2 rx       u8 count (1..16), u16 length, u8 shape (segments 1..3, readable first, indirect)
 *   3 notify   u8 queue
 *   4 ack      InterruptStatus read and acknowledged
 *   5 restart  reset and set up again
 *   6 register u8 register (offset / 4), u32 value
 *   7 frame    u16 length (up to 65,600), u8 fill: a frame from the host
 *   8 link     u8 up
 *   9 backend  u8: bit 0 refuse sends from now on, bit 1 tx_resume, bit 2 rx_resume
 * Checked: every byte the backend gets lies in guest RAM (or is the device's header copy), a
 * frame is never over 65,550 bytes (+ header), the line equals InterruptStatus != 0, the RX
 * queue stays bounded.
 */
#include <errno.h>
#include <poll.h>

#include "devices/virtio/net.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/virtio_harness.h"

enum {
	OP_PATCH,
	OP_TX,
	OP_RX,
	OP_NOTIFY,
	OP_ACK,
	OP_RESTART,
	OP_REGISTER,
	OP_FRAME,
	OP_LINK,
	OP_BACKEND,
	OP_NR
};

struct fz_be {
	struct net_backend b;
	int send_ret;
};

/*
 * libFuzzer rewards running an edge 2, 4, 8, ... 128 times as new features, so without a bound
 * its inputs grew into hundreds of restarts (each a full probe, 7.5 us) that reach no new code.
 */
#define NET_OPS_MAX	 128
#define NET_RESTARTS_MAX 8

struct fz_net_driver {
	struct fz_driver q[2];
	uint16_t desc_next[2];
	uint32_t data_next;
	unsigned restarts;
};

/*
 * One device per kind of backend (without and with virtio-net headers), made on first use and
 * reset through the transport after each input: creating one per input (a 20 KiB calloc that
 * ASan fills, two eventfds registered and unregistered) took a fifth of the time.
 */
struct fz_net_dev {
	struct fz_be *be;
	struct virtio_net *net;
	struct virtio_mmio *vm;
};

static struct fz_virtio *v;
static struct evloop *loop;
static struct fz_net_dev devs[2];
static struct fz_be *be;
static struct virtio_net *net;
static uint8_t frame_buf[65600];

static bool in_ram(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)v->ram;

	return a >= base && a - base <= FZ_RAM_SIZE && len <= FZ_RAM_SIZE - (a - base);
}

static int be_send(struct net_backend *b, const struct iovec *iov, unsigned iovcnt)
{
	size_t total = 0;

	for (unsigned i = 0; i < iovcnt; i++) {
		/* the header of a vnet backend is the device's own copy, not guest memory */
		if (!(i == 0 && b->vnet_hdr))
			FUZZ_CHECK(in_ram(iov[i].iov_base, iov[i].iov_len));
		total += iov[i].iov_len;
	}
	FUZZ_CHECK(total <= NET_FRAME_MAX + (b->vnet_hdr ? NET_VNET_HDR_LEN : 0));
	FUZZ_CHECK(total >= 14);
	return ((struct fz_be *)b)->send_ret;
}

static void be_destroy(struct net_backend *b)
{
	free(b);
}

static const struct net_backend_ops be_ops = {
	.send = be_send,
	.destroy = be_destroy,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct errbuf e;

	v = fz_virtio_init();
	if (evloop_create(&loop, &e) < 0)
		abort();
	return 0;
}

/*
 * The device's only descriptors in the loop are its two queue kicks (the fake backend has none,
 * and nothing arms a timer), so the loop has work exactly while one of them is signalled: run it
 * until neither is. A fixed number of passes cost three epoll_waits per operation, mostly idle,
 * and could stop before a TX queue longer than the device's budget was drained.
 */
static bool kick_pending(void)
{
	struct pollfd p[2];

	for (unsigned q = 0; q < 2; q++)
		p[q] = (struct pollfd){ .fd = virtio_mmio_queue_notify_fd(v->vm, q),
					.events = POLLIN };
	return poll(p, 2, 0) > 0;
}

static void run_loop(void)
{
	while (kick_pending())
		evloop_run_once(loop, 0);
}

static void ram_put(uint64_t gpa, const void *src, size_t len)
{
	void *p = guest_mem_ptr(&v->gm, gpa, len);

	if (p)
		memcpy(p, src, len);
}

static void desc_put(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[VIRTQ_DESC_SIZE];

	put_le64(d, addr);
	put_le32(d + 8, len);
	put_le16(d + 12, flags);
	put_le16(d + 14, next);
	ram_put(gpa, d, sizeof(d));
}

static uint64_t data_alloc(struct fz_net_driver *drv, uint32_t *len)
{
	uint32_t off;

	*len = (uint32_t)min_u64(*len, FZ_RAM_SIZE - FZ_DATA_OFF);
	if (drv->data_next < FZ_DATA_OFF || drv->data_next + *len > FZ_RAM_SIZE)
		drv->data_next = FZ_DATA_OFF;
	off = drv->data_next;
	drv->data_next = (uint32_t)align_up(off + *len, 16);
	return FZ_RAM_GPA + off;
}

/* A chain of n buffers (first nread device-readable) made available on queue q. */
static void chain_submit(struct fz_net_driver *drv, unsigned q, const uint64_t *addr,
			 const uint32_t *len, unsigned n, unsigned nread, bool indirect)
{
	struct fz_driver *d = &drv->q[q];
	uint16_t head = drv->desc_next[q] % d->num, i = head;
	uint8_t b[2];

	if (indirect) {
		uint32_t tlen = n * VIRTQ_DESC_SIZE;
		uint64_t table = data_alloc(drv, &tlen);

		for (unsigned k = 0; k < n; k++)
			desc_put(table + k * VIRTQ_DESC_SIZE, addr[k], len[k],
				 (uint16_t)((k >= nread ? VIRTQ_DESC_F_WRITE : 0) |
					    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
				 (uint16_t)(k + 1));
		desc_put(d->desc + (uint64_t)head * VIRTQ_DESC_SIZE, table, tlen,
			 VIRTQ_DESC_F_INDIRECT, 0);
		drv->desc_next[q]++;
	} else {
		for (unsigned k = 0; k < n; k++) {
			uint16_t next = (uint16_t)((i + 1) % d->num);

			desc_put(d->desc + (uint64_t)i * VIRTQ_DESC_SIZE, addr[k], len[k],
				 (uint16_t)((k >= nread ? VIRTQ_DESC_F_WRITE : 0) |
					    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
				 next);
			i = next;
			drv->desc_next[q]++;
		}
	}
	put_le16(b, head);
	ram_put(d->avail + 4 + 2ULL * (d->avail_idx % d->num), b, 2);
	d->avail_idx++;
	put_le16(b, d->avail_idx);
	ram_put(d->avail + 2, b, 2);
}

static void op_tx(struct fz_net_driver *drv, struct fuzz_in *in)
{
	uint8_t shape = fz_u8(in);
	unsigned n = 1 + (shape & 7);
	uint64_t addr[8];
	uint32_t len[8];

	for (unsigned k = 0; k < n; k++) {
		size_t got;
		const uint8_t *src;

		len[k] = fz_u16(in);
		addr[k] = data_alloc(drv, &len[k]);
		src = fz_take(in, min_u64(len[k], 16), &got);
		ram_put(addr[k], src, got);
	}
	chain_submit(drv, VIRTIO_NET_TXQ, addr, len, n, n, shape & 8);
	if (!(shape & 16)) {
		fz_mmio_write(v, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_NET_TXQ);
		run_loop();
	}
}

static void op_rx(struct fz_net_driver *drv, struct fuzz_in *in)
{
	unsigned count = 1 + fz_u8(in) % 16;
	uint32_t size = fz_u16(in);
	uint8_t shape = fz_u8(in);
	unsigned n = 1 + shape % 3, nread = (shape >> 2) & 1;

	for (unsigned c = 0; c < count; c++) {
		uint64_t addr[3];
		uint32_t len[3];

		for (unsigned k = 0; k < n; k++) {
			len[k] = size / n;
			addr[k] = data_alloc(drv, &len[k]);
		}
		chain_submit(drv, VIRTIO_NET_RXQ, addr, len, n, nread, shape & 8);
	}
	fz_mmio_write(v, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_NET_RXQ);
	run_loop();
}

static void op_frame(struct fuzz_in *in)
{
	size_t len = fz_u16(in) + (fz_u8(in) & 1 ? 65536 - 1000 : 0);
	struct virtio_net_stats s;

	len = min_u64(len, sizeof(frame_buf));
	memset(frame_buf, fz_u8(in), len);
	be->b.port.receive(be->b.port.dev, frame_buf, len);
	virtio_net_get_stats(net, &s);
	FUZZ_CHECK(s.rx_queued <= VIRTIO_NET_RX_QUEUE_FRAMES);
}

static void status_or(uint32_t bits)
{
	fz_mmio_write(v, VIRTIO_MMIO_STATUS, fz_mmio_read(v, VIRTIO_MMIO_STATUS) | bits);
}

static void write_addr(uint64_t lo_reg, uint64_t gpa)
{
	fz_mmio_write(v, lo_reg, (uint32_t)gpa);
	fz_mmio_write(v, lo_reg + 4, (uint32_t)(gpa >> 32));
}

/* Linux's order, both queues before DRIVER_OK. */
static void driver_start(struct fz_net_driver *drv, uint64_t features)
{
	fz_mmio_write(v, VIRTIO_MMIO_STATUS, 0);
	status_or(VIRTIO_STATUS_ACKNOWLEDGE);
	status_or(VIRTIO_STATUS_DRIVER);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	status_or(VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		struct fz_driver *d = &drv->q[q];

		d->avail_idx = 0;
		drv->desc_next[q] = 0;
		fz_mmio_write(v, VIRTIO_MMIO_QUEUE_SEL, q);
		fz_mmio_write(v, VIRTIO_MMIO_QUEUE_NUM, d->num);
		write_addr(VIRTIO_MMIO_QUEUE_DESC_LOW, d->desc);
		write_addr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, d->avail);
		write_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, d->used);
		fz_mmio_write(v, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	status_or(VIRTIO_STATUS_DRIVER_OK);
	drv->data_next = FZ_DATA_OFF;
	run_loop();
}

static void net_op(struct fz_net_driver *drv, uint64_t features, struct fuzz_in *in)
{
	uint32_t isr;
	uint8_t reg, b;

	switch (fz_u8(in) % OP_NR) {
	case OP_PATCH:
		fz_ram_patch(v, in);
		break;
	case OP_TX:
		op_tx(drv, in);
		break;
	case OP_RX:
		op_rx(drv, in);
		break;
	case OP_NOTIFY:
		fz_mmio_write(v, VIRTIO_MMIO_QUEUE_NOTIFY, fz_u8(in));
		run_loop();
		break;
	case OP_ACK:
		isr = fz_mmio_read(v, VIRTIO_MMIO_INTERRUPT_STATUS);
		fz_mmio_write(v, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		FUZZ_CHECK(!v->level);
		break;
	case OP_RESTART:
		if (++drv->restarts <= NET_RESTARTS_MAX)
			driver_start(drv, features);
		break;
	case OP_REGISTER:
		reg = fz_u8(in);
		fz_mmio_write(v, (uint64_t)reg * 4, fz_u32(in));
		run_loop();
		break;
	case OP_FRAME:
		op_frame(in);
		break;
	case OP_LINK:
		be->b.port.link(be->b.port.dev, fz_u8(in) & 1);
		break;
	default:
		b = fz_u8(in);
		be->send_ret = b & 1 ? -EAGAIN : 0;
		if (b & 2)
			be->b.port.tx_resume(be->b.port.dev);
		run_loop();
		break;
	}
	fz_irq_check(v);
}

static uint64_t net_features(uint8_t flags)
{
	uint64_t f = fz_device_features(v);

	if (!(flags & 2))
		f &= ~VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (!(flags & 4))
		f &= ~VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	if (!(flags & 8))
		f &= ~VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	if (!(flags & 16))
		f &= ~(VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
		       VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
		       VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6));
	return f;
}

static struct fz_net_dev *dev_get(bool vnet_hdr)
{
	struct virtio_net_params p = { .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };
	struct fz_net_dev *d = &devs[vnet_hdr];
	struct errbuf e;

	if (d->net)
		return d;
	d->be = calloc(1, sizeof(*d->be));
	if (!d->be)
		abort();
	d->be->b = (struct net_backend){ .ops = &be_ops, .loop = loop, .name = "fuzz" };
	if (vnet_hdr) {
		d->be->b.vnet_hdr = true;
		d->be->b.offloads = ~0ULL;
	}
	d->net = virtio_net_create(&p, &d->be->b, loop, &v->gm, &v->irq, &e);
	FUZZ_CHECK(d->net);
	d->vm = virtio_net_mmio(d->net);
	return d;
}

/*
 * Back to the state of a new device: the reset empties the RX queue and the rings, a resume
 * clears a send the backend refused (nothing is ready to send now), the link comes up again
 * (before DRIVER_OK that raises no interrupt), and the loop takes the kicks the reset left.
 * What stays is only counters and the config generation, which no operation reads.
 */
static void dev_reset(void)
{
	fz_mmio_write(v, VIRTIO_MMIO_STATUS, 0);
	be->send_ret = 0;
	be->b.port.tx_resume(be->b.port.dev);
	be->b.port.link(be->b.port.dev, true);
	run_loop();
	FUZZ_CHECK(!fz_mmio_read(v, VIRTIO_MMIO_INTERRUPT_STATUS) && !v->level);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t flags = fz_u8(&in), num_sel = fz_u8(&in);
	struct fz_net_driver drv = { 0 };
	struct fz_net_dev *d;
	uint64_t features;

	for (unsigned q = 0; q < 2; q++) {
		drv.q[q].num = (uint16_t)(1u << (num_sel % 9));
		drv.q[q].desc = FZ_RAM_GPA + fz_u16(&in);
		drv.q[q].avail = FZ_RAM_GPA + fz_u16(&in);
		drv.q[q].used = FZ_RAM_GPA + fz_u16(&in);
	}
	memset(v->ram, 0, FZ_RAM_SIZE);
	irq_line_init(&v->irq, v->irq.set_level, v, 33);
	v->level = false;
	d = dev_get(flags & 1);
	be = d->be;
	net = d->net;
	v->vm = d->vm;
	features = net_features(flags);
	driver_start(&drv, features);
	for (unsigned i = 0; i < NET_OPS_MAX && !fz_empty(&in); i++)
		net_op(&drv, features, &in);
	if ((flags & 0xe0) == 0xe0) {
		/* the teardown, with whatever the input left queued or refused */
		fz_virtio_destroy(v);
		*d = (struct fz_net_dev){ 0 };
	} else {
		dev_reset();
	}
	return 0;
}
