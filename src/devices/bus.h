/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_DEVICES_BUS_H
#define IGNITION_DEVICES_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * The MMIO bus: guest physical ranges to devices. Regions are registered while the machine is
 * built and never change afterwards, so vCPU threads look them up without a lock; each device
 * serialises its own state.
 */
struct bus_ops {
	/* offset is relative to the region base; width is 1, 2, 4 or 8; values are little-endian */
	uint64_t (*read)(void *dev, uint64_t offset, unsigned width);
	void (*write)(void *dev, uint64_t offset, unsigned width, uint64_t value);
};

struct bus_region {
	uint64_t base;
	uint64_t size;
	const struct bus_ops *ops;
	void *dev;
	const char *name;
};

#define BUS_UNMAPPED_LOG_MAX 64

struct bus {
	struct bus_region *regions; /* sorted by base */
	size_t nr_regions;
	size_t capacity;
	/* unmapped accesses are logged once per address, and only the first few addresses */
	pthread_mutex_t unmapped_lock;
	uint64_t unmapped_seen[BUS_UNMAPPED_LOG_MAX];
	size_t nr_unmapped_seen;
	bool unmapped_log_full; /* the "not logged" line was printed */
	uint64_t unmapped_accesses;
};

void bus_init(struct bus *bus);
void bus_destroy(struct bus *bus);

/* Overlapping, empty or wrapping ranges are refused with a message naming both devices. */
int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct bus_ops *ops,
		 void *dev, const char *name, struct errbuf *e);

const struct bus_region *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Dispatch to the device that owns addr. An access that is not 1, 2, 4 or 8 bytes wide, or that
 * runs past the end of its device's window, is logged once and ignored (reads return 0). A read of
 * nothing returns 0 and a write to nothing is dropped; both are logged once per address, for the
 * first BUS_UNMAPPED_LOG_MAX addresses. Writes hand the device only the low `width` bytes.
 */
uint64_t bus_read(struct bus *bus, uint64_t addr, unsigned width);
void bus_write(struct bus *bus, uint64_t addr, unsigned width, uint64_t value);

#endif
