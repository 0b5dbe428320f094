/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_FUZZ_VIRTIO_HARNESS_H
#define IGNITION_TESTS_FUZZ_VIRTIO_HARNESS_H

/*
 * What the virtio-mmio and virtio-blk targets share: 64 KiB of guest RAM, an interrupt line that
 * records its level, a virtio-rng device, and virtio-blk with its requests run synchronously on
 * the notifying thread.
 *
 * virtio-blk normally runs requests on a worker thread, which would make every run depend on
 * timing. Here the request protocol (blk_handle_batch, blk_req.c) runs inside QueueNotify, under the
 * device lock, with the same pop-batch / handle / push / flush steps as blk.c's worker loop; the
 * transport (mmio.c) and the rings (queue.c) are the real ones.
 */
#include <stdbool.h>
#include <stdint.h>

#include "devices/guest_mem.h"
#include "devices/irq.h"
#include "devices/virtio/mmio.h"
#include "tests/fuzz/fuzz.h"

#define FZ_RAM_GPA  0x40000000ULL
#define FZ_RAM_SIZE 0x10000u
/* Requests' buffers go to the upper half of RAM; rings usually sit in the lower one. */
#define FZ_DATA_OFF  0x8000u
#define FZ_DISK_SIZE 0x10000u

struct virtio_blk;

struct fz_virtio {
	uint8_t *ram;
	struct guest_mem gm;
	struct irq_line irq;
	bool level; /* as the device last drove the line */
	int disk_fd;
	struct virtio_blk *blk;
	struct virtio_mmio *vm;
};

/* The driver's view of queue 0, for building well-formed requests. */
struct fz_driver {
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx;
	uint16_t desc_next;
	uint32_t data_next; /* offset in RAM */
};

/* Once per process: RAM, the disk (a memfd), the blk device's state. */
struct fz_virtio *fz_virtio_init(void);

/* Per run: clear RAM, create the device. */
struct virtio_mmio *fz_rng_create(struct fz_virtio *v);
struct virtio_mmio *fz_blk_create(struct fz_virtio *v, bool readonly);
void fz_virtio_destroy(struct fz_virtio *v);

uint32_t fz_mmio_read(struct fz_virtio *v, uint64_t off);
void fz_mmio_write(struct fz_virtio *v, uint64_t off, uint32_t val);

/* The line must be high exactly while InterruptStatus has a bit set. */
void fz_irq_check(struct fz_virtio *v);

/* u16 offset, u8 length, bytes: a driver write to RAM (clipped to RAM). */
void fz_ram_patch(struct fz_virtio *v, struct fuzz_in *in);

/*
 * Linux's order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0 (size and rings),
 * QueueReady, DRIVER_OK. True when the device ends up with DRIVER_OK.
 */
bool fz_virtio_start(struct fz_virtio *v, uint64_t features, const struct fz_driver *drv);

/* The device's offered features. */
uint64_t fz_device_features(struct fz_virtio *v);

/*
 * A request shaped by the input, built the way a driver builds one, made available (and notified
 * unless the input says not to). Descriptors, avail entries and buffers outside RAM are skipped.
 */
void fz_blk_request(struct fz_virtio *v, struct fz_driver *drv, struct fuzz_in *in);

#endif
