/* SPDX-License-Identifier: MIT */
/* The driver side of virtio-mmio and split virtqueues, as far as the misbehaving guest needs. */
#ifndef BADGUEST_VIRTIO_H
#define BADGUEST_VIRTIO_H

#include "bg.h"

/* Registers (virtio 1.2 §4.2.2). */
#define VM_MAGIC	  0x000
#define VM_VERSION	  0x004
#define VM_DEVICE_ID	  0x008
#define VM_VENDOR_ID	  0x00c
#define VM_DEV_FEATURES	  0x010
#define VM_DEV_FEAT_SEL	  0x014
#define VM_DRV_FEATURES	  0x020
#define VM_DRV_FEAT_SEL	  0x024
#define VM_QUEUE_SEL	  0x030
#define VM_QUEUE_NUM_MAX  0x034
#define VM_QUEUE_NUM	  0x038
#define VM_QUEUE_READY	  0x044
#define VM_QUEUE_NOTIFY	  0x050
#define VM_INT_STATUS	  0x060
#define VM_INT_ACK	  0x064
#define VM_STATUS	  0x070
#define VM_QUEUE_DESC_LO  0x080
#define VM_QUEUE_DESC_HI  0x084
#define VM_QUEUE_AVAIL_LO 0x090
#define VM_QUEUE_AVAIL_HI 0x094
#define VM_QUEUE_USED_LO  0x0a0
#define VM_QUEUE_USED_HI  0x0a4
#define VM_SHM_SEL	  0x0ac
#define VM_SHM_LEN_LO	  0x0b0
#define VM_CONFIG_GEN	  0x0fc
#define VM_CONFIG	  0x100

#define ST_ACK	       0x01
#define ST_DRIVER      0x02
#define ST_DRIVER_OK   0x04
#define ST_FEATURES_OK 0x08
#define ST_NEEDS_RESET 0x40

#define F_INDIRECT     (1u << 28)
#define F_EVENT_IDX    (1u << 29)
#define F_HI_VERSION_1 1u /* bit 32, in the second feature word */

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG	4

#define VD_NEXT	    1
#define VD_WRITE    2
#define VD_INDIRECT 4

/* Scratch RAM for rings and buffers, 16 MiB into RAM: well past the program and its stacks. */
struct arena {
	u64 desc, avail, used; /* room for 256-entry rings */
	u64 ind_a, ind_b; /* indirect tables, 256 entries each */
	u64 hdr, status, data; /* request header, status bytes, a 64 KiB buffer */
	u64 big; /* RAM no test reads back: the target of oversized requests */
	u64 big_len;
	u64 ram_end;
};
void arena_init(const struct machine *m, struct arena *a);
void rings_clear(const struct arena *a);

struct vq {
	u64 dev;
	u16 num;
	u64 desc, avail, used;
	u16 next_avail; /* avail->idx the driver publishes next */
};

void vdev_reset(u64 dev);
u32 vdev_status(u64 dev);
/* Reset, ACKNOWLEDGE, DRIVER, the two feature words, FEATURES_OK: true when the device kept it. */
bool vdev_negotiate(u64 dev, u32 lo, u32 hi);
void vdev_driver_ok(u64 dev);
/* Queue 0 with num entries at the given rings; returns what QueueReady reads back. */
u32 vq_setup(struct vq *q, u64 dev, u16 num, u64 desc, u64 avail, u64 used);
void desc_set(u64 table, unsigned i, u64 addr, u32 len, u16 flags, u16 next);
/* Puts head in the avail ring and publishes it (idx + 1), then notifies queue 0. */
void vq_submit(struct vq *q, u16 head);
/* Publishes avail->idx = idx as is, then notifies. */
void vq_kick_idx(struct vq *q, u16 idx);

enum vq_outcome { VQ_USED, VQ_NEEDS_RESET, VQ_TIMEOUT };
/* Waits until used->idx reaches want or the device asks for a reset; the used length in *len. */
enum vq_outcome vq_wait(struct vq *q, u16 want, u32 *len, u64 ms);
const char *vq_outcome_name(enum vq_outcome o);
u16 used_idx(const struct vq *q);

void virtio_transport_abuse(u64 dev, const char *name);
void blk_abuse(u64 dev, const struct arena *a);
void rng_abuse(u64 dev, const struct arena *a);

#endif
