// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "util/log.h"

void bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->unmapped_lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->regions);
	bus->regions = NULL;
	bus->nr_regions = 0;
	bus->capacity = 0;
	pthread_mutex_destroy(&bus->unmapped_lock);
}

/* The last byte of a region; registration guarantees it does not wrap. */
static uint64_t region_last(const struct bus_region *r)
{
	return r->base + (r->size - 1);
}

/* Index of the first region whose base is above addr (regions[0..i) all start at or below it). */
static size_t bus_upper_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr_regions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->regions[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int bus_check_overlap(const struct bus *bus, size_t at, uint64_t base, uint64_t last,
			     const char *name, struct errbuf *e)
{
	const struct bus_region *r = NULL;

	if (at > 0 && region_last(&bus->regions[at - 1]) >= base)
		r = &bus->regions[at - 1];
	else if (at < bus->nr_regions && bus->regions[at].base <= last)
		r = &bus->regions[at];
	if (!r)
		return 0;
	return err_set(e, -EBUSY,
		       "MMIO range of %s [0x%" PRIx64 "-0x%" PRIx64 "] overlaps %s [0x%" PRIx64
		       "-0x%" PRIx64 "]",
		       name, base, last, r->name, r->base, region_last(r));
}

static int bus_grow(struct bus *bus, struct errbuf *e)
{
	size_t cap = bus->capacity ? bus->capacity * 2 : 8;
	struct bus_region *regions;

	if (bus->nr_regions < bus->capacity)
		return 0;
	regions = realloc(bus->regions, cap * sizeof(*regions));
	if (!regions)
		return err_set(e, -ENOMEM, "out of memory for the MMIO bus");
	bus->regions = regions;
	bus->capacity = cap;
	return 0;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct bus_ops *ops,
		 void *dev, const char *name, struct errbuf *e)
{
	uint64_t last = base + (size - 1);
	size_t at;
	int ret;

	if (!name)
		name = "(unnamed)";
	if (!ops || !ops->read || !ops->write)
		return err_set(e, -EINVAL, "MMIO device %s has no read/write ops", name);
	if (!size)
		return err_set(e, -EINVAL, "MMIO range of %s at 0x%" PRIx64 " is empty", name,
			       base);
	if (last < base)
		return err_set(e, -EINVAL,
			       "MMIO range of %s at 0x%" PRIx64 " size 0x%" PRIx64
			       " wraps around the address space",
			       name, base, size);
	at = bus_upper_bound(bus, base);
	ret = bus_check_overlap(bus, at, base, last, name, e);
	if (ret)
		return ret;
	ret = bus_grow(bus, e);
	if (ret)
		return ret;
	memmove(&bus->regions[at + 1], &bus->regions[at],
		(bus->nr_regions - at) * sizeof(bus->regions[0]));
	bus->regions[at] = (struct bus_region){
		.base = base,
		.size = size,
		.ops = ops,
		.dev = dev,
		.name = name,
	};
	bus->nr_regions++;
	return 0;
}

const struct bus_region *bus_find(const struct bus *bus, uint64_t addr)
{
	size_t at = bus_upper_bound(bus, addr);
	const struct bus_region *r;

	if (!at)
		return NULL;
	r = &bus->regions[at - 1];
	return addr - r->base < r->size ? r : NULL;
}

static bool bus_width_ok(unsigned width)
{
	return width == 1 || width == 2 || width == 4 || width == 8;
}

static uint64_t width_mask(unsigned width)
{
	return width == 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;
}

/* Linear scan: at most BUS_UNMAPPED_LOG_MAX entries, and only while the log is not yet full. */
static bool unmapped_seen(const struct bus *bus, uint64_t addr)
{
	for (size_t i = 0; i < bus->nr_unmapped_seen; i++)
		if (bus->unmapped_seen[i] == addr)
			return true;
	return false;
}

static void bus_log_unmapped(struct bus *bus, uint64_t addr, unsigned width, bool write)
{
	pthread_mutex_lock(&bus->unmapped_lock);
	bus->unmapped_accesses++;
	if (bus->unmapped_log_full || unmapped_seen(bus, addr))
		goto out;
	if (bus->nr_unmapped_seen == BUS_UNMAPPED_LOG_MAX) {
		bus->unmapped_log_full = true;
		pr_warn("MMIO: further unmapped accesses not logged");
		goto out;
	}
	bus->unmapped_seen[bus->nr_unmapped_seen++] = addr;
	pr_warn("MMIO: %u-byte %s at unmapped address 0x%" PRIx64 " %s", width,
		write ? "write" : "read", addr, write ? "ignored" : "reads as zero");
out:
	pthread_mutex_unlock(&bus->unmapped_lock);
}

/*
 * The region that takes a width-byte access at addr, or NULL (logged) when the access is malformed
 * or hits nothing. The common case is one binary search, no lock, no allocation.
 */
static const struct bus_region *bus_route(struct bus *bus, uint64_t addr, unsigned width,
					  bool write)
{
	const struct bus_region *r;

	if (unlikely(!bus_width_ok(width))) {
		pr_warn_once("MMIO: %u-byte access at 0x%" PRIx64 " ignored", width, addr);
		return NULL;
	}
	r = bus_find(bus, addr);
	if (unlikely(!r)) {
		bus_log_unmapped(bus, addr, width, write);
		return NULL;
	}
	if (unlikely(r->size - (addr - r->base) < width)) {
		pr_warn_once("MMIO: %u-byte access at 0x%" PRIx64
			     " runs past the end of %s, ignored",
			     width, addr, r->name);
		return NULL;
	}
	return r;
}

uint64_t bus_read(struct bus *bus, uint64_t addr, unsigned width)
{
	const struct bus_region *r = bus_route(bus, addr, width, false);

	if (!r)
		return 0;
	return r->ops->read(r->dev, addr - r->base, width) & width_mask(width);
}

void bus_write(struct bus *bus, uint64_t addr, unsigned width, uint64_t value)
{
	const struct bus_region *r = bus_route(bus, addr, width, true);

	if (r)
		r->ops->write(r->dev, addr - r->base, width, value & width_mask(width));
}
