// SPDX-License-Identifier: MIT
/*
 * virtio-vsock with its real unix-socket host side: guest packets shaped by the input (every
 * header field, data lengths, split and short chains), rx buffers of any size, ring corruption,
 * driver resets, and host peers that connect, write, half-close and close, with the event loop
 * run in between on this thread. Host peers are real unix sockets in a temporary directory:
 * PATH (host-initiated) and listeners on PATH_1 and PATH_2 (guest-initiated).
 *
 * Input: operations until the end, each a u8 selector then its fields:
 *   0 packet   u8 shape, u8 src port, u8 dst port, u8 op, u32 len, u32 buf_alloc, u32 fwd_cnt,
 *              u8 flags, u16 data bytes present; shape bit 0: a foreign src CID, bit 1: a dst
 *              CID other than the host, bit 2: type SEQPACKET, bit 3: header and data in one
 *              descriptor, bit 4: a chain shorter than a header
 *   1 rx       u8 count, u16 buffer size
 *   2 pump     u8 iterations of the event loop (no sleeping)
 *   3 connect  u8 guest port, u8 extra bytes after the line, bit 7 of the port: a bad line
 *   4 hwrite   u8 socket index, u16 bytes
 *   5 hclose   u8 socket index, u8 how (0 close, 1 shut write, 2 shut read)
 *   6 patch    u16 offset, u8 len, bytes: the driver scribbles on its RAM (rings included)
 *   7 reset    the driver resets and sets the device up again
 *   8 accept   the host listeners on PATH_1 and PATH_2 accept what is pending
 * Checked: every used rx buffer holds a header addressed to the guest, from the host (or from
 * the CID a refused packet asked for), its length within the buffer; connections never exceed
 * the limit; the interrupt line equals InterruptStatus != 0; after the reset that ends each run
 * the muxer holds no connection and every connection it made to PATH_P has been seen.
 * run.sh caps inputs at 512 bytes (see target_args there).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock.h"
#include "host/vsock/muxer.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_ring.h"
#include "tests/unit/virtio/driver.h"
#include "util/compiler.h"
#include "util/evloop.h"

#define CID	  3u
#define QSIZE	  16u
#define RAM	  (512u * 1024)
#define MAX_CONNS 8u
#define MAX_HOST  16
#define RX_MAX	  8192u
#define TX_SLOT	  (44u + 4096u)

static char dir[64], path[128];
static int listeners[2] = { -1, -1 };

struct run {
	struct vdrv d;
	struct evloop *loop;
	struct virtio_vsock *v;
	struct vsock_mux *mux;
	uint64_t rx_area, tx_area;
	uint32_t rx_len[QSIZE];
	int host[MAX_HOST];
	unsigned nr_host;
	/* Counted over the whole process, against the muxer's own counters. */
	uint64_t taken; /* PATH_P connections accepted by the listeners here */
	bool scribbled; /* the rings were patched: used elements say nothing reliable */
};

static int unix_sock(const char *p, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	if (fd < 0)
		return -1;
	if (listening ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) :
			connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void run_setup(void);

/* The sockets and their directory go when the fuzzer exits (not after a crash: they show it). */
static void cleanup(void)
{
	char p[160];

	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s_%d", path, i + 1);
		unlink(p);
	}
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[160];

	fuzz_quiet();
	/* As in the VMM: a host peer's write to a closed socket is an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/fuzz-vsock-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s_%d", path, i + 1);
		listeners[i] = unix_sock(p, true);
		FUZZ_CHECK(listeners[i] >= 0);
	}
	run_setup();
	return 0;
}

/*
 * Takes what the muxer's PATH_P connections left in the listeners' backlogs: into the run's host
 * peers (keep) or closed. The muxer's count of such connections says when there are some, so no
 * accept is made that must fail (each costs the kernel a socket allocated and freed).
 */
static void take_backlog(struct run *r, const struct vsock_mux_stats *st, bool keep)
{
	for (int k = 0; k < 2; k++) {
		while (r->taken < st->connected && (!keep || r->nr_host < MAX_HOST)) {
			int fd = accept4(listeners[k], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd < 0)
				break;
			r->taken++;
			if (keep)
				r->host[r->nr_host++] = fd;
			else
				close(fd);
		}
	}
}

static void device_up(struct run *r)
{
	if (vdrv_negotiate(&r->d,
			   VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)))
		return;
	for (unsigned q = 0; q < 3; q++)
		vdrv_queue_setup(&r->d, q, QSIZE);
	vdrv_driver_ok(&r->d);
}

/* Used rx buffers: each must be a well-formed packet for the guest. */
static void rx_check(struct run *r)
{
	uint32_t id, len;

	/*
	 * At most a ring's worth per step, which is all a device can use between two steps; a
	 * scribbled used index (up to 65,535 ahead) is then worked off over many steps instead of
	 * spinning the driver through it here.
	 */
	for (unsigned n = 0; n < QSIZE && vdrv_get_used(&r->d, 0, &id, &len); n++) {
		struct vsock_hdr h;
		uint8_t *p;

		if (r->scribbled || id >= QSIZE)
			continue;
		FUZZ_CHECK(len <= r->rx_len[id]);
		if (len == 0)
			continue; /* a buffer too small for a header */
		FUZZ_CHECK(len >= 44);
		p = vdrv_ptr(&r->d, r->rx_area + (uint64_t)id * RX_MAX);
		vsock_hdr_decode(&h, p);
		FUZZ_CHECK(h.len == len - 44);
		FUZZ_CHECK(h.len <= VSOCK_MAX_PKT);
		FUZZ_CHECK(h.dst_cid == CID);
		FUZZ_CHECK(h.src_cid == VSOCK_CID_HOST || h.op == VSOCK_OP_RST);
		FUZZ_CHECK(h.type == VSOCK_TYPE_STREAM);
		FUZZ_CHECK(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_CREDIT_REQUEST);
		FUZZ_CHECK(h.op == VSOCK_OP_RW || h.len == 0);
	}
}

static void op_packet(struct run *r, struct fuzz_in *in)
{
	uint8_t shape = fz_u8(in);
	struct vsock_hdr h = {
		.src_cid = shape & 1 ? CID + 1 : CID,
		.dst_cid = shape & 2 ? 7 : VSOCK_CID_HOST,
		.src_port = fz_u8(in),
		.dst_port = fz_u8(in),
		.type = shape & 4 ? 2 : VSOCK_TYPE_STREAM,
		.op = fz_u8(in) % 10,
	};
	uint32_t data;
	uint64_t slot;
	uint16_t head;
	struct vdrv_buf b[2];
	uint8_t *p;

	h.len = fz_u32(in);
	h.buf_alloc = fz_u32(in);
	h.fwd_cnt = fz_u32(in);
	h.flags = fz_u8(in);
	/* Host ports from a connect op are large: let small values stand for them too. */
	if (h.dst_port >= 200)
		h.dst_port = (1u << 30) + (h.dst_port - 200);
	if (h.len > 0x10000 && !(shape & 0x20))
		h.len &= 0xfff;
	data = fz_u16(in) % 4097;
	for (unsigned n = 0;
	     n < QSIZE && vdrv_get_used(&r->d, 1, &(uint32_t){ 0 }, &(uint32_t){ 0 }); n++)
		;
	if (r->d.vq[1].nr_free < 2)
		return;
	head = r->d.vq[1].free_head;
	slot = r->tx_area + (uint64_t)head * TX_SLOT;
	p = vdrv_ptr(&r->d, slot);
	vsock_hdr_encode(p, &h);
	memset(p + 44, 0xab, data);
	b[0] = (struct vdrv_buf){ .gpa = slot, .len = shape & 0x10 ? 20 : 44 };
	b[1] = (struct vdrv_buf){ .gpa = slot + 44, .len = data };
	if ((shape & 8) || !data) {
		if (!(shape & 0x10))
			b[0].len = 44 + data;
		vdrv_submit(&r->d, 1, b, 1, false);
	} else {
		vdrv_submit(&r->d, 1, b, 2, false);
	}
	vdrv_kick(&r->d, 1);
}

static void op_rx(struct run *r, struct fuzz_in *in)
{
	unsigned n = fz_u8(in) % (QSIZE + 1);
	uint32_t size = fz_u16(in) % (RX_MAX + 1);

	for (unsigned i = 0; i < n && r->d.vq[0].nr_free; i++) {
		uint16_t head = r->d.vq[0].free_head;
		struct vdrv_buf b = { .gpa = r->rx_area + (uint64_t)head * RX_MAX,
				      .len = size,
				      .write = true };

		r->rx_len[head] = size;
		vdrv_submit(&r->d, 0, &b, 1, false);
	}
	vdrv_kick(&r->d, 0);
}

static void op_connect(struct run *r, struct fuzz_in *in)
{
	uint8_t port = fz_u8(in), extra = fz_u8(in) % 64;
	char line[128];
	int fd, n;

	if (r->nr_host == MAX_HOST)
		return;
	fd = unix_sock(path, false);
	if (fd < 0)
		return;
	n = port & 0x80 ? snprintf(line, sizeof(line), "CONNECT x%u\n", port) :
			  snprintf(line, sizeof(line), "CONNECT %u\n", port);
	memset(line + n, 'd', extra);
	if (write(fd, line, (size_t)n + extra) < 0) {
		/* the listener's backlog may be full: fine */
	}
	r->host[r->nr_host++] = fd;
}

static void op_hwrite(struct run *r, struct fuzz_in *in)
{
	static uint8_t junk[65536];
	unsigned i = fz_u8(in);
	uint16_t n = fz_u16(in);

	if (!r->nr_host)
		return;
	if (write(r->host[i % r->nr_host], junk, n) < 0) {
		/* full or closed: both are what a host peer sees */
	}
}

static void op_hclose(struct run *r, struct fuzz_in *in)
{
	unsigned i = fz_u8(in), how = fz_u8(in) % 3;

	if (!r->nr_host)
		return;
	i %= r->nr_host;
	if (how == 0) {
		close(r->host[i]);
		r->host[i] = r->host[--r->nr_host];
	} else {
		shutdown(r->host[i], how == 1 ? SHUT_WR : SHUT_RD);
	}
}

static void op_accept(struct run *r)
{
	struct vsock_mux_stats st;

	vsock_mux_stats(r->mux, &st);
	take_backlog(r, &st, true);
}

static void op_patch(struct run *r, struct fuzz_in *in)
{
	uint16_t off = fz_u16(in);
	size_t len = fz_u8(in) % 32, got;
	const uint8_t *src = fz_take(in, len, &got);

	/* The first 64 KiB hold the rings; scribbling there breaks them in every way. */
	memcpy(r->d.ram + off, src, got);
	r->scribbled = true;
}

/*
 * The device, the muxer (with its listener) and the loop live for the whole process: creating a
 * listening socket per run cost more than the run. Each run ends with a driver reset that the
 * loop carries out at once, so the muxer frees every connection and numbers host ports afresh,
 * and with the loop drained (zero timeouts) until no host peer or backlog is left: the next run
 * starts from nothing this one made, and every malloc of a run is freed in it (libFuzzer re-runs
 * an input under LeakSanitizer whenever they do not match).
 */
static struct run r;
static uint64_t ram_used; /* bytes from the start of RAM a run can touch */

static void run_begin(void)
{
	memset(r.d.ram, 0, ram_used);
	r.d.brk = VDRV_RAM_GPA;
	memset(r.d.vq, 0, sizeof(r.d.vq));
	memset(r.rx_len, 0, sizeof(r.rx_len));
	r.nr_host = 0;
	r.scribbled = false;
	device_up(&r);
	r.rx_area = vdrv_alloc(&r.d, (uint64_t)QSIZE * RX_MAX, 64);
	r.tx_area = vdrv_alloc(&r.d, (uint64_t)QSIZE * TX_SLOT, 64);
	/* The negotiation's reset, for the loop to see before the first operation. */
	evloop_run_once(r.loop, 0);
	vdrv_ack(&r.d);
}

static void run_end(void)
{
	struct vsock_mux_stats st;
	unsigned i;

	for (i = 0; i < r.nr_host; i++)
		close(r.host[i]);
	r.nr_host = 0;
	/*
	 * One pass lets the muxer take this run's CONNECTs from its backlog (all of them: it
	 * accepts up to 64 a pass), which the reset then frees with all it holds; a peer accepted
	 * after the reset would wait out its handshake. The connections the muxer made to PATH_P
	 * are taken from the listeners and closed.
	 */
	evloop_run_once(r.loop, 0);
	vdrv_write(&r.d, VIRTIO_MMIO_STATUS, 0);
	for (i = 0; i < 64; i++) {
		evloop_run_once(r.loop, 0);
		vsock_mux_stats(r.mux, &st);
		take_backlog(&r, &st, false);
		if (!st.conns)
			break;
	}
	FUZZ_CHECK(st.conns == 0);
	FUZZ_CHECK(r.taken == st.connected);
}

static void run_setup(void)
{
	struct vsock_mux_params mp = { .guest_cid = CID, .path = path, .max_conns = MAX_CONNS };
	struct virtio_vsock_params vp = { .guest_cid = CID, .be_ops = &vsock_mux_ops };
	struct errbuf e;

	fz_vdrv_init(&r.d, RAM);
	FUZZ_CHECK(evloop_create(&r.loop, &e) == 0);
	mp.loop = vp.loop = r.loop;
	FUZZ_CHECK(vsock_mux_create(&mp, &r.mux, &e) == 0);
	vp.be = r.mux;
	r.v = virtio_vsock_create(&vp, &r.d.gm, &r.d.irq, &e);
	FUZZ_CHECK(r.v);
	r.d.vm = virtio_vsock_mmio(r.v);
	/* What one run's set-up allocates, and the 64 KiB (+ 31) the patch operation reaches. */
	ram_used = RAM;
	run_begin();
	ram_used = r.d.brk - VDRV_RAM_GPA;
	if (ram_used < 0x10000 + 32)
		ram_used = 0x10000 + 32;
	run_end();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	struct vsock_mux_stats st;

	run_begin();
	while (!fz_empty(&in)) {
		switch (fz_u8(&in) % 9) {
		case 0:
			op_packet(&r, &in);
			break;
		case 1:
			op_rx(&r, &in);
			break;
		case 2:
			for (unsigned i = fz_u8(&in) % 8 + 1; i; i--)
				evloop_run_once(r.loop, 0);
			break;
		case 3:
			op_connect(&r, &in);
			break;
		case 4:
			op_hwrite(&r, &in);
			break;
		case 5:
			op_hclose(&r, &in);
			break;
		case 6:
			op_patch(&r, &in);
			break;
		case 7:
			device_up(&r);
			break;
		default:
			op_accept(&r);
			break;
		}
		rx_check(&r);
		fz_irq_check(&r.d);
		vsock_mux_stats(r.mux, &st);
		FUZZ_CHECK(st.conns <= MAX_CONNS);
	}
	run_end();
	return 0;
}
