/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_VIRTIO_DRIVER_H
#define IGNITION_TESTS_VIRTIO_DRIVER_H

/*
 * A test-side virtio driver (the idea of QEMU's libqos): it owns a RAM buffer posing as guest
 * memory and programs a virtio-mmio device through its bus ops in the order Linux does: reset,
 * ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK, requests, interrupts.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/guest_mem.h"
#include "devices/irq.h"
#include "devices/virtio/mmio.h"
#include "util/event.h"

#define VDRV_RAM_GPA   0x40000000ULL
#define VDRV_QUEUES    3
#define VDRV_QUEUE_MAX 1024 /* virtio-fs offers 1024 */

struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

struct vdrv_vq {
	uint16_t num;
	uint64_t desc, avail, used;
	uint64_t indirect; /* one table of num entries per head */
	uint64_t req; /* blk: 32 bytes per head: header, then status */
	uint16_t avail_idx;
	uint16_t kicked_idx; /* avail_idx at the last notification decision */
	uint16_t last_used;
	uint16_t free_head;
	uint16_t nr_free;
	uint16_t next[VDRV_QUEUE_MAX]; /* the driver's own free list (never trust the device) */
	uint16_t ndesc[VDRV_QUEUE_MAX]; /* descriptors taken by the chain at this head */
};

struct vdrv {
	struct guest_mem gm;
	uint8_t *ram;
	bool ram_mmap;
	uint64_t brk;
	struct irq_line irq;
	atomic_bool level;
	atomic_uint raises;
	struct event irq_ev; /* signalled on each rising edge */
	struct virtio_mmio *vm;
	uint64_t features;
	struct vdrv_vq vq[VDRV_QUEUES];
};

/* RAM of ram_size bytes at VDRV_RAM_GPA; malloc'ed (so ASan sees overruns) unless big. */
int vdrv_init(struct vdrv *d, uint64_t ram_size);
/* Destroys the device (if any) and the RAM. */
void vdrv_fini(struct vdrv *d);

uint32_t vdrv_read(struct vdrv *d, uint64_t off);
void vdrv_write(struct vdrv *d, uint64_t off, uint32_t v);
uint64_t vdrv_read_w(struct vdrv *d, uint64_t off, unsigned width);
void vdrv_write_w(struct vdrv *d, uint64_t off, unsigned width, uint64_t v);
uint32_t vdrv_status(struct vdrv *d);

uint64_t vdrv_alloc(struct vdrv *d, uint64_t size, uint64_t align);
void *vdrv_ptr(struct vdrv *d, uint64_t gpa);

/*
 * Reset, ACKNOWLEDGE, DRIVER, read the offered features, accept want & offered, FEATURES_OK and
 * read it back. Returns 0 when the device kept FEATURES_OK, -1 otherwise.
 */
int vdrv_negotiate(struct vdrv *d, uint64_t want);
/* The same with the exact feature words written (no masking): for negotiation tests. */
int vdrv_negotiate_raw(struct vdrv *d, uint32_t lo, uint32_t hi);
uint64_t vdrv_device_features(struct vdrv *d);
/* Allocates and programs queue q with num entries, sets QueueReady; 0 when it reads back 1. */
int vdrv_queue_setup(struct vdrv *d, unsigned q, uint16_t num);
void vdrv_driver_ok(struct vdrv *d);
/* negotiate + queue 0 + DRIVER_OK */
int vdrv_start(struct vdrv *d, uint64_t want, uint16_t num);

/* Raw ring access, for building malformed rings. */
void vdrv_desc(struct vdrv *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	       uint16_t next);
void vdrv_indirect_desc(struct vdrv *d, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next);
void vdrv_avail_publish(struct vdrv *d, unsigned q, uint16_t head);
void vdrv_avail_set_idx(struct vdrv *d, unsigned q, uint16_t idx);
void vdrv_avail_flags(struct vdrv *d, unsigned q, uint16_t flags);
void vdrv_set_used_event(struct vdrv *d, unsigned q, uint16_t v);
uint16_t vdrv_avail_event(struct vdrv *d, unsigned q);
uint16_t vdrv_used_flags(struct vdrv *d, unsigned q);
uint16_t vdrv_used_idx(struct vdrv *d, unsigned q);

/*
 * Places a chain (through an indirect table when indirect) and makes it available; no
 * notification. Returns the head, or -1 when the ring is full.
 */
int vdrv_submit(struct vdrv *d, unsigned q, const struct vdrv_buf *bufs, unsigned n, bool indirect);
/* QueueNotify. */
void vdrv_notify(struct vdrv *d, unsigned q);
/* Notifies only when the device asked for it (EVENT_IDX or NO_NOTIFY), as Linux; true if so. */
bool vdrv_kick(struct vdrv *d, unsigned q);
/* Takes one used element (id, len) and frees its chain: 1, or 0 when none. */
int vdrv_get_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len);
/* Waits (polling, up to timeout_ms) for one used element: 0, or -1 on timeout. */
int vdrv_wait_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len, int timeout_ms);
/* Waits for the interrupt line to rise (0) or timeout (-1); reads and ACKs InterruptStatus. */
int vdrv_wait_irq(struct vdrv *d, int timeout_ms, uint32_t *isr);
uint32_t vdrv_ack(struct vdrv *d);

/* virtio-blk on queue 0: header and status live in the driver's per-head slot. */
int vdrv_blk_submit(struct vdrv *d, uint32_t type, uint64_t sector, const struct vdrv_buf *data,
		    unsigned n, bool indirect);
uint8_t vdrv_blk_status(struct vdrv *d, uint16_t head);
/* Submit, notify, wait; returns the status byte (or -1 on timeout) and the used length. */
int vdrv_blk_sync(struct vdrv *d, uint32_t type, uint64_t sector, const struct vdrv_buf *data,
		  unsigned n, uint32_t *used_len);

#endif
