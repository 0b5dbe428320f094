/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_ARCH_FDT_H
#define IGNITION_ARCH_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/aarch64/layout.h"
#include "util/err.h"

struct fdt_virtio_slot {
	uint64_t base;
	uint64_t size;
	unsigned spi; /* relative SPI number as the DT wants it; INTID = 32 + spi */
};

struct fdt_desc {
	const struct layout *layout;
	const char *bootargs;
	bool has_initrd;
	uint64_t initrd_start;
	uint64_t initrd_end; /* exclusive, as Linux reads linux,initrd-end */
	const struct fdt_virtio_slot *virtio;
	unsigned nr_virtio;
	const uint8_t *rng_seed; /* may be NULL */
	size_t rng_seed_len;
	bool pmu; /* an arm,armv8-pmuv3 node, its interrupt PPI PMU_PPI */
};

/*
 * Builds the device tree for the machine into buf (at most FDT_MAX_SIZE is ever needed). Interrupt
 * trigger types match how their lines are driven: level-high for the UART, virtio-mmio and the
 * PMU.
 */
int fdt_build(void *buf, size_t bufsize, const struct fdt_desc *d, struct errbuf *e);

/* Size of a built tree. */
size_t fdt_size(const void *buf);

#endif
