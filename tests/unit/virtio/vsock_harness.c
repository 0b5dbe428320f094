// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "tests/unit/sock_compat.h"
#include "tests/unit/virtio/vsock_harness.h"
#include "util/compiler.h"

#define VT_RX_SLOT (44u + VT_RX_DATA)
#define VT_TX_SLOT (44u + 64u * 1024)
#define VT_RAM	   (64ull << 20)

static void die(const char *what)
{
	fprintf(stderr, "vsock harness: %s\n", what);
	abort();
}

/*
 * The harness plays the guest's driver, so it lays out the header itself (offsets from the
 * virtio spec) instead of calling the device's vsock_hdr_encode/decode: a wrong offset there
 * would otherwise cancel out and every test would still pass.
 */
void vt_hdr_put(uint8_t raw[44], const struct vsock_hdr *h)
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

void vt_hdr_get(struct vsock_hdr *h, const uint8_t raw[44])
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

struct vsock_hdr vt_hdr(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t fwd_cnt)
{
	return (struct vsock_hdr){ .src_cid = VT_CID,
				   .dst_cid = 2,
				   .src_port = src_port,
				   .dst_port = dst_port,
				   .type = 1,
				   .op = op,
				   .buf_alloc = VT_GUEST_BUF,
				   .fwd_cnt = fwd_cnt };
}

void vt_setup(struct vt *t, const struct vt_opts *o)
{
	struct vsock_mux_params mp = { .guest_cid = VT_CID,
				       .max_conns = o->max_conns,
				       .timeout_ms = o->timeout_ms };
	struct virtio_vsock_params vp = { .guest_cid = VT_CID, .be_ops = &vsock_mux_ops };
	struct errbuf e;

	memset(t, 0, sizeof(*t));
	t->rx_refill = true;
	snprintf(t->dir, sizeof(t->dir), "/tmp/vsock-test-XXXXXX");
	if (!mkdtemp(t->dir))
		die("mkdtemp");
	snprintf(t->path, sizeof(t->path), "%s/v.sock", t->dir);
	if (vdrv_init(&t->d, VT_RAM) || evloop_create(&t->loop, &e))
		die("init");
	mp.path = t->path;
	mp.loop = vp.loop = t->loop;
	if (vsock_mux_create(&mp, &t->mux, &e) < 0)
		die(e.msg);
	vp.be = t->mux;
	t->v = virtio_vsock_create(&vp, &t->d.gm, &t->d.irq, &e);
	if (!t->v)
		die(e.msg);
	t->d.vm = virtio_vsock_mmio(t->v);
	if (vdrv_negotiate(&t->d,
			   VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)))
		die("negotiate");
	for (unsigned q = 0; q < 3; q++)
		if (vdrv_queue_setup(&t->d, q, VT_QSIZE))
			die("queue setup");
	vdrv_driver_ok(&t->d);
	t->rx_area = vdrv_alloc(&t->d, (uint64_t)VT_QSIZE * VT_RX_SLOT, 64);
	t->tx_area = vdrv_alloc(&t->d, (uint64_t)VT_QSIZE * VT_TX_SLOT, 64);
	if (o->rx_buffers)
		vt_rx_post(t, o->rx_buffers);
	vt_pump(t, 2);
}

void vt_teardown(struct vt *t)
{
	char cmd[128];

	vdrv_fini(&t->d); /* destroys the device and, with it, the muxer */
	evloop_destroy(t->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "vsock harness: cannot remove %s\n", t->dir);
}

void vt_pump(struct vt *t, unsigned rounds)
{
	for (unsigned i = 0; i < rounds; i++)
		evloop_run_once(t->loop, 0);
}

void vt_run_for(struct vt *t, unsigned ms)
{
	int64_t end = evloop_now_ms() + ms;

	while (evloop_now_ms() < end)
		evloop_run_once(t->loop, 10);
}

static void vt_rx_post_one(struct vt *t)
{
	uint16_t head = t->d.vq[0].free_head;
	struct vdrv_buf b = { .gpa = t->rx_area + (uint64_t)head * VT_RX_SLOT,
			      .len = VT_RX_SLOT,
			      .write = true };

	if (vdrv_submit(&t->d, 0, &b, 1, false) != head)
		die("rx submit");
}

void vt_rx_post(struct vt *t, unsigned n)
{
	for (unsigned i = 0; i < n && t->d.vq[0].nr_free; i++)
		vt_rx_post_one(t);
	vdrv_kick(&t->d, 0);
}

int vt_rx(struct vt *t, struct vsock_hdr *h, void *data, size_t cap)
{
	uint32_t id, len;
	const uint8_t *p;

	if (!vdrv_get_used(&t->d, 0, &id, &len))
		return 0;
	if (id >= VT_QSIZE || len < 44 || len > VT_RX_SLOT)
		die("bad rx used element");
	p = vdrv_ptr(&t->d, t->rx_area + (uint64_t)id * VT_RX_SLOT);
	vt_hdr_get(h, p);
	if (h->len != len - 44)
		die("rx used length disagrees with the header");
	if (data)
		memcpy(data, p + 44, min_u64(cap, h->len));
	if (t->rx_refill)
		vt_rx_post(t, 1);
	return 1;
}

static void vt_tx_reclaim(struct vt *t)
{
	uint32_t id, len;

	while (vdrv_get_used(&t->d, 1, &id, &len))
		;
}

static uint16_t vt_tx_head(struct vt *t, unsigned descs)
{
	vt_tx_reclaim(t);
	while (t->d.vq[1].nr_free < descs) {
		vt_pump(t, 1);
		vt_tx_reclaim(t);
	}
	return t->d.vq[1].free_head;
}

void vt_tx(struct vt *t, const struct vsock_hdr *h, const void *data, uint32_t n)
{
	unsigned descs = n && !t->tx_one_desc ? 2 : 1;
	uint16_t head = vt_tx_head(t, descs);
	uint64_t slot = t->tx_area + (uint64_t)head * VT_TX_SLOT;
	struct vdrv_buf b[2] = { { .gpa = slot, .len = 44 }, { .gpa = slot + 44, .len = n } };

	if (n > 64u * 1024)
		die("tx packet too large for a slot");
	vt_hdr_put(vdrv_ptr(&t->d, slot), h);
	if (n)
		memcpy(vdrv_ptr(&t->d, slot + 44), data, n);
	if (descs == 1)
		b[0].len = 44 + n;
	if (vdrv_submit(&t->d, 1, b, descs, false) != head)
		die("tx submit");
	vdrv_kick(&t->d, 1);
}

void vt_tx_raw(struct vt *t, const void *bytes, uint32_t len)
{
	uint16_t head = vt_tx_head(t, 1);
	uint64_t slot = t->tx_area + (uint64_t)head * VT_TX_SLOT;
	struct vdrv_buf b = { .gpa = slot, .len = len };

	memcpy(vdrv_ptr(&t->d, slot), bytes, len);
	if (vdrv_submit(&t->d, 1, &b, 1, false) != head)
		die("tx submit");
	vdrv_kick(&t->d, 1);
}

static int vt_unix(const char *path, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = tsock_socket(AF_UNIX, SOCK_STREAM | TSOCK_CLOEXEC);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0)
		return -1;
	if (listening ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096) :
			connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

int vt_unix_connect(const char *path)
{
	return vt_unix(path, false);
}

int vt_unix_listen(const char *path)
{
	return vt_unix(path, true);
}

void vt_port_path(const struct vt *t, uint32_t port, char *out, size_t len)
{
	snprintf(out, len, "%s_%u", t->path, port);
}

struct vsock_mux_stats vt_mux_stats(struct vt *t)
{
	struct vsock_mux_stats s;

	vsock_mux_stats(t->mux, &s);
	return s;
}

struct vsock_dev_stats vt_dev_stats(struct vt *t)
{
	struct vsock_dev_stats s;

	virtio_vsock_stats(t->v, &s);
	return s;
}
