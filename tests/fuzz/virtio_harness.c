// SPDX-License-Identifier: MIT
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/blk_int.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/virtio_harness.h"
#include "util/compiler.h"

static char disk_name[] = "fuzz-disk";

static void fz_set_level(void *opaque, uint32_t intid, bool level)
{
	struct fz_virtio *v = opaque;

	v->level = level;
}

static bool fz_in_ram(const struct fz_virtio *v, const uint8_t *p, uint64_t len)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)v->ram;

	return a >= base && a - base <= FZ_RAM_SIZE && len <= FZ_RAM_SIZE - (a - base);
}

static void fz_chain_check(const struct fz_virtio *v, const struct vq_chain *c)
{
	for (unsigned i = 0; i < c->nr_segs; i++)
		FUZZ_CHECK(fz_in_ram(v, c->segs[i].ptr, c->segs[i].len));
}

/* Takes up to BLK_BATCH chains, as blk.c's worker does (locked). */
static unsigned fz_blk_pop_batch(struct fz_virtio *v, struct virtq **vqp)
{
	struct virtio_blk *b = v->blk;
	struct virtq *vq = virtio_mmio_queue(b->vm, 0);
	unsigned n = 0;
	int r;

	*vqp = vq;
	while (vq && n < BLK_BATCH) {
		r = vq_pop(vq, &b->scratch[0].chains[n]);
		if (r < 0)
			virtio_mmio_queue_broken(b->vm, 0);
		if (r <= 0)
			break;
		fz_chain_check(v, &b->scratch[0].chains[n]);
		n++;
	}
	return n;
}

/* QueueNotify (locked): blk.c's worker loop, run here and now. */
static void fz_blk_notify(void *dev, unsigned q)
{
	struct fz_virtio *v = dev;
	struct virtio_blk *b = v->blk;
	struct virtq *vq;
	unsigned n;

	FUZZ_CHECK(q == 0);
	while ((n = fz_blk_pop_batch(v, &vq))) {
		struct blk_scratch *s = &b->scratch[0];

		virtio_mmio_io_begin(b->vm);
		/* Nothing stops this device: every request is answered. */
		FUZZ_CHECK(blk_handle_batch(b, s, n) == n);
		/* The device never claims more bytes than the chain lets it write. */
		for (unsigned i = 0; i < n; i++)
			FUZZ_CHECK(s->used[i] <= s->chains[i].writable_len);
		virtio_mmio_io_end(b->vm);
		for (unsigned i = 0; i < n; i++)
			vq_push(vq, s->chains[i].head, s->used[i]);
		virtio_mmio_queue_flush(b->vm, vq);
	}
}

static const struct virtio_dev_ops fz_blk_ops = {
	.notify = fz_blk_notify,
};

struct fz_virtio *fz_virtio_init(void)
{
	struct fz_virtio *v = calloc(1, sizeof(*v));
	const char *why;

	fuzz_quiet();
	if (!v)
		abort();
	v->ram = malloc(FZ_RAM_SIZE);
	v->blk = calloc(1, sizeof(*v->blk));
	v->disk_fd = memfd_create(disk_name, MFD_CLOEXEC);
	if (!v->ram || !v->blk || v->disk_fd < 0 || ftruncate(v->disk_fd, FZ_DISK_SIZE))
		abort();
	/* blk.c's workers have a ring where the kernel allows one; so does the harness. */
	v->blk->scratch[0].ring = blk_ring_create(&why);
	v->gm = (struct guest_mem){ .host = v->ram, .gpa = FZ_RAM_GPA, .size = FZ_RAM_SIZE };
	irq_line_init(&v->irq, fz_set_level, v, 33);
	return v;
}

static void fz_reset(struct fz_virtio *v)
{
	memset(v->ram, 0, FZ_RAM_SIZE);
	irq_line_init(&v->irq, fz_set_level, v, 33);
	v->level = false;
}

struct virtio_mmio *fz_rng_create(struct fz_virtio *v)
{
	struct errbuf e;

	fz_reset(v);
	v->vm = virtio_rng_create(&v->gm, &v->irq, &e);
	FUZZ_CHECK(v->vm);
	return v->vm;
}

/* blk.c's blk_setup() for an image of FZ_DISK_SIZE bytes, with its features and config. */
static uint64_t fz_blk_setup(struct virtio_blk *b, int fd, bool readonly)
{
	for (unsigned i = 0; i < BLK_BATCH; i++)
		b->scratch[0].chains[i].segs = b->scratch[0].segs[i];
	b->fd = fd;
	b->readonly = readonly;
	b->discard = !readonly;
	b->capacity = FZ_DISK_SIZE / VIRTIO_BLK_SECTOR;
	b->path = disk_name;
	snprintf(b->serial, sizeof(b->serial), "ignition0");
	memset(b->config, 0, sizeof(b->config));
	blk_config_init(b);
	return blk_features(b);
}

struct virtio_mmio *fz_blk_create(struct fz_virtio *v, bool readonly)
{
	struct virtio_blk *b = v->blk;
	struct virtio_mmio_params p = {
		.name = "virtio-blk0",
		.device_id = VIRTIO_ID_BLOCK,
		.features = fz_blk_setup(b, v->disk_fd, readonly),
		.nr_queues = 1,
		.queue_num_max = BLK_QUEUE_SIZE,
		.config = b->config,
		.config_len = sizeof(b->config),
		.ops = &fz_blk_ops,
		.dev = v,
	};
	struct errbuf e;

	fz_reset(v);
	b->vm = v->vm = virtio_mmio_create(&p, &v->gm, &v->irq, &e);
	FUZZ_CHECK(v->vm);
	return v->vm;
}

void fz_virtio_destroy(struct fz_virtio *v)
{
	virtio_mmio_destroy(v->vm);
	v->vm = NULL;
}

uint32_t fz_mmio_read(struct fz_virtio *v, uint64_t off)
{
	return (uint32_t)virtio_mmio_bus_ops.read(v->vm, off, 4);
}

void fz_mmio_write(struct fz_virtio *v, uint64_t off, uint32_t val)
{
	virtio_mmio_bus_ops.write(v->vm, off, 4, val);
}

void fz_irq_check(struct fz_virtio *v)
{
	FUZZ_CHECK(v->level == (fz_mmio_read(v, VIRTIO_MMIO_INTERRUPT_STATUS) != 0));
}

void fz_ram_patch(struct fz_virtio *v, struct fuzz_in *in)
{
	uint16_t off = fz_u16(in);
	size_t len = fz_u8(in), got;
	const uint8_t *src = fz_take(in, min_u64(len, FZ_RAM_SIZE - off), &got);

	memcpy(v->ram + off, src, got);
}

static void fz_status_or(struct fz_virtio *v, uint32_t bits)
{
	fz_mmio_write(v, VIRTIO_MMIO_STATUS, fz_mmio_read(v, VIRTIO_MMIO_STATUS) | bits);
}

static void fz_write_addr(struct fz_virtio *v, uint64_t lo_reg, uint64_t gpa)
{
	fz_mmio_write(v, lo_reg, (uint32_t)gpa);
	fz_mmio_write(v, lo_reg + 4, (uint32_t)(gpa >> 32));
}

uint64_t fz_device_features(struct fz_virtio *v)
{
	uint64_t f;

	fz_mmio_write(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)fz_mmio_read(v, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	fz_mmio_write(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | fz_mmio_read(v, VIRTIO_MMIO_DEVICE_FEATURES);
}

bool fz_virtio_start(struct fz_virtio *v, uint64_t features, const struct fz_driver *drv)
{
	fz_mmio_write(v, VIRTIO_MMIO_STATUS, 0);
	fz_status_or(v, VIRTIO_STATUS_ACKNOWLEDGE);
	fz_status_or(v, VIRTIO_STATUS_DRIVER);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fz_mmio_write(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	fz_status_or(v, VIRTIO_STATUS_FEATURES_OK);
	fz_mmio_write(v, VIRTIO_MMIO_QUEUE_SEL, 0);
	fz_mmio_write(v, VIRTIO_MMIO_QUEUE_NUM, drv->num);
	fz_write_addr(v, VIRTIO_MMIO_QUEUE_DESC_LOW, drv->desc);
	fz_write_addr(v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, drv->avail);
	fz_write_addr(v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, drv->used);
	fz_mmio_write(v, VIRTIO_MMIO_QUEUE_READY, 1);
	fz_status_or(v, VIRTIO_STATUS_DRIVER_OK);
	return fz_mmio_read(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK;
}

/* ---- well-formed requests ---- */

static void ram_put(struct fz_virtio *v, uint64_t gpa, const void *src, size_t len)
{
	void *p = guest_mem_ptr(&v->gm, gpa, len);

	if (p)
		memcpy(p, src, len);
}

static void ram_put16(struct fz_virtio *v, uint64_t gpa, uint16_t val)
{
	uint8_t b[2];

	put_le16(b, val);
	ram_put(v, gpa, b, sizeof(b));
}

static void desc_put(struct fz_virtio *v, uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t d[VIRTQ_DESC_SIZE];

	put_le64(d, addr);
	put_le32(d + 8, len);
	put_le16(d + 12, flags);
	put_le16(d + 14, next);
	ram_put(v, gpa, d, sizeof(d));
}

/* A buffer in the upper half of RAM, wrapping around when it runs out. */
static uint64_t data_alloc(struct fz_driver *drv, uint32_t *len)
{
	uint32_t off;

	*len = (uint32_t)min_u64(*len, FZ_RAM_SIZE - FZ_DATA_OFF);
	if (drv->data_next < FZ_DATA_OFF || drv->data_next + *len > FZ_RAM_SIZE)
		drv->data_next = FZ_DATA_OFF;
	off = drv->data_next;
	drv->data_next = (uint32_t)align_up(off + *len, 16);
	return FZ_RAM_GPA + off;
}

struct fz_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

#define REQ_BUFS_MAX 11

static uint32_t req_type(struct fuzz_in *in, uint8_t sel)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN,	VIRTIO_BLK_T_OUT,
					  VIRTIO_BLK_T_FLUSH,	VIRTIO_BLK_T_GET_ID,
					  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES };

	return sel < ARRAY_SIZE(types) ? types[sel] : fz_u32(in);
}

/* Device-writable data for reads and GET_ID, readable for everything else. */
static bool req_data_writable(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

static uint32_t data_len(struct fuzz_in *in, uint8_t sel)
{
	if (sel & 8)
		return fz_u16(in);
	if (sel & 4)
		return VIRTIO_BLK_DWZ_BYTES;
	return VIRTIO_BLK_SECTOR << (sel & 3);
}

/* Header (whole or split), data segments (the first 16 bytes of each from the input), status. */
static unsigned req_bufs(struct fz_driver *drv, struct fz_virtio *v, struct fuzz_in *in,
			 struct fz_buf *bufs)
{
	uint8_t type_sel = fz_u8(in), shape = fz_u8(in), len_sel = fz_u8(in);
	uint32_t type = req_type(in, type_sel % 8), hdr_len = VIRTIO_BLK_HDR_BYTES;
	bool data_write = req_data_writable(type) ^ !!(shape & 0x20);
	uint8_t hdr[VIRTIO_BLK_HDR_BYTES] = { 0 };
	uint64_t hdr_gpa = data_alloc(drv, &hdr_len);
	uint32_t status_len = shape & 0x80 ? 2 : 1;
	unsigned n = 0;

	put_le32(hdr, type);
	put_le64(hdr + 8, fz_u32(in));
	ram_put(v, hdr_gpa, hdr, sizeof(hdr));
	if (shape & 0x10) {
		bufs[n++] = (struct fz_buf){ .gpa = hdr_gpa, .len = 8 };
		bufs[n++] = (struct fz_buf){ .gpa = hdr_gpa + 8, .len = 8 };
	} else {
		bufs[n++] = (struct fz_buf){ .gpa = hdr_gpa, .len = VIRTIO_BLK_HDR_BYTES };
	}
	for (unsigned k = 0; k < (shape & 7u); k++) {
		uint32_t len = data_len(in, len_sel);
		size_t got;
		const uint8_t *src = fz_take(in, min_u64(len, 16), &got);

		bufs[n] = (struct fz_buf){ .gpa = data_alloc(drv, &len), .write = data_write };
		bufs[n].len = len;
		ram_put(v, bufs[n].gpa, src, got);
		n++;
	}
	bufs[n++] = (struct fz_buf){ .gpa = data_alloc(drv, &status_len),
				     .len = status_len,
				     .write = true };
	return n;
}

static uint16_t chain_put(struct fz_virtio *v, struct fz_driver *drv, const struct fz_buf *bufs,
			  unsigned n, bool indirect)
{
	uint16_t head = drv->desc_next % drv->num, i = head;

	if (indirect) {
		uint32_t len = n * VIRTQ_DESC_SIZE;
		uint64_t table = data_alloc(drv, &len);

		for (unsigned k = 0; k < n; k++)
			desc_put(v, table + k * VIRTQ_DESC_SIZE, bufs[k].gpa, bufs[k].len,
				 (uint16_t)((bufs[k].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
				 (uint16_t)(k + 1));
		desc_put(v, drv->desc + head * VIRTQ_DESC_SIZE, table, len, VIRTQ_DESC_F_INDIRECT,
			 0);
		drv->desc_next++;
		return head;
	}
	for (unsigned k = 0; k < n; k++) {
		uint16_t next = (uint16_t)((i + 1) % drv->num);

		desc_put(v, drv->desc + (uint64_t)i * VIRTQ_DESC_SIZE, bufs[k].gpa, bufs[k].len,
			 (uint16_t)((bufs[k].write ? VIRTQ_DESC_F_WRITE : 0) |
				    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
			 next);
		i = next;
		drv->desc_next++;
	}
	return head;
}

void fz_blk_request(struct fz_virtio *v, struct fz_driver *drv, struct fuzz_in *in)
{
	struct fz_buf bufs[REQ_BUFS_MAX];
	uint8_t flags = fz_u8(in);
	unsigned n = req_bufs(drv, v, in, bufs);
	uint16_t head;

	if (!drv->num)
		return;
	head = chain_put(v, drv, bufs, n, flags & 1);
	ram_put16(v, drv->avail + 4 + 2ULL * (drv->avail_idx % drv->num), head);
	drv->avail_idx++;
	ram_put16(v, drv->avail + 2, drv->avail_idx);
	if (!(flags & 2))
		fz_mmio_write(v, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}
