/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_MMIO_H
#define IGNITION_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/guest_mem.h"
#include "devices/irq.h"
#include "util/err.h"

/*
 * The virtio-mmio transport (virtio 1.2 §4.2.2, version 2 only). It owns the register file, the
 * status state machine and the queues' addresses, and calls a small per-device ops table.
 *
 * Public surface used by vmm/: create a device (virtio_blk_create, virtio_rng_create, ...), attach
 * it to the bus, shut it down (in-flight requests finish, disks flush), destroy it.
 */
struct virtio_mmio;

int virtio_mmio_attach(struct virtio_mmio *vm, struct bus *bus, uint64_t base, struct errbuf *e);

/* Stops the device's worker after its in-flight requests and flushes what it must. Idempotent. */
void virtio_mmio_shutdown(struct virtio_mmio *vm);
void virtio_mmio_destroy(struct virtio_mmio *vm);

const char *virtio_mmio_name(const struct virtio_mmio *vm);

extern const struct bus_ops virtio_mmio_bus_ops;

#endif
