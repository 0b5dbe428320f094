// SPDX-License-Identifier: MIT
/*
 * MMIO bus dispatch, against a model: regions registered from the input (refused exactly when
 * they are empty, wrap or overlap one already there), then reads and writes that must reach
 * exactly the device the model says, at the right offset and width, with values cut to width.
 *
 * Input: u8 number of regions (% 17), each: u8 mode and its fields (region_read); then accesses
 * until the input ends: u8 kind (bit 0 write, bits 1-2 how the address is chosen), the address
 * fields, u8 width, u64 value.
 */
#include "devices/bus.h"
#include "tests/fuzz/fuzz.h"

#define REGIONS_MAX 16

struct fuzz_dev {
	uint64_t base, size;
	unsigned hits;
	uint64_t last_off;
	unsigned last_width;
	uint64_t last_val;
};

struct fuzz_bus {
	struct bus bus;
	struct fuzz_dev devs[REGIONS_MAX];
	unsigned nr;
};

static const char *const names[REGIONS_MAX] = {
	"d0", "d1", "d2",  "d3",  "d4",	 "d5",	"d6",  "d7",
	"d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static bool width_ok(unsigned width)
{
	return width == 1 || width == 2 || width == 4 || width == 8;
}

static uint64_t width_mask(unsigned width)
{
	return width == 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;
}

static void dev_access(struct fuzz_dev *d, uint64_t off, unsigned width)
{
	FUZZ_CHECK(width_ok(width));
	FUZZ_CHECK(off < d->size && width <= d->size - off);
	d->hits++;
	d->last_off = off;
	d->last_width = width;
}

static uint64_t dev_read(void *dev, uint64_t off, unsigned width)
{
	dev_access(dev, off, width);
	/* Bits above the width: the bus must cut them off. */
	return 0xa5a5a5a5a5a5a5a5ULL;
}

static void dev_write(void *dev, uint64_t off, unsigned width, uint64_t value)
{
	struct fuzz_dev *d = dev;

	dev_access(d, off, width);
	FUZZ_CHECK(!(value & ~width_mask(width)));
	d->last_val = value;
}

static const struct bus_ops dev_ops = { .read = dev_read, .write = dev_write };

/* The model: does [base, base + size) collide with a registered region, or is it malformed? */
static bool model_refuses(const struct fuzz_bus *f, uint64_t base, uint64_t size)
{
	uint64_t last = base + (size - 1);

	if (!size || last < base)
		return true;
	for (unsigned i = 0; i < f->nr; i++) {
		const struct fuzz_dev *d = &f->devs[i];

		if (!(last < d->base || base > d->base + (d->size - 1)))
			return true;
	}
	return false;
}

static struct fuzz_dev *model_find(struct fuzz_bus *f, uint64_t addr)
{
	for (unsigned i = 0; i < f->nr; i++)
		if (addr >= f->devs[i].base && addr - f->devs[i].base < f->devs[i].size)
			return &f->devs[i];
	return NULL;
}

/* Bases anywhere, next to the last one, page aligned, or near an existing region. */
static void region_read(struct fuzz_bus *f, struct fuzz_in *in, uint64_t *base, uint64_t *size)
{
	uint8_t mode = fz_u8(in);
	const struct fuzz_dev *prev = f->nr ? &f->devs[f->nr - 1] : NULL;

	switch (mode & 3) {
	case 0:
		*base = fz_u64(in);
		*size = fz_u64(in);
		break;
	case 1:
		*base = (prev ? prev->base + prev->size : 0) + fz_u16(in);
		*size = fz_u16(in) + 1ULL;
		break;
	case 2:
		*base = (uint64_t)fz_u32(in) << 12;
		*size = (uint64_t)fz_u16(in) << ((mode >> 4) & 15);
		break;
	default:
		*base = (prev ? prev->base : 0) + (uint64_t)(int64_t)(int16_t)fz_u16(in);
		*size = fz_u16(in);
		break;
	}
}

static void region_add(struct fuzz_bus *f, struct fuzz_in *in)
{
	uint64_t base, size;
	bool refuse;
	struct errbuf e;
	int r;

	region_read(f, in, &base, &size);
	refuse = model_refuses(f, base, size);
	r = bus_register(&f->bus, base, size, &dev_ops, &f->devs[f->nr], names[f->nr], &e);
	FUZZ_CHECK((r != 0) == refuse);
	if (r) {
		FUZZ_CHECK(r < 0 && e.msg[0] && !strchr(e.msg, '\n'));
		return;
	}
	f->devs[f->nr++] = (struct fuzz_dev){ .base = base, .size = size };
	for (size_t i = 1; i < f->bus.nr_regions; i++)
		FUZZ_CHECK(f->bus.regions[i - 1].base < f->bus.regions[i].base);
}

static uint64_t addr_read(struct fuzz_bus *f, struct fuzz_in *in, unsigned mode)
{
	const struct fuzz_dev *d;

	if (!f->nr || mode == 0)
		return fz_u64(in);
	d = &f->devs[fz_u8(in) % f->nr];
	if (mode == 1)
		return d->base + (uint64_t)(int64_t)(int16_t)fz_u16(in);
	return d->base + d->size - 1 - fz_u8(in);
}

static void bus_access(struct fuzz_bus *f, struct fuzz_in *in)
{
	uint8_t kind = fz_u8(in);
	bool write = kind & 1;
	uint64_t addr = addr_read(f, in, (kind >> 1) & 3);
	unsigned width = fz_u8(in) & 15;
	uint64_t val = fz_u64(in);
	struct fuzz_dev *d = model_find(f, addr);
	const struct bus_region *r = bus_find(&f->bus, addr);
	bool reaches = d && width_ok(width) && width <= d->size - (addr - d->base);
	unsigned hits = d ? d->hits : 0;

	FUZZ_CHECK(d ? r && r->dev == d : !r);
	if (write) {
		bus_write(&f->bus, addr, width, val);
	} else {
		uint64_t got = bus_read(&f->bus, addr, width);

		FUZZ_CHECK(reaches ? got == (0xa5a5a5a5a5a5a5a5ULL & width_mask(width)) : !got);
	}
	FUZZ_CHECK(d ? d->hits == hits + reaches : true);
	if (!reaches)
		return;
	FUZZ_CHECK(d->last_off == addr - d->base && d->last_width == width);
	if (write)
		FUZZ_CHECK(d->last_val == (val & width_mask(width)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	struct fuzz_bus f = { .nr = 0 };
	unsigned nr = fz_u8(&in) % (REGIONS_MAX + 1);

	bus_init(&f.bus);
	for (unsigned i = 0; i < nr; i++)
		region_add(&f, &in);
	while (!fz_empty(&in))
		bus_access(&f, &in);
	bus_destroy(&f.bus);
	return 0;
}
