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

/*
 * The event fd whose signal means exactly what a QueueNotify write of q means, so a backend can
 * have the hypervisor signal it (KVM ioeventfd) without a vCPU exit; -1 when the device handles
 * notifications inline on the notifying thread.
 */
int virtio_mmio_queue_notify_fd(struct virtio_mmio *vm, unsigned q);

/* ---- for device implementations (blk.c, rng.c, ...) ---- */

struct virtq;

/*
 * What a device tells the transport. Calls marked "locked" run with the device lock held; the
 * transport serialises them with the register file.
 */
struct virtio_dev_ops {
	/* A notification for queue q, from QueueNotify (locked). */
	void (*notify)(void *dev, unsigned q);
	/* See virtio_mmio_queue_notify_fd(); NULL means -1. */
	int (*notify_fd)(void *dev, unsigned q);
	/* The driver reset the device; queues are already reset and no request is in flight (locked). */
	void (*reset)(void *dev);
	/* A write to config space, already bounds-checked; NULL makes the config read-only (locked). */
	void (*config_write)(void *dev, uint32_t offset, unsigned width, uint64_t value);
	/* Finish in-flight requests, stop threads, flush (not locked; called once). */
	void (*shutdown)(void *dev);
	/* Free the device (not locked; after shutdown). */
	void (*destroy)(void *dev);
};

struct virtio_mmio_params {
	const char *name; /* for messages and the bus, e.g. "virtio-blk0" */
	uint32_t device_id;
	uint64_t features; /* offered; VIRTIO_F_VERSION_1 is added */
	unsigned nr_queues; /* 1..VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_num_max; /* power of two; 0 means VIRTIO_MMIO_QUEUE_NUM_MAX */
	const void *config; /* device config space, owned by the device, stable */
	uint32_t config_len; /* <= VIRTIO_MMIO_CONFIG_MAX */
	const struct virtio_dev_ops *ops;
	void *dev;
};

#define VIRTIO_MMIO_MAGIC	  0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION	  2u
#define VIRTIO_MMIO_VENDOR_ID	  0x474e4749u /* "IGNG" */
#define VIRTIO_MMIO_QUEUE_NUM_MAX 256u
#define VIRTIO_MMIO_MAX_QUEUES	  8u
#define VIRTIO_MMIO_CONFIG	  0x100u
#define VIRTIO_MMIO_REGION_SIZE	  0x200u
#define VIRTIO_MMIO_CONFIG_MAX	  (VIRTIO_MMIO_REGION_SIZE - VIRTIO_MMIO_CONFIG)

/* Register offsets (§4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000
#define VIRTIO_MMIO_VERSION_REG		0x004
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID_REG	0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX_REG	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW	0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH	0x0a4
#define VIRTIO_MMIO_SHM_SEL		0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW		0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH	0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW	0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH	0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc

struct virtio_mmio *virtio_mmio_create(const struct virtio_mmio_params *p,
				       const struct guest_mem *gm, struct irq_line *irq,
				       struct errbuf *e);

/*
 * The device lock. A device that does I/O without it brackets the I/O with io_begin/io_end (both
 * called locked): a reset then waits for that request, so nothing touches a queue after the
 * driver reset it, while register accesses from vCPUs never wait for the disk.
 */
void virtio_mmio_lock(struct virtio_mmio *vm);
void virtio_mmio_unlock(struct virtio_mmio *vm);
void virtio_mmio_io_begin(struct virtio_mmio *vm);
void virtio_mmio_io_end(struct virtio_mmio *vm);

/*
 * Queue q when the device may process it (DRIVER_OK, no reset pending or needed, not shut down,
 * queue ready), else NULL (locked).
 */
struct virtq *virtio_mmio_queue(struct virtio_mmio *vm, unsigned q);

/* The ring of queue q cannot be trusted: DEVICE_NEEDS_RESET and a config interrupt (locked). */
void virtio_mmio_queue_broken(struct virtio_mmio *vm, unsigned q);

/* The device changed its config space (e.g. link status): new generation, config interrupt (locked). */
void virtio_mmio_config_changed(struct virtio_mmio *vm);

/* Publishes the used elements of vq and interrupts when the driver asks for it (locked). */
void virtio_mmio_queue_flush(struct virtio_mmio *vm, struct virtq *vq);

/* The negotiated features (locked, or after DRIVER_OK). */
uint64_t virtio_mmio_features(const struct virtio_mmio *vm);

#endif
