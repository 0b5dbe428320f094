// SPDX-License-Identifier: MIT
/*
 * virtio-blk abuse. Broken rings (descriptors outside RAM, loops, chains longer than the queue,
 * lengths that wrap, nested or malformed indirect tables, an avail index that jumps) must stop
 * the device with DEVICE_NEEDS_RESET and touch nothing. Well-formed rings carrying invalid
 * requests (sectors past the end, odd or huge lengths, unknown types) must fail with IOERR or
 * UNSUPP and leave the device working. No request here is a valid write: the disk must come
 * out byte-identical. Finally a reset and a good read show the device recovered.
 */
#include "virtio.h"

#define T_IN	       0
#define T_OUT	       1
#define T_FLUSH	       4
#define T_GET_ID       8
#define T_DISCARD      11
#define T_WRITE_ZEROES 13
#define S_OK	       0
#define S_IOERR	       1
#define S_UNSUPP       2
#define SENTINEL       0xaa
#define QNUM	       8
#define WAIT_MS	       5000

struct blk {
	u64 dev;
	const struct arena *a;
	u64 cap; /* sectors */
	struct vq q;
};

static void hdr_set(const struct arena *a, u32 type, u64 sector)
{
	*(volatile u32 *)(uintptr_t)a->hdr = type;
	*(volatile u32 *)(uintptr_t)(a->hdr + 4) = 0;
	*(volatile u64 *)(uintptr_t)(a->hdr + 8) = sector;
}

static u8 status_byte(const struct arena *a)
{
	return *(volatile u8 *)(uintptr_t)a->status;
}

/* The usual request: header (readable), data, status (writable), descriptors 0, 1, 2. */
static void chain3(const struct blk *b, u64 data, u32 len, u16 data_flags)
{
	const struct arena *a = b->a;

	desc_set(b->q.desc, 0, a->hdr, 16, VD_NEXT, 1);
	desc_set(b->q.desc, 1, data, len, data_flags | VD_NEXT, 2);
	desc_set(b->q.desc, 2, a->status, 1, VD_WRITE, 0);
}

/* ---- broken rings: each builds its chain and kicks; the device must need a reset ---- */

static void br_below_ram(struct blk *b)
{
	chain3(b, b->a->data, 512, VD_WRITE);
	desc_set(b->q.desc, 0, 0x1000, 16, VD_NEXT, 1);
	vq_submit(&b->q, 0);
}

static void br_past_ram(struct blk *b)
{
	chain3(b, b->a->ram_end - 256, 512, VD_WRITE);
	vq_submit(&b->q, 0);
}

static void br_wraps(struct blk *b)
{
	chain3(b, 0xfffffffffffff000ULL, 0x2000, VD_WRITE);
	vq_submit(&b->q, 0);
}

static void br_len_4g(struct blk *b)
{
	chain3(b, b->a->data, 0xffffffffu, VD_WRITE);
	vq_submit(&b->q, 0);
}

static void br_head_oob(struct blk *b)
{
	chain3(b, b->a->data, 512, VD_WRITE);
	vq_submit(&b->q, 200);
}

static void br_next_oob(struct blk *b)
{
	chain3(b, b->a->data, 512, VD_WRITE);
	desc_set(b->q.desc, 1, b->a->data, 512, VD_WRITE | VD_NEXT, QNUM + 1);
	vq_submit(&b->q, 0);
}

static void br_loop2(struct blk *b)
{
	desc_set(b->q.desc, 0, b->a->hdr, 16, VD_NEXT, 1);
	desc_set(b->q.desc, 1, b->a->data, 512, VD_NEXT, 0);
	vq_submit(&b->q, 0);
}

static void br_self_loop(struct blk *b)
{
	desc_set(b->q.desc, 0, b->a->hdr, 16, VD_NEXT, 0);
	vq_submit(&b->q, 0);
}

static void br_write_then_read(struct blk *b)
{
	chain3(b, b->a->data, 512, VD_WRITE);
	desc_set(b->q.desc, 2, b->a->status, 1, VD_WRITE | VD_NEXT, 3);
	desc_set(b->q.desc, 3, b->a->hdr, 16, 0, 0); /* readable after writable */
	vq_submit(&b->q, 0);
}

/* One descriptor pointing at indirect table A of n entries. */
static void indirect_head(struct blk *b, u64 table, u32 bytes, u16 extra_flags)
{
	desc_set(b->q.desc, 0, table, bytes, VD_INDIRECT | extra_flags, 1);
	desc_set(b->q.desc, 1, b->a->status, 1, VD_WRITE, 0);
}

/* A well-formed request inside table A: header, data, status. */
static void table_request(const struct blk *b, u64 t)
{
	desc_set(t, 0, b->a->hdr, 16, VD_NEXT, 1);
	desc_set(t, 1, b->a->data, 512, VD_WRITE | VD_NEXT, 2);
	desc_set(t, 2, b->a->status, 1, VD_WRITE, 0);
}

/* A well-formed indirect request: refused only when the feature was not negotiated. */
static void br_ind_valid(struct blk *b)
{
	table_request(b, b->a->ind_a);
	indirect_head(b, b->a->ind_a, 48, 0);
	vq_submit(&b->q, 0);
}

static void br_ind_nested(struct blk *b)
{
	table_request(b, b->a->ind_b);
	desc_set(b->a->ind_a, 0, b->a->ind_b, 48, VD_INDIRECT, 0);
	indirect_head(b, b->a->ind_a, 16, 0);
	vq_submit(&b->q, 0);
}

static void br_ind_len0(struct blk *b)
{
	table_request(b, b->a->ind_a);
	indirect_head(b, b->a->ind_a, 0, 0);
	vq_submit(&b->q, 0);
}

static void br_ind_len24(struct blk *b)
{
	table_request(b, b->a->ind_a);
	indirect_head(b, b->a->ind_a, 24, 0);
	vq_submit(&b->q, 0);
}

static void br_ind_next(struct blk *b)
{
	table_request(b, b->a->ind_a);
	indirect_head(b, b->a->ind_a, 48, VD_NEXT);
	vq_submit(&b->q, 0);
}

static void br_ind_outside(struct blk *b)
{
	indirect_head(b, 0x2000, 48, 0);
	vq_submit(&b->q, 0);
}

static void br_ind_past_ram(struct blk *b)
{
	indirect_head(b, b->a->ram_end - 32, 48, 0);
	vq_submit(&b->q, 0);
}

static void br_ind_loop(struct blk *b)
{
	desc_set(b->a->ind_a, 0, b->a->hdr, 16, VD_NEXT, 1);
	desc_set(b->a->ind_a, 1, b->a->data, 16, VD_NEXT, 0);
	indirect_head(b, b->a->ind_a, 32, 0);
	vq_submit(&b->q, 0);
}

static void br_ind_next_oob(struct blk *b)
{
	desc_set(b->a->ind_a, 0, b->a->hdr, 16, VD_NEXT, 5);
	desc_set(b->a->ind_a, 1, b->a->status, 1, VD_WRITE, 0);
	indirect_head(b, b->a->ind_a, 32, 0);
	vq_submit(&b->q, 0);
}

/* 64 chained entries in one table: longer than the queue (8) allows. */
static void br_ind_too_long(struct blk *b)
{
	for (unsigned i = 0; i < 63; i++)
		desc_set(b->a->ind_a, i, b->a->hdr, 16, VD_NEXT, (u16)(i + 1));
	desc_set(b->a->ind_a, 63, b->a->status, 1, VD_WRITE, 0);
	indirect_head(b, b->a->ind_a, 64 * 16, 0);
	vq_submit(&b->q, 0);
}

static void br_avail_jump(struct blk *b)
{
	vq_kick_idx(&b->q, QNUM + 1);
}

static void br_avail_jump_far(struct blk *b)
{
	vq_kick_idx(&b->q, 0x8000);
}

struct ring_case {
	const char *name;
	void (*build)(struct blk *b);
	bool no_indirect; /* negotiate without VIRTIO_F_INDIRECT_DESC */
};

static const struct ring_case ring_cases[] = {
	{ "header below RAM", br_below_ram, false },
	{ "buffer runs past RAM", br_past_ram, false },
	{ "addr+len wraps", br_wraps, false },
	{ "length 4 GiB - 1", br_len_4g, false },
	{ "head index 200 of 8", br_head_oob, false },
	{ "next index 9 of 8", br_next_oob, false },
	{ "two-descriptor loop", br_loop2, false },
	{ "descriptor points at itself", br_self_loop, false },
	{ "readable after writable", br_write_then_read, false },
	{ "indirect in indirect", br_ind_nested, false },
	{ "indirect of length 0", br_ind_len0, false },
	{ "indirect of length 24", br_ind_len24, false },
	{ "indirect with NEXT", br_ind_next, false },
	{ "indirect table at 0x2000", br_ind_outside, false },
	{ "indirect table past RAM", br_ind_past_ram, false },
	{ "indirect loop", br_ind_loop, false },
	{ "indirect next out of table", br_ind_next_oob, false },
	{ "indirect chain of 64 > 8", br_ind_too_long, false },
	{ "indirect not negotiated", br_ind_valid, true },
	{ "avail idx jumps by 9", br_avail_jump, false },
	{ "avail idx jumps by 0x8000", br_avail_jump_far, false },
};

static bool blk_start(struct blk *b, u32 features, u16 num)
{
	const struct arena *a = b->a;

	if (!vdev_negotiate(b->dev, features, F_HI_VERSION_1))
		return false;
	rings_clear(a);
	if (!vq_setup(&b->q, b->dev, num, a->desc, a->avail, a->used))
		return false;
	vdev_driver_ok(b->dev);
	return true;
}

static bool ring_case_run(struct blk *b, const struct ring_case *c)
{
	enum vq_outcome o;
	u32 len;
	u8 st;

	if (!blk_start(b, c->no_indirect ? 0 : F_INDIRECT, QNUM)) {
		pr("BG blk broken %-28s: device refused a good setup (status %#x)\n", c->name,
		   vdev_status(b->dev));
		return false;
	}
	hdr_set(b->a, T_IN, 2);
	*(volatile u8 *)(uintptr_t)b->a->status = SENTINEL;
	c->build(b);
	o = vq_wait(&b->q, 1, &len, WAIT_MS);
	st = status_byte(b->a);
	pr("BG blk broken %-28s: %s, status %#x isr %#x used %u, status byte %#x\n", c->name,
	   vq_outcome_name(o), vdev_status(b->dev), rd32(b->dev + VM_INT_STATUS), used_idx(&b->q),
	   st);
	vdev_reset(b->dev);
	return o == VQ_NEEDS_RESET && st == SENTINEL;
}

/* Rings the device must refuse at QueueReady: misaligned, past RAM, above 4 GiB, wrapping. */
static bool queue_case_run(struct blk *b, const char *name, u64 desc, u64 avail, u64 used)
{
	u32 ready, status;

	vdev_negotiate(b->dev, F_INDIRECT, F_HI_VERSION_1);
	ready = vq_setup(&b->q, b->dev, QNUM, desc, avail, used);
	status = vdev_status(b->dev);
	pr("BG blk queue  %-28s: ready %u status %#x isr %#x\n", name, ready, status,
	   rd32(b->dev + VM_INT_STATUS));
	vdev_reset(b->dev);
	return !ready && (status & ST_NEEDS_RESET);
}

static void blk_broken(struct blk *b)
{
	const struct arena *a = b->a;
	unsigned ok = 0, n = 0;

	ok += queue_case_run(b, "desc table misaligned", a->desc + 8, a->avail, a->used);
	ok += queue_case_run(b, "used ring past RAM", a->desc, a->avail, a->ram_end - 16);
	ok += queue_case_run(b, "avail ring at 4 GiB + x", a->desc, a->avail + (1ULL << 32),
			     a->used);
	ok += queue_case_run(b, "desc table wraps", 0xfffffffffffff000ULL, a->avail, a->used);
	n += 4;
	for (unsigned i = 0; i < ARRAY_SIZE(ring_cases); i++, n++)
		ok += ring_case_run(b, &ring_cases[i]);
	pr("BGR blk.broken %u/%u\n", ok, n);
}

/* ---- invalid requests on a healthy ring ---- */

struct seg {
	u64 addr;
	u32 len;
	u16 flags;
};

/* Chains segs as descriptors 0..n-1 and waits for the device; the used length in *len. */
static enum vq_outcome blk_chain(struct blk *b, const struct seg *segs, unsigned n, u32 *len)
{
	for (unsigned i = 0; i < n; i++)
		desc_set(b->q.desc, i, segs[i].addr, segs[i].len,
			 segs[i].flags | (i + 1 < n ? VD_NEXT : 0), (u16)(i + 1));
	*(volatile u8 *)(uintptr_t)b->a->status = SENTINEL;
	vq_submit(&b->q, 0);
	return vq_wait(&b->q, b->q.next_avail, len, WAIT_MS);
}

/* header, one data buffer (device-writable for reads), status */
static u8 blk_rw(struct blk *b, u32 type, u64 sector, u64 data, u32 len, u32 *used)
{
	const struct arena *a = b->a;
	struct seg s[] = {
		{ a->hdr, 16, 0 },
		{ data, len, type == T_IN ? VD_WRITE : 0 },
		{ a->status, 1, VD_WRITE },
	};
	enum vq_outcome o;

	hdr_set(a, type, sector);
	o = blk_chain(b, s, 3, used);
	return o == VQ_USED ? status_byte(a) : (u8)(0xf0 | o);
}

/* discard / write-zeroes with nr ranges of (sector, num, flags) */
static u8 blk_dwz(struct blk *b, u32 type, u64 sector, u32 num, u32 flags, unsigned nr, u32 payload,
		  u32 *used)
{
	const struct arena *a = b->a;
	struct seg s[] = {
		{ a->hdr, 16, 0 },
		{ a->data, payload, 0 },
		{ a->status, 1, VD_WRITE },
	};
	enum vq_outcome o;

	for (unsigned i = 0; i < nr; i++) {
		*(volatile u64 *)(uintptr_t)(a->data + 16ULL * i) = sector;
		*(volatile u32 *)(uintptr_t)(a->data + 16ULL * i + 8) = num;
		*(volatile u32 *)(uintptr_t)(a->data + 16ULL * i + 12) = flags;
	}
	hdr_set(a, type, 0);
	o = blk_chain(b, s, 3, used);
	return o == VQ_USED ? status_byte(a) : (u8)(0xf0 | o);
}

struct tally {
	unsigned refused, refused_of, ok, ok_of;
};

static void req_report(struct tally *t, const char *name, u8 st, u32 used, bool want_ok)
{
	bool good = want_ok ? st == S_OK : st == S_IOERR || st == S_UNSUPP;

	pr("BG blk req %-34s: status byte %#x, used length %u%s\n", name, st, used,
	   good ? "" : " UNEXPECTED");
	if (want_ok) {
		t->ok_of++;
		t->ok += good;
	} else {
		t->refused_of++;
		t->refused += good;
	}
}

static void blk_bad_reads(struct blk *b, struct tally *t)
{
	const struct arena *a = b->a;
	u64 half = b->cap / 2;
	u32 used;
	u8 st;

	st = blk_rw(b, T_IN, b->cap, a->data, 512, &used);
	req_report(t, "read at the capacity", st, used, false);
	st = blk_rw(b, T_IN, b->cap - 1, a->data, 1024, &used);
	req_report(t, "read across the end", st, used, false);
	st = blk_rw(b, T_IN, ~0ULL, a->data, 512, &used);
	req_report(t, "read at sector 2^64-1", st, used, false);
	st = blk_rw(b, T_IN, 1ULL << 55, a->data, 512, &used);
	req_report(t, "read at sector 2^55 (offset wraps)", st, used, false);
	st = blk_rw(b, T_IN, 2, a->data, 100, &used);
	req_report(t, "read of 100 bytes", st, used, false);
	/* bigger than what is left of the disk from half-way: must fail, never fill RAM */
	st = blk_rw(b, T_IN, half, a->big, (u32)a->big_len, &used);
	req_report(t, "read of 256 MiB from mid-disk", st, used,
		   (a->big_len / 512) <= b->cap - half);
}

static void blk_bad_writes(struct blk *b, struct tally *t)
{
	const struct arena *a = b->a;
	u32 used;
	u8 st;

	memset((void *)(uintptr_t)a->data, 0x5a, 1024);
	st = blk_rw(b, T_OUT, b->cap, a->data, 512, &used);
	req_report(t, "write at the capacity", st, used, false);
	st = blk_rw(b, T_OUT, b->cap - 1, a->data, 1024, &used);
	req_report(t, "write across the end", st, used, false);
	st = blk_rw(b, T_OUT, 0, a->data, 100, &used);
	req_report(t, "write of 100 bytes at sector 0", st, used, false);
	st = blk_rw(b, T_OUT, 1ULL << 55, a->data, 512, &used);
	req_report(t, "write at sector 2^55", st, used, false);
	st = blk_rw(b, T_OUT, b->cap - 8, a->big, (u32)a->big_len, &used);
	req_report(t, "write of 256 MiB 8 sectors from the end", st, used, false);
	st = blk_rw(b, 0x77, 0, a->data, 512, &used);
	req_report(t, "unknown type 0x77", st, used, false);
	st = blk_dwz(b, T_DISCARD, b->cap, 8, 0, 1, 16, &used);
	req_report(t, "discard past the end", st, used, false);
	st = blk_dwz(b, T_DISCARD, b->cap, 8, 1, 1, 16, &used);
	req_report(t, "discard with the unmap flag", st, used, false);
	st = blk_dwz(b, T_DISCARD, b->cap, 8, 0, 17, 17 * 16, &used);
	req_report(t, "discard of 17 ranges", st, used, false);
	st = blk_dwz(b, T_DISCARD, b->cap, 8, 0, 1, 10, &used);
	req_report(t, "discard with a 10-byte payload", st, used, false);
	st = blk_dwz(b, T_WRITE_ZEROES, b->cap - 4, 8, 0, 1, 16, &used);
	req_report(t, "write-zeroes across the end", st, used, false);
	st = blk_dwz(b, T_WRITE_ZEROES, b->cap, 1, 0x80, 1, 16, &used);
	req_report(t, "write-zeroes with unknown flags", st, used, false);
}

static void blk_odd_shapes(struct blk *b, struct tally *t)
{
	const struct arena *a = b->a;
	struct seg short_hdr[] = { { a->hdr, 8, 0 }, { a->status, 1, VD_WRITE } };
	struct seg no_status[] = { { a->hdr, 16, 0 } };
	struct seg id[] = { { a->hdr, 16, 0 },
			    { a->data, 20, VD_WRITE },
			    { a->status, 1, VD_WRITE } };
	struct seg into_ring[] = { { a->hdr, 16, 0 },
				   { a->desc, 512, VD_WRITE },
				   { a->status, 1, VD_WRITE } };
	enum vq_outcome o;
	u32 used;

	hdr_set(a, T_IN, 2);
	o = blk_chain(b, short_hdr, 2, &used);
	req_report(t, "8-byte header", o == VQ_USED ? status_byte(a) : 0xf0, used, false);
	o = blk_chain(b, no_status, 1, &used);
	pr("BG blk req %-34s: %s, used length %u, status byte %#x (untouched: %d)\n",
	   "no status byte", vq_outcome_name(o), used, status_byte(a), status_byte(a) == SENTINEL);
	t->refused_of++;
	t->refused += o == VQ_USED && used == 0 && status_byte(a) == SENTINEL;
	hdr_set(a, T_GET_ID, 0);
	o = blk_chain(b, id, 3, &used);
	pr("BG blk req %-34s: status byte %#x, id '%s'\n", "GET_ID", status_byte(a),
	   (const char *)(uintptr_t)a->data);
	hdr_set(a, T_FLUSH, 0);
	o = blk_chain(b, id, 3, &used);
	req_report(t, "flush (writes nothing)", o == VQ_USED ? status_byte(a) : 0xf0, used, true);
	hdr_set(a, T_IN, 2);
	o = blk_chain(b, into_ring, 3, &used);
	req_report(t, "read into the descriptor table", o == VQ_USED ? status_byte(a) : 0xf0, used,
		   true);
}

static void blk_requests(struct blk *b)
{
	struct tally t = { 0 };
	bool live;

	if (!blk_start(b, F_INDIRECT, QNUM)) {
		pr("BGR blk.requests setup-failed status=%#x\n", vdev_status(b->dev));
		return;
	}
	blk_bad_reads(b, &t);
	blk_bad_writes(b, &t);
	blk_odd_shapes(b, &t);
	live = !(vdev_status(b->dev) & ST_NEEDS_RESET);
	pr("BGR blk.requests refused=%u/%u ok=%u/%u live=%d status=%#x\n", t.refused, t.refused_of,
	   t.ok, t.ok_of, live, vdev_status(b->dev));
	vdev_reset(b->dev);
}

/* After all that, a reset and a plain read: the ext4 superblock magic at byte 1080. */
static void blk_read_after_reset(struct blk *b)
{
	const struct arena *a = b->a;
	volatile u8 *sb = (volatile u8 *)(uintptr_t)a->data;
	u32 used, used_last;
	u8 st, st_last;

	if (!blk_start(b, 0, QNUM)) {
		pr("BGR blk.read_after_reset setup-failed status=%#x\n", vdev_status(b->dev));
		return;
	}
	memset((void *)(uintptr_t)a->data, 0, 512);
	st = blk_rw(b, T_IN, 2, a->data, 512, &used);
	st_last = blk_rw(b, T_IN, b->cap - 1, a->data + 512, 512, &used_last);
	pr("BGR blk.read_after_reset st=%u used=%u magic=%#x last_sector_st=%u\n", st, used,
	   sb[56] | sb[57] << 8, st_last);
	vdev_reset(b->dev);
}

void blk_abuse(u64 dev, const struct arena *a)
{
	struct blk b = { .dev = dev, .a = a };

	b.cap = rd32(dev + VM_CONFIG) | (u64)rd32(dev + VM_CONFIG + 4) << 32;
	pr("BG blk: capacity %lu sectors (%lu MiB)\n", b.cap, b.cap >> 11);
	if (b.cap < 16) {
		pr("BGR blk.skipped capacity=%lu\n", b.cap);
		return;
	}
	blk_broken(&b);
	blk_requests(&b);
	blk_read_after_reset(&b);
}
