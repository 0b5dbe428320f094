// SPDX-License-Identifier: MIT
/*
 * virtio-mmio: a minimal driver (reset, negotiation, one queue) and the transport abuse every
 * device gets: wrong widths, read-only and write-only registers, a status that skips steps,
 * features without VERSION_1, queues programmed out of order, config space past its end.
 */
#include "virtio.h"

void arena_init(const struct machine *m, struct arena *a)
{
	u64 s = m->ram_base + 16 * SZ_1M;

	a->desc = s;
	a->avail = s + 0x1000;
	a->used = s + 0x2000;
	a->ind_a = s + 0x3000;
	a->ind_b = s + 0x4000;
	a->hdr = s + 0x5000;
	a->status = s + 0x6000;
	a->data = s + 0x10000;
	/* 64 MiB in, up to 256 MiB long, ending at least 64 MiB below the DTB */
	a->big = m->ram_base + 64 * SZ_1M;
	a->big_len = m->ram_size >= 448 * SZ_1M ? 256 * SZ_1M : m->ram_size / 4;
	a->ram_end = m->ram_base + m->ram_size;
}

/* Zeroed rings: avail and used indices start at 0, as the device assumes after a reset. */
void rings_clear(const struct arena *a)
{
	memset((void *)(uintptr_t)a->desc, 0, 0x3000);
}

void vdev_reset(u64 dev)
{
	wr32(dev + VM_STATUS, 0);
}

u32 vdev_status(u64 dev)
{
	return rd32(dev + VM_STATUS);
}

static void status_add(u64 dev, u32 bits)
{
	wr32(dev + VM_STATUS, vdev_status(dev) | bits);
}

static void features_write(u64 dev, u32 sel, u32 v)
{
	wr32(dev + VM_DRV_FEAT_SEL, sel);
	wr32(dev + VM_DRV_FEATURES, v);
}

bool vdev_negotiate(u64 dev, u32 lo, u32 hi)
{
	vdev_reset(dev);
	status_add(dev, ST_ACK);
	status_add(dev, ST_DRIVER);
	features_write(dev, 0, lo);
	features_write(dev, 1, hi);
	status_add(dev, ST_FEATURES_OK);
	return vdev_status(dev) & ST_FEATURES_OK;
}

void vdev_driver_ok(u64 dev)
{
	status_add(dev, ST_DRIVER_OK);
}

static void addr_write(u64 dev, u32 lo_reg, u64 addr)
{
	wr32(dev + lo_reg, (u32)addr);
	wr32(dev + lo_reg + 4, (u32)(addr >> 32));
}

u32 vq_setup(struct vq *q, u64 dev, u16 num, u64 desc, u64 avail, u64 used)
{
	q->dev = dev;
	q->num = num;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->next_avail = 0;
	wr32(dev + VM_QUEUE_SEL, 0);
	wr32(dev + VM_QUEUE_NUM, num);
	addr_write(dev, VM_QUEUE_DESC_LO, desc);
	addr_write(dev, VM_QUEUE_AVAIL_LO, avail);
	addr_write(dev, VM_QUEUE_USED_LO, used);
	wr32(dev + VM_QUEUE_READY, 1);
	return rd32(dev + VM_QUEUE_READY);
}

void desc_set(u64 table, unsigned i, u64 addr, u32 len, u16 flags, u16 next)
{
	volatile u8 *d = (volatile u8 *)(uintptr_t)(table + 16ULL * i);

	*(volatile u64 *)d = addr;
	*(volatile u32 *)(d + 8) = len;
	*(volatile u16 *)(d + 12) = flags;
	*(volatile u16 *)(d + 14) = next;
}

void vq_kick_idx(struct vq *q, u16 idx)
{
	dsb();
	*(volatile u16 *)(uintptr_t)(q->avail + 2) = idx;
	dsb();
	wr32(q->dev + VM_QUEUE_NOTIFY, 0);
}

void vq_submit(struct vq *q, u16 head)
{
	*(volatile u16 *)(uintptr_t)(q->avail + 4 + 2ULL * (q->next_avail % q->num)) = head;
	q->next_avail++;
	vq_kick_idx(q, q->next_avail);
}

u16 used_idx(const struct vq *q)
{
	return *(volatile u16 *)(uintptr_t)(q->used + 2);
}

/* The device works on another thread (virtio-blk) or inline (virtio-rng): poll both signs. */
enum vq_outcome vq_wait(struct vq *q, u16 want, u32 *len, u64 ms)
{
	u64 end = now_ticks() + ticks_per_ms() * ms;

	*len = 0;
	for (;;) {
		u16 idx = used_idx(q);

		if ((u16)(idx - want) < 0x8000) {
			u16 slot = (u16)(want - 1) % q->num;

			*len = *(volatile u32 *)(uintptr_t)(q->used + 4 + 8ULL * slot + 4);
			wr32(q->dev + VM_INT_ACK, rd32(q->dev + VM_INT_STATUS));
			return VQ_USED;
		}
		if (vdev_status(q->dev) & ST_NEEDS_RESET)
			return VQ_NEEDS_RESET;
		if (now_ticks() > end)
			return VQ_TIMEOUT;
		delay_us(200);
	}
}

const char *vq_outcome_name(enum vq_outcome o)
{
	return o == VQ_USED ? "used" : o == VQ_NEEDS_RESET ? "needs_reset" : "TIMEOUT";
}

/* ---- transport abuse ---- */

struct transport_obs {
	bool regs_ro, wo_zero, widths;
	u32 jump, jump_all, no_v1, bad_feat, not_offered, early_ready, oob_max, oob_ready;
	u32 noaddr, noaddr_isr, noaddr_ready, after_ok, after_clear, after_reset;
	u64 cfg8, cfg_end, cfg_after_write;
	u32 shm_len;
	struct probe unaligned, cfg_unaligned;
};

static const u32 ro_regs[] = { VM_MAGIC,	VM_VERSION,	  VM_DEVICE_ID,	 VM_VENDOR_ID,
			       VM_DEV_FEATURES, VM_QUEUE_NUM_MAX, VM_INT_STATUS, VM_CONFIG_GEN };
static const u32 wo_regs[] = { VM_DEV_FEAT_SEL,
			       VM_DRV_FEATURES,
			       VM_DRV_FEAT_SEL,
			       VM_QUEUE_SEL,
			       VM_QUEUE_NUM,
			       VM_QUEUE_NOTIFY,
			       VM_INT_ACK,
			       VM_QUEUE_DESC_LO,
			       VM_QUEUE_DESC_HI,
			       VM_QUEUE_AVAIL_LO,
			       VM_QUEUE_AVAIL_HI,
			       VM_QUEUE_USED_LO,
			       VM_QUEUE_USED_HI,
			       VM_SHM_SEL,
			       0x0c0,
			       0x0f0 };

static void transport_registers(u64 d, struct transport_obs *o)
{
	struct probe b, h, q;

	vdev_reset(d);
	o->regs_ro = true;
	for (unsigned i = 0; i < ARRAY_SIZE(ro_regs); i++) {
		u32 before = rd32(d + ro_regs[i]);

		wr32(d + ro_regs[i], ~before);
		o->regs_ro &= rd32(d + ro_regs[i]) == before;
	}
	o->wo_zero = true;
	for (unsigned i = 0; i < ARRAY_SIZE(wo_regs); i++)
		o->wo_zero &= rd32(d + wo_regs[i]) == 0;
	/* registers are 32-bit only: narrower and wider accesses read 0, a wide write is dropped */
	b = probe_read(d + VM_MAGIC, 1);
	h = probe_read(d + VM_MAGIC, 2);
	q = probe_read(d + VM_MAGIC, 8);
	probe_write(d + VM_STATUS, 8, ~0ULL);
	probe_write(d + VM_STATUS, 1, ST_ACK);
	o->widths = !b.val && !h.val && !q.val && !b.faulted && !h.faulted && !q.faulted &&
		    vdev_status(d) == 0;
	o->unaligned = probe_read(d + 2, 4);
	wr32(d + VM_SHM_SEL, 0);
	o->shm_len = rd32(d + VM_SHM_LEN_LO);
}

static void transport_status(u64 d, struct transport_obs *o)
{
	u32 lo;

	vdev_reset(d);
	wr32(d + VM_STATUS, ST_DRIVER_OK); /* straight to DRIVER_OK */
	o->jump = vdev_status(d);
	wr32(d + VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	o->jump_all = vdev_status(d);

	wr32(d + VM_DEV_FEAT_SEL, 0);
	lo = rd32(d + VM_DEV_FEATURES);
	vdev_negotiate(d, lo, 0); /* everything but VERSION_1 */
	o->no_v1 = vdev_status(d);
	vdev_reset(d);
	status_add(d, ST_ACK | ST_DRIVER);
	features_write(d, 1, F_HI_VERSION_1);
	features_write(d, 2, ~0u); /* a feature word that does not exist */
	status_add(d, ST_FEATURES_OK);
	o->bad_feat = vdev_status(d);
	vdev_negotiate(d, ~0u, ~0u); /* every bit, offered or not */
	o->not_offered = vdev_status(d);
}

static void transport_queue(u64 d, struct transport_obs *o)
{
	vdev_reset(d);
	status_add(d, ST_ACK | ST_DRIVER);
	wr32(d + VM_QUEUE_SEL, 0);
	wr32(d + VM_QUEUE_READY, 1); /* before FEATURES_OK */
	o->early_ready = rd32(d + VM_QUEUE_READY);
	vdev_negotiate(d, 0, F_HI_VERSION_1);
	features_write(d, 0, ~0u); /* after FEATURES_OK: must not count */
	wr32(d + VM_QUEUE_SEL, ~0u);
	o->oob_max = rd32(d + VM_QUEUE_NUM_MAX);
	wr32(d + VM_QUEUE_NUM, 8);
	addr_write(d, VM_QUEUE_DESC_LO, 0x40000000);
	wr32(d + VM_QUEUE_READY, 1);
	o->oob_ready = rd32(d + VM_QUEUE_READY);
	wr32(d + VM_QUEUE_SEL, 0);
	wr32(d + VM_QUEUE_NUM, 3);
	wr32(d + VM_QUEUE_NUM, 0);
	wr32(d + VM_QUEUE_NUM, 1000);
	wr32(d + VM_QUEUE_NUM, 0x10000);
	/* ready with no ring addresses at all: the rings would be at 0, outside RAM */
	wr32(d + VM_QUEUE_READY, 1);
	o->noaddr = vdev_status(d);
	o->noaddr_isr = rd32(d + VM_INT_STATUS);
	o->noaddr_ready = rd32(d + VM_QUEUE_READY);
	status_add(d, ST_DRIVER_OK);
	wr32(d + VM_QUEUE_NOTIFY, 0);
	wr32(d + VM_QUEUE_NOTIFY, 7);
	wr32(d + VM_QUEUE_NOTIFY, ~0u);
	o->after_ok = vdev_status(d);
	wr32(d + VM_STATUS, ST_ACK); /* clearing bits is not a reset */
	o->after_clear = vdev_status(d);
	wr32(d + VM_INT_ACK, ~0u);
	vdev_reset(d);
	o->after_reset = vdev_status(d) | rd32(d + VM_INT_STATUS) << 8;
}

static void transport_config(u64 d, struct transport_obs *o)
{
	o->cfg8 = probe_read(d + VM_CONFIG, 8).val;
	o->cfg_end = probe_read(d + 0x1f8, 8).val | probe_read(d + 0x1fc, 4).val;
	probe_write(d + VM_CONFIG, 4, 0xdeadbeef);
	probe_write(d + VM_CONFIG, 8, ~0ULL);
	probe_write(d + 0x1ff, 1, 0xff);
	o->cfg_after_write = probe_read(d + VM_CONFIG, 8).val;
	o->cfg_unaligned = probe_read(d + VM_CONFIG + 1, 2);
}

void virtio_transport_abuse(u64 d, const char *name)
{
	struct transport_obs o;
	bool ok;

	memset(&o, 0, sizeof(o));
	transport_registers(d, &o);
	transport_status(d, &o);
	transport_queue(d, &o);
	transport_config(d, &o);
	pr("BG %s: read-only regs kept %d, write-only regs read 0 %d, 1/2/8-byte accesses "
	   "ignored %d, unaligned read faulted in the guest %d, SHM len %#x\n",
	   name, o.regs_ro, o.wo_zero, o.widths, o.unaligned.faulted, o.shm_len);
	pr("BG %s: status after DRIVER_OK alone %#x, after 0xf %#x; FEATURES_OK without VERSION_1 "
	   "%#x, with feature word 2 %#x, with unoffered bits %#x\n",
	   name, o.jump, o.jump_all, o.no_v1, o.bad_feat, o.not_offered);
	pr("BG %s: QueueReady before FEATURES_OK reads %u; queue ~0: max %u ready %u; ready "
	   "without rings: status %#x isr %#x ready %u; then DRIVER_OK %#x, write 1 %#x, "
	   "reset %#x\n",
	   name, o.early_ready, o.oob_max, o.oob_ready, o.noaddr, o.noaddr_isr, o.noaddr_ready,
	   o.after_ok, o.after_clear, o.after_reset);
	pr("BG %s: config 8 bytes %#lx, past its end %#lx, after writes %#lx; misaligned "
	   "faulted %d\n",
	   name, o.cfg8, o.cfg_end, o.cfg_after_write, o.cfg_unaligned.faulted);
	ok = o.regs_ro && o.wo_zero && o.widths && !(o.jump & ST_DRIVER_OK) &&
	     !(o.jump_all & (ST_FEATURES_OK | ST_DRIVER_OK)) && !(o.no_v1 & ST_FEATURES_OK) &&
	     !(o.bad_feat & ST_FEATURES_OK) && !(o.not_offered & ST_FEATURES_OK) &&
	     !o.early_ready && !o.oob_max && !o.oob_ready && (o.noaddr & ST_NEEDS_RESET) &&
	     !o.noaddr_ready && (o.after_ok & ST_NEEDS_RESET) && o.after_clear == o.after_ok &&
	     !o.after_reset && !o.cfg_end && o.cfg_after_write == o.cfg8;
	pr("BGR vio.%s refused=%d needs_reset=%#x\n", name, ok, o.noaddr);
}

void virtio_abuse(const struct machine *m)
{
	struct arena a;

	arena_init(m, &a);
	for (unsigned i = 0; i < m->nr_virtio; i++) {
		u64 d = m->virtio[i];
		u32 id = rd32(d + VM_DEVICE_ID);
		const char *name = id == VIRTIO_ID_BLOCK ? "blk" :
				   id == VIRTIO_ID_RNG	 ? "rng" :
							   "dev";

		pr("BG virtio slot %u @%#lx: magic %#x version %u device %u vendor %#x\n", i, d,
		   rd32(d + VM_MAGIC), rd32(d + VM_VERSION), id, rd32(d + VM_VENDOR_ID));
		virtio_transport_abuse(d, name);
		if (id == VIRTIO_ID_BLOCK)
			blk_abuse(d, &a);
		else if (id == VIRTIO_ID_RNG)
			rng_abuse(d, &a);
		vdev_reset(d);
	}
}
