// SPDX-License-Identifier: MIT
#include <stdatomic.h>

#include "devices/virtio/virtio.h"
#include "tests/fuzz/fuzz_ring.h"
#include "util/compiler.h"

static void fz_irq_set_level(void *opaque, uint32_t intid, bool level)
{
	struct vdrv *d = opaque;

	atomic_store(&d->level, level);
}

void fz_vdrv_init(struct vdrv *d, uint64_t ram)
{
	FUZZ_CHECK(vdrv_init(d, ram) == 0);
	irq_line_init(&d->irq, fz_irq_set_level, d, 33);
}

void fz_irq_check(struct vdrv *d)
{
	uint32_t isr = vdrv_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);

	FUZZ_CHECK(atomic_load(&d->level) == (isr != 0));
}

void fz_raw_desc(struct vdrv *d, struct fuzz_in *in, unsigned q, uint16_t num, uint64_t data,
		 uint64_t ram)
{
	uint16_t idx = fz_u8(in) % num;
	uint8_t kind = fz_u8(in);
	uint16_t off = fz_u16(in);
	uint32_t len = fz_u32(in);
	uint16_t flags = fz_u16(in), next = fz_u16(in);
	uint64_t addr;

	switch (kind % 4) {
	case 0:
		addr = data + off;
		break;
	case 1: /* an indirect table the driver made, or anything near it */
		addr = d->vq[q].indirect + off % 4096;
		break;
	case 2:
		addr = VDRV_RAM_GPA + ram - (off % 64);
		break;
	default:
		addr = (uint64_t)off << 32 | len;
		break;
	}
	vdrv_desc(d, q, idx, addr, len, flags, next);
	if (fz_u8(in) & 1)
		vdrv_avail_publish(d, q, idx);
}

void fz_ram_patch(struct vdrv *d, struct fuzz_in *in, uint64_t ram)
{
	uint16_t off = fz_u16(in);
	size_t len = fz_u8(in), got;
	const uint8_t *src = fz_take(in, min_u64(len, ram - off), &got);

	memcpy(d->ram + off, src, got);
}

bool fz_transport_op(const struct fz_target *t, struct fuzz_in *in, unsigned op)
{
	switch (op) {
	case FZ_OP_RAW: {
		unsigned q = t->nr_queues > 1 ? fz_u8(in) % t->nr_queues : 0;

		fz_raw_desc(t->d, in, q, t->d->vq[q].num, *t->data, t->ram);
		*t->loose = true;
		return true;
	}
	case FZ_OP_NOTIFY:
		t->write(VIRTIO_MMIO_QUEUE_NOTIFY, fz_u8(in));
		return true;
	case FZ_OP_PATCH:
		fz_ram_patch(t->d, in, t->ram);
		*t->loose = true;
		return true;
	case FZ_OP_RESTART: {
		uint8_t f = fz_u8(in), qs = fz_u8(in);

		t->setup(f, qs);
		return true;
	}
	case FZ_OP_ACK:
		vdrv_ack(t->d);
		FUZZ_CHECK(!atomic_load(&t->d->level));
		return true;
	case FZ_OP_REGISTER: {
		uint64_t reg = (uint64_t)fz_u8(in) * 4;
		uint32_t val = fz_u32(in);

		/* queue addresses, sizes and status may change under the driver */
		if (reg != VIRTIO_MMIO_QUEUE_NOTIFY && reg != VIRTIO_MMIO_INTERRUPT_ACK)
			*t->loose = true;
		t->write(reg, val);
		return true;
	}
	default:
		return false;
	}
}
