// SPDX-License-Identifier: MIT
/*
 * virtio-fs, the ring side (src/devices/virtio/fs.c), through the virtio-mmio transport, driven
 * by the tests' virtio driver on 128 KiB of guest RAM, with the real FUSE server behind it on a
 * temporary share (tmpfs when there is one) that is emptied and seeded again after each input.
 * The device runs with inline_requests: a QueueNotify serves both queues on this thread, so runs
 * do not depend on worker timing (the workers are covered by tests/unit/virtio/test_fs.c).
 * The FUSE server itself has its own target (fuse); here the requests are a few common ones and
 * the chains around them are what varies.
 *
 * Input: u8 features (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 no FUSE INIT first), u8
 * queue sizes (hiprio 2^(bits 0-2 % 5), request 2^(bits 3-5 % 5)); then operations until the
 * end, each a u8 selector then its fields:
 *   0 request  u8 queue (bit 0 hiprio), u8 opcode (an index below, or past them a raw u32
 *              follows), u8 node (0 the root, else one an earlier reply named), u8 shape,
 *              u8 header length error (i8, added to the true length), u16 reply room, u8
 *              argument length, then those bytes. Shape: bit 0 indirect, bit 1 the header split
 *              in two descriptors, bit 2 no writable buffers, bit 3 writable buffers first, bit 4
 *              no FUSE header (arguments only), bit 5 a short header (20 bytes), bit 6 a huge
 *              writable length, bit 7 not notified
 *   1 raw      u8 queue, u8 descriptor, u8 address kind, u16 offset, u32 length, u16 flags, u16
 *              next, u8 bit 0: make it available as a head
 *   2 notify   u8 queue index
 *   3 patch    u16 offset, u8 length, bytes: the driver scribbles on RAM
 *   4 restart  u8 features, u8 queue sizes, as at the start
 *   5 ack      acknowledge InterruptStatus
 *   6 register u8 register (offset / 4), u32 value
 *   7 config   u8 offset, u8 width: a read of the config space (or past it)
 * Checked: until the driver state is scribbled on, every byte that changes in RAM lies in a
 * writable segment of a chain the driver made available or in a used ring; every used element
 * names such a chain, with a length within its writable bytes, and a reply (when there is one
 * and its header has a segment of its own) whose len is that length and whose unique is the
 * request's; FORGETs get no reply; config reads give the tag and one request queue; the
 * interrupt line equals InterruptStatus != 0 after every operation; after every input the
 * sentinel beside the share keeps its inode, size, mode and times, and nothing appears or
 * disappears next to the share.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/fs.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "fs/fuse_wire.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_ring.h"
#include "tests/fuzz/fuzz_share.h"
#include "tests/unit/virtio/driver.h"
#include "util/compiler.h"

#define RAM	 (128u * 1024)
#define QMAX	 16u
#define SEGS_MAX 6u
#define KEEP	 8u
#define TAG	 "fuzz-share"
#define HDR_IN	 40u
#define HDR_OUT	 16u

/* See fuzz_virtio_rng.c: bookkeeping out of the coverage map, and not inlined into it. */
#define HARNESS __attribute__((no_sanitize("coverage"), noinline))

static const uint32_t opcodes[] = {
	FW_INIT,   FW_LOOKUP, FW_GETATTR, FW_FORGET,  FW_BATCH_FORGET, FW_OPEN,
	FW_READ,   FW_WRITE,  FW_RELEASE, FW_OPENDIR, FW_READDIRPLUS,  FW_RELEASEDIR,
	FW_STATFS, FW_CREATE, FW_MKDIR,	  FW_UNLINK,  FW_DESTROY,      FW_INTERRUPT,
};
#define NR_OPCODES (sizeof(opcodes) / sizeof(opcodes[0]))

struct chain {
	bool live;
	unsigned n;
	struct vdrv_buf b[SEGS_MAX];
	uint64_t writable;
	uint32_t opcode;
	uint64_t unique;
	bool unique_known; /* false: the request had no header of ours */
	int out_hdr; /* the segment holding the whole out header, or -1 */
};

static struct {
	struct vdrv d;
	uint8_t *snap;
	uint64_t data, data_next;
	bool loose; /* the driver's state was scribbled on: used elements prove nothing */
	bool no_init;
	struct chain chains[2][QMAX];
	uint64_t unique;
	uint64_t nodes[KEEP], fhs[KEEP];
	unsigned nr_nodes, nr_fhs;
} r;

static struct fz_share share;

/* ---- the driver's bookkeeping ---- */

/*
 * May the device have written the byte at gpa: the end of the region that allows it (a used
 * ring, or a writable segment of a chain the driver made available), or 0.
 */
HARNESS static uint64_t may_change(uint64_t gpa)
{
	for (unsigned q = 0; q < 2; q++) {
		const struct vdrv_vq *vq = &r.d.vq[q];

		if (gpa >= vq->used && gpa < vq->used + vq_used_bytes(vq->num))
			return vq->used + vq_used_bytes(vq->num);
		for (unsigned h = 0; h < QMAX; h++) {
			const struct chain *c = &r.chains[q][h];

			if (!c->live)
				continue;
			for (unsigned i = 0; i < c->n; i++)
				if (c->b[i].write && gpa >= c->b[i].gpa &&
				    gpa - c->b[i].gpa < c->b[i].len)
					return c->b[i].gpa + c->b[i].len;
		}
	}
	return 0;
}

/* Every byte that differs from the snapshot may have been written by the device. */
HARNESS static void ram_diff_check(void)
{
	/* whole pages with libc's memcmp first: the device writes few of them */
	for (size_t i = 0; i < RAM; i += 4096) {
		size_t j = i;

		if (!memcmp(r.snap + i, r.d.ram + i, 4096))
			continue;
		while (j < i + 4096) {
			uint64_t end;

			if (r.snap[j] == r.d.ram[j]) {
				j++;
				continue;
			}
			end = may_change(VDRV_RAM_GPA + j);
			FUZZ_CHECK(end);
			j = end - VDRV_RAM_GPA;
		}
	}
}

static void remember(uint64_t *list, unsigned *n, uint64_t v)
{
	list[*n % KEEP] = v;
	(*n)++;
}

/* What a reply says that later requests can use: node ids and file handles. */
static void reply_learn(const struct chain *c, const uint8_t *payload, uint32_t len)
{
	if ((c->opcode == FW_LOOKUP || c->opcode == FW_CREATE || c->opcode == FW_MKDIR) &&
	    len >= sizeof(struct fw_entry_out))
		remember(r.nodes, &r.nr_nodes, get_le64(payload));
	if (c->opcode == FW_CREATE && len >= sizeof(struct fw_entry_out) + 8)
		remember(r.fhs, &r.nr_fhs, get_le64(payload + sizeof(struct fw_entry_out)));
	if ((c->opcode == FW_OPEN || c->opcode == FW_OPENDIR) && len >= 8)
		remember(r.fhs, &r.nr_fhs, get_le64(payload));
}

static void used_check(unsigned q, uint32_t id, uint32_t len)
{
	struct chain *c;
	const uint8_t *oh;

	FUZZ_CHECK(id < r.d.vq[q].num && r.chains[q][id].live);
	c = &r.chains[q][id];
	c->live = false;
	FUZZ_CHECK(len <= c->writable);
	if (c->opcode == FW_FORGET || c->opcode == FW_BATCH_FORGET)
		FUZZ_CHECK(len == 0);
	if (!len || c->out_hdr < 0)
		return;
	oh = vdrv_ptr(&r.d, c->b[c->out_hdr].gpa);
	FUZZ_CHECK(get_le32(oh) == len);
	FUZZ_CHECK(!c->unique_known || get_le64(oh + 8) == c->unique);
	if (!get_le32(oh + 4) && len > HDR_OUT && (unsigned)c->out_hdr + 1 < c->n &&
	    c->b[c->out_hdr].len == HDR_OUT)
		reply_learn(c, vdrv_ptr(&r.d, c->b[c->out_hdr + 1].gpa),
			    min_u64(len - HDR_OUT, c->b[c->out_hdr + 1].len));
}

static void used_take(void)
{
	uint32_t id, len;

	for (unsigned q = 0; q < 2; q++)
		for (unsigned k = 0; k < QMAX && vdrv_get_used(&r.d, q, &id, &len); k++)
			if (!r.loose)
				used_check(q, id, len);
}

/* A register write (QueueNotify above all) and what the device does on it, checked. */
static void device_op(uint64_t off, uint32_t val)
{
	bool loose = r.loose;

	if (!loose)
		memcpy(r.snap, r.d.ram, RAM);
	vdrv_write(&r.d, off, val);
	if (!loose && !r.loose)
		ram_diff_check();
	used_take();
}

/* A buffer from the data area (wrapping when it runs out). */
static uint64_t data_alloc(uint32_t len)
{
	uint64_t end = VDRV_RAM_GPA + RAM, gpa;

	len = (uint32_t)min_u64(len, end - r.data);
	if (r.data_next + len > end)
		r.data_next = r.data;
	gpa = r.data_next;
	r.data_next = align_up(gpa + len, 16);
	return gpa;
}

static void ram_put(uint64_t gpa, const void *src, size_t len)
{
	memcpy(vdrv_ptr(&r.d, gpa), src, len);
}

static void op_request(struct fuzz_in *in);

static void setup(uint8_t features, uint8_t sizes)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	if (features & 1)
		want |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (features & 2)
		want |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	memset(r.d.ram, 0, RAM);
	memset(r.d.vq, 0, sizeof(r.d.vq));
	memset(r.chains, 0, sizeof(r.chains));
	r.d.brk = VDRV_RAM_GPA;
	r.loose = false;
	r.nr_nodes = r.nr_fhs = 0;
	FUZZ_CHECK(vdrv_negotiate(&r.d, want) == 0);
	FUZZ_CHECK(vdrv_queue_setup(&r.d, VIRTIO_FS_QUEUE_HIPRIO, 1u << (sizes & 7) % 5) == 0);
	FUZZ_CHECK(vdrv_queue_setup(&r.d, VIRTIO_FS_QUEUE_REQUEST, 1u << (sizes >> 3 & 7) % 5) ==
		   0);
	vdrv_driver_ok(&r.d);
	vdrv_ack(&r.d);
	r.data = r.data_next = align_up(r.d.brk, 4096);
	if (!(features & 4)) {
		/* FUSE_INIT as Linux sends it, in op_request's format: request queue, INIT, root,
		 * a plain chain, the true length, 128 bytes of room, the arguments */
		struct fw_init_in ii = { .major = 7, .minor = 38, .flags = 0xffffffffu };
		uint8_t req[8 + sizeof(ii)] = { 0, 0, 0, 0, 0, 128, 0, sizeof(ii) };
		struct fuzz_in init;

		memcpy(req + 8, &ii, sizeof(ii));
		init = fuzz_in_init(req, sizeof(req));
		op_request(&init);
	}
}

static void op_request(struct fuzz_in *in)
{
	unsigned q = fz_u8(in) & 1 ? VIRTIO_FS_QUEUE_HIPRIO : VIRTIO_FS_QUEUE_REQUEST;
	uint8_t sel = fz_u8(in), node, shape;
	uint32_t opcode = sel < NR_OPCODES ? opcodes[sel] : fz_u32(in);
	int8_t delta;
	uint16_t room;
	uint8_t alen, hdr[HDR_IN] = { 0 }, args[256] = { 0 };
	struct vdrv_buf rd[3], wr[2], b[SEGS_MAX];
	unsigned nrd = 0, nwr = 0, n = 0;
	size_t got;
	uint64_t hdr_gpa, nodeid = FW_ROOT_ID, unique = ++r.unique;
	int head, out_hdr = -1;

	node = fz_u8(in);
	shape = fz_u8(in);
	delta = (int8_t)fz_u8(in);
	room = fz_u16(in);
	alen = fz_u8(in);
	memcpy(args, fz_take(in, alen, &got), got);
	if (node && r.nr_nodes)
		nodeid = r.nodes[node % min_u64(r.nr_nodes, KEEP)];
	/* the first 8 argument bytes are a file handle for the requests that take one */
	if ((opcode == FW_READ || opcode == FW_WRITE || opcode == FW_RELEASE ||
	     opcode == FW_RELEASEDIR || opcode == FW_READDIRPLUS) &&
	    r.nr_fhs && got >= 8)
		put_le64(args, r.fhs[node % min_u64(r.nr_fhs, KEEP)]);
	put_le32(hdr, (uint32_t)(HDR_IN + got + (size_t)(int)delta));
	put_le32(hdr + 4, opcode);
	put_le64(hdr + 8, unique);
	put_le64(hdr + 16, nodeid);
	hdr_gpa = data_alloc(HDR_IN);
	ram_put(hdr_gpa, hdr, HDR_IN);
	if (!(shape & 16)) {
		uint32_t hl = shape & 32 ? 20 : HDR_IN;

		if (shape & 2) {
			rd[nrd++] = (struct vdrv_buf){ .gpa = hdr_gpa, .len = hl / 2 };
			rd[nrd++] =
				(struct vdrv_buf){ .gpa = hdr_gpa + hl / 2, .len = hl - hl / 2 };
		} else {
			rd[nrd++] = (struct vdrv_buf){ .gpa = hdr_gpa, .len = hl };
		}
	}
	if (got) {
		rd[nrd] =
			(struct vdrv_buf){ .gpa = data_alloc((uint32_t)got), .len = (uint32_t)got };
		ram_put(rd[nrd].gpa, args, got);
		nrd++;
	}
	if (!(shape & 4)) {
		wr[nwr++] =
			(struct vdrv_buf){ .gpa = data_alloc(HDR_OUT), .len = HDR_OUT, .write = 1 };
		wr[nwr] = (struct vdrv_buf){ .gpa = data_alloc(room), .len = room, .write = 1 };
		/* what a room past the data area gets is what is left of it */
		wr[nwr].len = (uint32_t)min_u64(room, VDRV_RAM_GPA + RAM - wr[nwr].gpa);
		if (shape & 64)
			wr[nwr].len = 0xfffff000u;
		nwr++;
	}
	if (shape & 8) {
		memcpy(b, wr, nwr * sizeof(wr[0]));
		memcpy(b + nwr, rd, nrd * sizeof(rd[0]));
	} else {
		memcpy(b, rd, nrd * sizeof(rd[0]));
		memcpy(b + nrd, wr, nwr * sizeof(wr[0]));
	}
	n = nrd + nwr;
	if (!n)
		return;
	if (nwr)
		out_hdr = shape & 8 ? 0 : (int)nrd;
	/* the driver's indirect table for a head has room for one ring's worth */
	if ((shape & 1) && n > r.d.vq[q].num)
		return;
	head = vdrv_submit(&r.d, q, b, n, shape & 1);
	if (head < 0)
		return;
	r.chains[q][head] = (struct chain){ .live = true,
					    .n = n,
					    .opcode = opcode,
					    .unique = unique,
					    .unique_known = true,
					    .out_hdr = out_hdr };
	if (shape & 16) {
		/* the arguments are the header the device sees */
		r.chains[q][head].opcode = got >= 8 ? get_le32(args + 4) : 0;
		r.chains[q][head].unique = got >= 16 ? get_le64(args + 8) : 0;
		r.chains[q][head].unique_known = got >= 16;
	}
	memcpy(r.chains[q][head].b, b, n * sizeof(b[0]));
	for (unsigned i = 0; i < n; i++)
		if (b[i].write)
			r.chains[q][head].writable += b[i].len;
	if (!(shape & 128))
		device_op(VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static void op_config(struct fuzz_in *in)
{
	static const unsigned widths[] = { 1, 2, 4, 8 };
	uint8_t cfg[VIRTIO_FS_CFG_SIZE] = TAG;
	unsigned off = fz_u8(in) % 64, w = widths[fz_u8(in) % 4];
	uint64_t v = vdrv_read_w(&r.d, VIRTIO_MMIO_CONFIG + off, w), want = 0;

	put_le32(cfg + VIRTIO_FS_CFG_NUM_REQUEST_QUEUES, 1);
	FUZZ_CHECK(w == 8 || v >> (8 * w) == 0);
	if (off + w > VIRTIO_FS_CFG_SIZE || off % w)
		return;
	for (unsigned i = 0; i < w; i++)
		want |= (uint64_t)cfg[off + i] << (8 * i);
	FUZZ_CHECK(v == want);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* small caps: a reset's cost follows them, and the guest reaches them */
	struct virtio_fs_params p = {
		.tag = TAG, .max_inodes = 64, .max_handles = 16, .inline_requests = true
	};
	struct errbuf e;

	fuzz_quiet();
	fz_share_init(&share, "vfs");
	fz_share_seed(&share);
	fz_vdrv_init(&r.d, RAM);
	r.snap = malloc(RAM);
	FUZZ_CHECK(r.snap);
	p.path = share.path;
	r.d.vm = virtio_fs_create(&p, &r.d.gm, &r.d.irq, &e);
	FUZZ_CHECK(r.d.vm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t f = fz_u8(&in), qs = fz_u8(&in);
	static const struct fz_target target = {
		.d = &r.d,
		.ram = RAM,
		.nr_queues = 2,
		.data = &r.data,
		.loose = &r.loose,
		.setup = setup,
		.write = device_op,
	};

	fz_share_ignore_xfsz();
	setup(f, qs);
	while (!fz_empty(&in)) {
		unsigned op = fz_u8(&in) % 8;

		if (op == 0)
			op_request(&in);
		else if (!fz_transport_op(&target, &in, op))
			op_config(&in);
		fz_irq_check(&r.d);
	}
	/* what the server still holds of the share is let go by the next run's reset */
	fz_share_check_outside(&share);
	fz_share_wipe(&share);
	fz_share_seed(&share);
	return 0;
}
