// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "util/compiler.h"
#include "util/log.h"

/* Virtio 1.x rings are little-endian; so are the hosts we run on (arm64, x86_64). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtqueues assume a little-endian host");

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct vq_desc) == VIRTQ_DESC_SIZE, "descriptor layout");

/*
 * Ring fields the driver writes concurrently are loaded with atomics so that each is read exactly
 * once; vq_enable() checked the alignment that makes these accesses natural.
 */
static inline uint16_t ring_load16(const uint8_t *p, int order)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, order);
}

static inline void ring_store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, v, order);
}

static inline void ring_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

/*
 * One copy into a local: indirect tables carry no alignment guarantee, and every later check and
 * use sees this copy, never the guest's memory again.
 */
static inline void desc_read(const uint8_t *table, uint16_t i, struct vq_desc *d)
{
	memcpy(d, table + (size_t)i * VIRTQ_DESC_SIZE, sizeof(*d));
}

void vq_reset(struct virtq *vq, uint16_t num_max)
{
	memset(vq, 0, sizeof(*vq));
	vq->num = num_max;
}

int vq_enable(struct virtq *vq, const struct guest_mem *gm, uint64_t features)
{
	uint16_t n = vq->num;

	if (!is_power_of_2(n))
		return -EINVAL;
	if ((vq->desc_gpa % VIRTQ_DESC_ALIGN) || (vq->avail_gpa % VIRTQ_AVAIL_ALIGN) ||
	    (vq->used_gpa % VIRTQ_USED_ALIGN))
		return -EINVAL;
	vq->desc = guest_mem_ptr(gm, vq->desc_gpa, vq_desc_bytes(n));
	vq->avail = guest_mem_ptr(gm, vq->avail_gpa, vq_avail_bytes(n));
	vq->used = guest_mem_ptr(gm, vq->used_gpa, vq_used_bytes(n));
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = vq->avail = vq->used = NULL;
		return -EINVAL;
	}
	vq->gm = gm;
	vq->event_idx = features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = features & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	vq->last_avail = vq->avail_shadow = 0;
	vq->used_idx = vq->signalled_used = 0;
	vq->notify_enabled = true;
	vq->ready = true;
	return 0;
}

void vq_disable(struct virtq *vq)
{
	vq->ready = false;
	vq->gm = NULL;
	vq->desc = vq->avail = vq->used = NULL;
}

static inline uint8_t *avail_ring(const struct virtq *vq, uint16_t i)
{
	return vq->avail + 4 + 2 * (size_t)(i & (vq->num - 1));
}

static inline uint8_t *used_event(const struct virtq *vq)
{
	return vq->avail + 4 + 2 * (size_t)vq->num;
}

static inline uint8_t *avail_event(const struct virtq *vq)
{
	return vq->used + 4 + 8 * (size_t)vq->num;
}

/*
 * Reads avail->idx. Acquire pairs with the driver's release of the ring entries before the index.
 * A driver never has more than num entries outstanding; more means the index is garbage.
 */
static int avail_refresh(struct virtq *vq)
{
	uint16_t idx = ring_load16(vq->avail + 2, __ATOMIC_ACQUIRE);

	if ((uint16_t)(idx - vq->last_avail) > vq->num) {
		pr_debug("virtqueue: avail idx jumped from %u to %u (size %u)", vq->last_avail, idx,
			 vq->num);
		return -EIO;
	}
	vq->avail_shadow = idx;
	return idx != vq->last_avail;
}

/* The driver may skip kicks while we work through the ring (§2.7.10). */
static void notify_disable(struct virtq *vq)
{
	vq->notify_enabled = false;
	if (!vq->event_idx)
		ring_store16(vq->used, VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

/*
 * Asks for a kick on the next entry, then looks again: an entry published between our last look
 * and the driver reading our request would otherwise never be kicked nor seen.
 */
static int notify_enable_recheck(struct virtq *vq)
{
	vq->notify_enabled = true;
	if (vq->event_idx)
		ring_store16(avail_event(vq), vq->avail_shadow, __ATOMIC_RELAXED);
	else
		ring_store16(vq->used, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_refresh(vq);
}

struct walk {
	const uint8_t *table;
	uint32_t table_len; /* entries */
	bool in_indirect;
	bool seen_write;
	unsigned count;
};

static int walk_indirect(struct virtq *vq, struct walk *w, const struct vq_desc *d)
{
	if (!vq->indirect || w->in_indirect || (d->flags & VIRTQ_DESC_F_NEXT) || !d->len ||
	    d->len % VIRTQ_DESC_SIZE)
		return -EIO;
	w->table = guest_mem_ptr(vq->gm, d->addr, d->len);
	if (!w->table)
		return -EIO;
	w->table_len = d->len / VIRTQ_DESC_SIZE;
	w->in_indirect = true;
	return 0;
}

static int walk_buffer(struct virtq *vq, struct walk *w, const struct vq_desc *d,
		       struct vq_chain *c)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	uint8_t *p;

	/* Loops and over-long chains both end here: no valid chain exceeds the queue size. */
	if (++w->count > vq->num)
		return -EIO;
	/* §2.7.4.2: device-writable buffers follow all device-readable ones. */
	if (!writable && w->seen_write)
		return -EIO;
	w->seen_write |= writable;
	p = guest_mem_ptr(vq->gm, d->addr, d->len);
	if (!p)
		return -EIO;
	if (!d->len)
		return 0;
	c->segs[c->nr_segs++] = (struct vq_seg){ .ptr = p, .len = d->len, .writable = writable };
	if (writable) {
		c->writable_len += d->len;
	} else {
		c->nr_readable++;
		c->readable_len += d->len;
	}
	return 0;
}

static int chain_walk(struct virtq *vq, uint16_t head, struct vq_chain *c)
{
	struct walk w = { .table = vq->desc, .table_len = vq->num };
	uint16_t i = head;
	struct vq_desc d;

	c->head = head;
	c->nr_segs = c->nr_readable = 0;
	c->readable_len = c->writable_len = 0;
	if (head >= vq->num)
		return -EIO;
	for (;;) {
		desc_read(w.table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (walk_indirect(vq, &w, &d))
				return -EIO;
			i = 0;
			continue;
		}
		if (walk_buffer(vq, &w, &d, c))
			return -EIO;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= w.table_len)
			return -EIO;
		i = d.next;
	}
}

int vq_pop(struct virtq *vq, struct vq_chain *c)
{
	uint16_t head;
	int r;

	if (!vq->ready)
		return 0;
	if (vq->last_avail == vq->avail_shadow) {
		r = avail_refresh(vq);
		if (r == 0)
			r = notify_enable_recheck(vq);
		if (r <= 0)
			return r;
	}
	if (vq->notify_enabled)
		notify_disable(vq);
	head = ring_load16(avail_ring(vq, vq->last_avail), __ATOMIC_RELAXED);
	vq->last_avail++;
	r = chain_walk(vq, head, c);
	if (r < 0)
		pr_debug("virtqueue: broken chain at head %u", head);
	return r;
}

void vq_unpop(struct virtq *vq, uint16_t n)
{
	vq->last_avail = (uint16_t)(vq->last_avail - n);
}

void vq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *e = vq->used + 4 + 8 * (size_t)(vq->used_idx & (vq->num - 1));

	ring_store32(e, head);
	ring_store32(e + 4, len);
	vq->used_idx++;
}

/* §2.7.10.2: interrupt when the driver's used_event lies in (old, new]. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool vq_publish(struct virtq *vq)
{
	uint16_t old_idx = vq->signalled_used, new_idx = vq->used_idx;

	if (!vq->ready || old_idx == new_idx)
		return false;
	/* The elements must be visible before the index that hands them over. */
	ring_store16(vq->used + 2, new_idx, __ATOMIC_RELEASE);
	/* ... and the index before we read the driver's suppression state (it reads ours). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new_idx;
	if (vq->event_idx)
		return need_event(ring_load16(used_event(vq), __ATOMIC_RELAXED), new_idx, old_idx);
	return !(ring_load16(vq->avail, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}
