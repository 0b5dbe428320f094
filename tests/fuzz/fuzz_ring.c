// SPDX-License-Identifier: MIT
#include "tests/fuzz/fuzz_ring.h"
#include "util/compiler.h"

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
