/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_RNG_H
#define IGNITION_VIRTIO_RNG_H

#include "devices/virtio/mmio.h"

/* An entropy device filled from the host CSPRNG (getrandom / arc4random_buf). */
struct virtio_mmio *virtio_rng_create(const struct guest_mem *gm, struct irq_line *irq,
				      struct errbuf *e);

#endif
