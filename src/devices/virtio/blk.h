/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_BLK_H
#define IGNITION_VIRTIO_BLK_H

#include <stdbool.h>

#include "devices/virtio/mmio.h"

struct virtio_blk_params {
	const char *path;
	bool readonly;	/* opened O_RDONLY, VIRTIO_BLK_F_RO offered, writes fail with IOERR */
	unsigned index; /* 0 for vda: names the serial "ignition0" */
};

/*
 * Opens the image (size must be a multiple of 512; writable images are flock'ed so two VMs never
 * write one image) and creates the device with its worker thread.
 */
struct virtio_mmio *virtio_blk_create(const struct virtio_blk_params *p,
				      const struct guest_mem *gm, struct irq_line *irq,
				      struct errbuf *e);

#endif
