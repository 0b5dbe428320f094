// SPDX-License-Identifier: MIT
/*
 * virtio-rng abuse. The device serves requests on the notifying vCPU, so a request bigger than
 * its 64 KiB cap must be cut short rather than stall the vCPU, and a broken ring must stop it.
 */
#include "virtio.h"

#define QNUM	8
#define WAIT_MS 5000

static bool rng_start(u64 dev, const struct arena *a, struct vq *q)
{
	if (!vdev_negotiate(dev, F_INDIRECT, F_HI_VERSION_1))
		return false;
	rings_clear(a);
	if (!vq_setup(q, dev, QNUM, a->desc, a->avail, a->used))
		return false;
	vdev_driver_ok(dev);
	return true;
}

/* One buffer; returns the used length, or 0xffffffff when the device stopped instead. */
static u32 rng_one(struct vq *q, u64 addr, u32 len, u16 flags, enum vq_outcome *o)
{
	u32 used;

	desc_set(q->desc, 0, addr, len, flags, 0);
	vq_submit(q, 0);
	*o = vq_wait(q, q->next_avail, &used, WAIT_MS);
	return *o == VQ_USED ? used : 0xffffffffu;
}

void rng_abuse(u64 dev, const struct arena *a)
{
	enum vq_outcome o_small, o_big, o_ro, o_out, o_jump, o_again;
	u32 small, big, ro, again;
	struct vq q;

	if (!rng_start(dev, a, &q)) {
		pr("BGR rng setup-failed status=%#x\n", vdev_status(dev));
		return;
	}
	small = rng_one(&q, a->data, 16, VD_WRITE, &o_small);
	big = rng_one(&q, a->big, 16 * SZ_1M, VD_WRITE, &o_big);
	ro = rng_one(&q, a->data, 64, 0, &o_ro); /* nothing device-writable */
	rng_one(&q, a->ram_end - 8, 64, VD_WRITE, &o_out);
	pr("BG rng: 16 bytes -> %u (%s); 16 MiB -> %u (%s); read-only buffer -> %u (%s); buffer "
	   "past RAM -> %s, status %#x\n",
	   small, vq_outcome_name(o_small), big, vq_outcome_name(o_big), ro, vq_outcome_name(o_ro),
	   vq_outcome_name(o_out), vdev_status(dev));
	rng_start(dev, a, &q);
	vq_kick_idx(&q, QNUM + 1);
	o_jump = vq_wait(&q, 1, &again, WAIT_MS);
	rng_start(dev, a, &q);
	again = rng_one(&q, a->data, 32, VD_WRITE, &o_again);
	pr("BG rng: avail idx jump -> %s; after a reset 32 bytes -> %u\n", vq_outcome_name(o_jump),
	   again);
	pr("BGR rng small=%u capped=%u readonly=%u outside=%s jump=%s after_reset=%u\n", small, big,
	   ro, vq_outcome_name(o_out), vq_outcome_name(o_jump), again);
	vdev_reset(dev);
}
