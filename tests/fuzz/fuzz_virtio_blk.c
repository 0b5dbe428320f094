// SPDX-License-Identifier: MIT
/*
 * virtio-blk requests through the virtio-mmio transport, on a 64 KiB disk (a memfd), with rings
 * and descriptors from the input. Requests run synchronously (see virtio_harness.h).
 *
 * Input: u8 flags (bit 0 read-only disk, bit 1 EVENT_IDX, bit 2 INDIRECT_DESC, bit 3 no
 * DISCARD/WRITE_ZEROES, bit 4 no FLUSH), u8 queue size (2^(n % 9)), u16 ring offsets in RAM for
 * desc, avail and used; then operations until the input ends:
 *   0 patch    u16 offset, u8 len, bytes: the driver writes RAM
 *   1 request  a request shaped by the input (fz_blk_request), made available and notified
 *   2 notify   u8 queue index
 *   3 ack      reads InterruptStatus and acknowledges it
 *   4 restart  reset and set up again (Linux's order), the driver's ring state from zero
 *   5 register u8 register (offset / 4), u32 value
 * After every operation the interrupt line must match InterruptStatus.
 */
#include "devices/virtio/blk.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/virtio_harness.h"

enum { OP_PATCH, OP_REQUEST, OP_NOTIFY, OP_ACK, OP_RESTART, OP_REGISTER, OP_NR };

static struct fz_virtio *v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	v = fz_virtio_init();
	return 0;
}

static uint64_t blk_features(struct fz_virtio *fv, uint8_t flags)
{
	uint64_t f = fz_device_features(fv);

	if (!(flags & 2))
		f &= ~VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (!(flags & 4))
		f &= ~VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	if (flags & 8)
		f &= ~(VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	if (flags & 16)
		f &= ~VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	return f;
}

static void driver_start(struct fz_driver *drv, uint64_t features)
{
	drv->avail_idx = drv->desc_next = 0;
	drv->data_next = FZ_DATA_OFF;
	fz_virtio_start(v, features, drv);
}

static void blk_op(struct fz_driver *drv, uint64_t features, struct fuzz_in *in)
{
	uint32_t isr;
	uint8_t reg;

	switch (fz_u8(in) % OP_NR) {
	case OP_PATCH:
		fz_ram_patch(v, in);
		break;
	case OP_REQUEST:
		fz_blk_request(v, drv, in);
		break;
	case OP_NOTIFY:
		fz_mmio_write(v, VIRTIO_MMIO_QUEUE_NOTIFY, fz_u8(in));
		break;
	case OP_ACK:
		isr = fz_mmio_read(v, VIRTIO_MMIO_INTERRUPT_STATUS);
		fz_mmio_write(v, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		FUZZ_CHECK(!v->level);
		break;
	case OP_RESTART:
		driver_start(drv, features);
		break;
	default:
		reg = fz_u8(in);
		fz_mmio_write(v, (uint64_t)reg * 4, fz_u32(in));
		break;
	}
	fz_irq_check(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t flags = fz_u8(&in), num_sel = fz_u8(&in);
	struct fz_driver drv = { .num = (uint16_t)(1u << (num_sel % 9)) };
	uint64_t features;

	drv.desc = FZ_RAM_GPA + fz_u16(&in);
	drv.avail = FZ_RAM_GPA + fz_u16(&in);
	drv.used = FZ_RAM_GPA + fz_u16(&in);
	fz_blk_create(v, flags & 1);
	features = blk_features(v, flags);
	driver_start(&drv, features);
	while (!fz_empty(&in))
		blk_op(&drv, features, &in);
	fz_virtio_destroy(v);
	return 0;
}
