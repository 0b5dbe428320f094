// SPDX-License-Identifier: MIT
/*
 * virtio-mmio register sequences: the input is a series of MMIO accesses (any offset in the
 * window and around it, any width) through the bus to a virtio-rng or a virtio-blk device, with
 * RAM writes in between so that notifications find rings to walk.
 *
 * Input: u8 device (bit 0: blk, else rng; bit 1: read-only disk); then operations until the end:
 *   0 write32  u8 register (offset / 4), u32 value
 *   1 read32   u8 register (offset / 4)
 *   2 access   u16 offset from the window's base, u8 width, u8 write, u64 value
 *   3 patch    u16 offset, u8 len, bytes: the driver writes RAM
 *   4 ack      reads InterruptStatus and acknowledges it
 * After every operation the interrupt line must match InterruptStatus.
 */
#include "devices/bus.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/virtio_harness.h"

#define SLOT_BASE 0x0a000000ULL

enum { OP_WRITE32, OP_READ32, OP_ACCESS, OP_PATCH, OP_ACK, OP_NR };

static struct fz_virtio *v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	v = fz_virtio_init();
	return 0;
}

static uint64_t width_mask(unsigned width)
{
	return width >= 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;
}

static void mmio_access(struct bus *bus, struct fuzz_in *in)
{
	uint64_t addr = SLOT_BASE + fz_u16(in);
	unsigned width = fz_u8(in) & 15;
	bool write = fz_u8(in) & 1;
	uint64_t val = fz_u64(in);

	if (write)
		bus_write(bus, addr, width, val);
	else
		FUZZ_CHECK(!(bus_read(bus, addr, width) & ~width_mask(width)));
}

static void mmio_op(struct bus *bus, struct fuzz_in *in)
{
	uint32_t isr;
	uint8_t reg;

	switch (fz_u8(in) % OP_NR) {
	case OP_WRITE32:
		reg = fz_u8(in);
		bus_write(bus, SLOT_BASE + reg * 4u, 4, fz_u32(in));
		break;
	case OP_READ32:
		bus_read(bus, SLOT_BASE + fz_u8(in) * 4u, 4);
		break;
	case OP_ACCESS:
		mmio_access(bus, in);
		break;
	case OP_PATCH:
		fz_ram_patch(v, in);
		break;
	default:
		isr = (uint32_t)bus_read(bus, SLOT_BASE + VIRTIO_MMIO_INTERRUPT_STATUS, 4);
		bus_write(bus, SLOT_BASE + VIRTIO_MMIO_INTERRUPT_ACK, 4, isr);
		break;
	}
	fz_irq_check(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t dev = fz_u8(&in);
	struct virtio_mmio *vm = dev & 1 ? fz_blk_create(v, dev & 2) : fz_rng_create(v);
	struct bus bus;
	struct errbuf e;

	bus_init(&bus);
	FUZZ_CHECK(virtio_mmio_attach(vm, &bus, SLOT_BASE, &e) == 0);
	while (!fz_empty(&in))
		mmio_op(&bus, &in);
	fz_virtio_destroy(v);
	bus_destroy(&bus);
	return 0;
}
