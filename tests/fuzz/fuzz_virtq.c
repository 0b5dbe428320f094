// SPDX-License-Identifier: MIT
/*
 * Virtqueue walking. The input programs a split virtqueue over 64 KiB of guest RAM (size, ring
 * addresses, features) and then plays the driver: it writes ring and descriptor bytes between the
 * device's pops, pushes and publishes. Every segment a pop hands out must lie inside RAM (checked
 * here byte-exactly, and by ASan: RAM is a malloc block of exactly its size).
 *
 * Input: config (see vq_config_read), then operations until the input ends:
 *   0 patch   u16 offset, u8 len, bytes: the driver writes RAM
 *   1 pop     one chain; kept as outstanding
 *   2 publish
 *   3 push    u32 len: the oldest outstanding chain is used
 *   4 restart a new config, as after a reset
 *   5 drain   pop and push until the ring is empty or broken, then publish
 */
#include <errno.h>

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/fuzz.h"
#include "util/compiler.h"

#define RAM_GPA	 0x40000000ULL
#define RAM_SIZE 0x10000u
#define NUM_MAX	 32768u

enum { OP_PATCH, OP_POP, OP_PUBLISH, OP_PUSH, OP_RESTART, OP_DRAIN, OP_NR };

struct fuzz_vq {
	uint8_t *ram;
	struct guest_mem gm;
	struct virtq vq;
	struct vq_seg *segs;
	bool ready; /* enabled and not broken: the transport stops using a broken ring */
	uint16_t pending[NUM_MAX]; /* popped heads not yet pushed, oldest first */
	unsigned pending_head, nr_pending;
};

static struct fuzz_vq *fv;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fv = calloc(1, sizeof(*fv));
	fv->ram = malloc(RAM_SIZE);
	fv->segs = calloc(NUM_MAX, sizeof(*fv->segs));
	if (!fv->ram || !fv->segs)
		abort();
	fv->gm = (struct guest_mem){ .host = fv->ram, .gpa = RAM_GPA, .size = RAM_SIZE };
	return 0;
}

/* A signed offset from the start of RAM, so rings can also start below or beyond it. */
static uint64_t gpa_read(struct fuzz_in *in)
{
	return RAM_GPA + (uint64_t)(int64_t)(int32_t)fz_u32(in);
}

/* True when [p, p + len) lies in RAM. */
static bool in_ram(const uint8_t *p, uint64_t len)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)fv->ram;

	return a >= base && a - base <= RAM_SIZE && len <= RAM_SIZE - (a - base);
}

/* u8 size selector (a power of two, or with bit 7 any u16), u8 features, 3 ring addresses. */
static void vq_config_read(struct fuzz_in *in)
{
	uint8_t sel = fz_u8(in), flags = fz_u8(in);
	uint64_t features = 0;
	struct virtq *vq = &fv->vq;

	vq_reset(vq, 256);
	vq->num = sel & 0x80 ? fz_u16(in) : (uint16_t)(1u << (sel & 15));
	vq->desc_gpa = gpa_read(in);
	vq->avail_gpa = gpa_read(in);
	vq->used_gpa = gpa_read(in);
	if (flags & 1)
		features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (flags & 2)
		features |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	fv->nr_pending = fv->pending_head = 0;
	fv->ready = vq_enable(vq, &fv->gm, features) == 0;
	if (!fv->ready)
		return;
	FUZZ_CHECK(is_power_of_2(vq->num));
	FUZZ_CHECK(in_ram(vq->desc, vq_desc_bytes(vq->num)));
	FUZZ_CHECK(in_ram(vq->avail, vq_avail_bytes(vq->num)));
	FUZZ_CHECK(in_ram(vq->used, vq_used_bytes(vq->num)));
}

static void ram_patch(struct fuzz_in *in)
{
	uint16_t off = fz_u16(in);
	size_t len = fz_u8(in), got;
	const uint8_t *src = fz_take(in, min_u64(len, RAM_SIZE - off), &got);

	memcpy(fv->ram + off, src, got);
}

/* What a device does with a chain: reads its readable bytes, writes its writable ones. */
static void chain_check(const struct vq_chain *c)
{
	uint64_t rd = 0, wr = 0;
	volatile uint8_t sink;

	FUZZ_CHECK(c->head < fv->vq.num);
	FUZZ_CHECK(c->nr_segs <= fv->vq.num);
	FUZZ_CHECK(c->nr_readable <= c->nr_segs);
	for (unsigned i = 0; i < c->nr_segs; i++) {
		const struct vq_seg *s = &c->segs[i];

		FUZZ_CHECK(s->len > 0);
		FUZZ_CHECK(in_ram(s->ptr, s->len));
		FUZZ_CHECK(s->writable == (i >= c->nr_readable));
		sink = s->ptr[0];
		sink = s->ptr[s->len - 1];
		if (s->writable) {
			s->ptr[0] = sink;
			s->ptr[s->len - 1] = 0xa5;
			wr += s->len;
		} else {
			rd += s->len;
		}
	}
	FUZZ_CHECK(rd == c->readable_len);
	FUZZ_CHECK(wr == c->writable_len);
}

/* 1 with a chain (kept as outstanding), 0 when empty, -EIO when the ring broke. */
static int vq_pop_one(struct vq_chain *c)
{
	int r;

	if (!fv->ready || fv->nr_pending == NUM_MAX)
		return 0;
	r = vq_pop(&fv->vq, c);
	FUZZ_CHECK(r == 1 || r == 0 || r == -EIO);
	if (r < 0)
		fv->ready = false;
	if (r <= 0)
		return r;
	chain_check(c);
	fv->pending[(fv->pending_head + fv->nr_pending++) % NUM_MAX] = c->head;
	return 1;
}

static void vq_push_oldest(uint32_t len)
{
	if (!fv->ready || !fv->nr_pending)
		return;
	vq_push(&fv->vq, fv->pending[fv->pending_head], len);
	fv->pending_head = (fv->pending_head + 1) % NUM_MAX;
	fv->nr_pending--;
}

static void vq_drain(void)
{
	struct vq_chain c = { .segs = fv->segs };

	/* A ring hands out at most num chains before the driver must publish more. */
	for (unsigned i = 0; i <= NUM_MAX && vq_pop_one(&c) > 0; i++)
		vq_push_oldest((uint32_t)c.writable_len);
	if (fv->ready)
		vq_publish(&fv->vq);
}

static void vq_op(struct fuzz_in *in, uint8_t op)
{
	struct vq_chain c = { .segs = fv->segs };

	switch (op % OP_NR) {
	case OP_PATCH:
		ram_patch(in);
		break;
	case OP_POP:
		vq_pop_one(&c);
		break;
	case OP_PUBLISH:
		if (fv->ready)
			vq_publish(&fv->vq);
		break;
	case OP_PUSH:
		vq_push_oldest(fz_u32(in));
		break;
	case OP_RESTART:
		vq_disable(&fv->vq);
		vq_config_read(in);
		break;
	default:
		vq_drain();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);

	memset(fv->ram, 0, RAM_SIZE);
	vq_config_read(&in);
	while (!fz_empty(&in))
		vq_op(&in, fz_u8(&in));
	vq_disable(&fv->vq);
	return 0;
}
