/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_QUEUE_H
#define IGNITION_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/guest_mem.h"

/*
 * The device side of a split virtqueue (virtio 1.2 §2.7). The driver owns the memory and may
 * rewrite any of it at any time, so every field is read once into a local and checked there; all
 * guest memory goes through guest_mem_ptr(). The caller serialises calls on one queue.
 */
#define VIRTQ_DESC_F_NEXT	   1u
#define VIRTQ_DESC_F_WRITE	   2u
#define VIRTQ_DESC_F_INDIRECT	   4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY	   1u

#define VIRTQ_DESC_SIZE	  16u
#define VIRTQ_DESC_ALIGN  16u
#define VIRTQ_AVAIL_ALIGN 2u
#define VIRTQ_USED_ALIGN  4u

static inline uint64_t vq_desc_bytes(uint16_t num)
{
	return (uint64_t)VIRTQ_DESC_SIZE * num;
}

/* flags, idx, ring[num], used_event */
static inline uint64_t vq_avail_bytes(uint16_t num)
{
	return 6 + 2ULL * num;
}

/* flags, idx, ring[num] of {id, len}, avail_event */
static inline uint64_t vq_used_bytes(uint16_t num)
{
	return 6 + 8ULL * num;
}

/* One guest buffer of a chain, already translated to host memory. */
struct vq_seg {
	uint8_t *ptr;
	uint32_t len;
	bool writable;
};

/*
 * A popped chain. segs is the caller's array (at least queue-size entries, allocated once); the
 * device-readable segments come first. Empty descriptors are counted but not listed.
 */
struct vq_chain {
	struct vq_seg *segs;
	unsigned nr_segs;
	unsigned nr_readable;
	uint64_t readable_len;
	uint64_t writable_len;
	uint16_t head;
};

struct virtq {
	/* Programmed through the transport registers while the queue is not ready. */
	uint16_t num;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	bool ready;

	/* Valid while ready. */
	const struct guest_mem *gm;
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
	bool event_idx;
	bool indirect;
	bool notify_enabled;
	uint16_t last_avail; /* next avail ring entry to take */
	uint16_t avail_shadow; /* avail->idx as last read (and checked) */
	uint16_t used_idx; /* next used ring entry to fill; published by vq_publish() */
	uint16_t signalled_used; /* used_idx at the last interrupt decision */
};

/* Forget everything (device reset): the queue is not ready and has size num_max. */
void vq_reset(struct virtq *vq, uint16_t num_max);

/*
 * QueueReady was written 1: check the rings lie in guest RAM with the alignment of §2.7 and start
 * at index 0. -EINVAL (queue left not ready) when they do not.
 */
int vq_enable(struct virtq *vq, const struct guest_mem *gm, uint64_t features);

/* Stops using the rings but keeps the programmed addresses and size. */
void vq_disable(struct virtq *vq);

/*
 * Takes the next available chain into c (c->segs provided by the caller, >= num entries).
 * Returns 1 with a chain, 0 when the ring is empty (notifications are re-enabled then, so the
 * driver kicks for the next one), -EIO when the ring is broken and must not be used again.
 */
int vq_pop(struct virtq *vq, struct vq_chain *c);

/*
 * Gives back the last n chains popped and not pushed: the next pops return them again. For a
 * device that needs several chains for one element (virtio-net's mergeable RX buffers) and finds
 * too few.
 */
void vq_unpop(struct virtq *vq, uint16_t n);

/* Fills a used element; the driver sees it only after vq_publish(). */
void vq_push(struct virtq *vq, uint16_t head, uint32_t len);

/* Publishes the pushed elements; true when the driver wants a used-buffer interrupt for them. */
bool vq_publish(struct virtq *vq);

#endif
