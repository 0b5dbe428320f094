// SPDX-License-Identifier: MIT
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "tests/unit/virtio/driver.h"
#include "util/compiler.h"

static void vdrv_set_level(void *opaque, uint32_t intid, bool level)
{
	struct vdrv *d = opaque;

	atomic_store(&d->level, level);
	if (level) {
		atomic_fetch_add(&d->raises, 1);
		event_signal(&d->irq_ev);
	}
}

int vdrv_init(struct vdrv *d, uint64_t ram_size)
{
	memset(d, 0, sizeof(*d));
	d->ram = aligned_alloc(4096, ram_size);
	if (!d->ram)
		return -ENOMEM;
	memset(d->ram, 0, ram_size);
	d->gm = (struct guest_mem){ .host = d->ram, .gpa = VDRV_RAM_GPA, .size = ram_size };
	d->brk = VDRV_RAM_GPA;
	irq_line_init(&d->irq, vdrv_set_level, d, 33);
	return event_init(&d->irq_ev);
}

void vdrv_fini(struct vdrv *d)
{
	if (d->vm)
		virtio_mmio_destroy(d->vm);
	d->vm = NULL;
	event_close(&d->irq_ev);
	free(d->ram);
	d->ram = NULL;
}

uint32_t vdrv_read(struct vdrv *d, uint64_t off)
{
	return (uint32_t)virtio_mmio_bus_ops.read(d->vm, off, 4);
}

void vdrv_write(struct vdrv *d, uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(d->vm, off, 4, v);
}

uint64_t vdrv_read_w(struct vdrv *d, uint64_t off, unsigned width)
{
	return virtio_mmio_bus_ops.read(d->vm, off, width);
}

void vdrv_write_w(struct vdrv *d, uint64_t off, unsigned width, uint64_t v)
{
	virtio_mmio_bus_ops.write(d->vm, off, width, v);
}

uint32_t vdrv_status(struct vdrv *d)
{
	return vdrv_read(d, VIRTIO_MMIO_STATUS);
}

uint64_t vdrv_alloc(struct vdrv *d, uint64_t size, uint64_t align)
{
	uint64_t gpa = align_up(d->brk, align);

	if (gpa + size > d->gm.gpa + d->gm.size)
		abort(); /* a test bug: give it more RAM */
	d->brk = gpa + size;
	return gpa;
}

void *vdrv_ptr(struct vdrv *d, uint64_t gpa)
{
	return d->ram + (gpa - d->gm.gpa);
}

static void status_set(struct vdrv *d, uint32_t bits)
{
	vdrv_write(d, VIRTIO_MMIO_STATUS, vdrv_status(d) | bits);
}

uint64_t vdrv_device_features(struct vdrv *d)
{
	uint64_t f;

	vdrv_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)vdrv_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vdrv_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | vdrv_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

int vdrv_negotiate_raw(struct vdrv *d, uint32_t lo, uint32_t hi)
{
	if (vdrv_read(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    vdrv_read(d, VIRTIO_MMIO_VERSION_REG) != 2 || !vdrv_read(d, VIRTIO_MMIO_DEVICE_ID))
		return -1;
	vdrv_write(d, VIRTIO_MMIO_STATUS, 0);
	if (vdrv_status(d) != 0)
		return -1;
	status_set(d, VIRTIO_STATUS_ACKNOWLEDGE);
	status_set(d, VIRTIO_STATUS_DRIVER);
	vdrv_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_write(d, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	vdrv_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_write(d, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	d->features = (uint64_t)hi << 32 | lo;
	status_set(d, VIRTIO_STATUS_FEATURES_OK);
	return vdrv_status(d) & VIRTIO_STATUS_FEATURES_OK ? 0 : -1;
}

int vdrv_negotiate(struct vdrv *d, uint64_t want)
{
	uint64_t f = vdrv_device_features(d) & want;

	return vdrv_negotiate_raw(d, (uint32_t)f, (uint32_t)(f >> 32));
}

static void vq_state_init(struct vdrv_vq *vq, uint16_t num)
{
	vq->num = num;
	vq->avail_idx = vq->kicked_idx = vq->last_used = 0;
	vq->free_head = 0;
	vq->nr_free = num;
	for (uint16_t i = 0; i < num; i++)
		vq->next[i] = (uint16_t)(i + 1);
}

static void vq_alloc(struct vdrv *d, struct vdrv_vq *vq, uint16_t num)
{
	if (vq->num < num || !vq->desc) {
		vq->desc = vdrv_alloc(d, vq_desc_bytes(num), 4096);
		vq->avail = vdrv_alloc(d, vq_avail_bytes(num), 4096);
		vq->used = vdrv_alloc(d, vq_used_bytes(num), 4096);
		vq->indirect = vdrv_alloc(d, (uint64_t)num * num * VIRTQ_DESC_SIZE, 16);
		vq->req = vdrv_alloc(d, (uint64_t)num * 32, 16);
	}
	memset(vdrv_ptr(d, vq->desc), 0, vq_desc_bytes(num));
	memset(vdrv_ptr(d, vq->avail), 0, vq_avail_bytes(num));
	memset(vdrv_ptr(d, vq->used), 0, vq_used_bytes(num));
}

static void write_addr(struct vdrv *d, uint64_t lo_reg, uint64_t gpa)
{
	vdrv_write(d, lo_reg, (uint32_t)gpa);
	vdrv_write(d, lo_reg + 4, (uint32_t)(gpa >> 32));
}

int vdrv_queue_setup(struct vdrv *d, unsigned q, uint16_t num)
{
	struct vdrv_vq *vq = &d->vq[q];
	uint32_t max;

	vdrv_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (vdrv_read(d, VIRTIO_MMIO_QUEUE_READY))
		return -1;
	max = vdrv_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX_REG);
	if (!max)
		return -1;
	if (num > max)
		num = (uint16_t)max;
	vq_alloc(d, vq, num);
	vq_state_init(vq, num);
	vdrv_write(d, VIRTIO_MMIO_QUEUE_NUM, num);
	write_addr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, vq->desc);
	write_addr(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, vq->avail);
	write_addr(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, vq->used);
	vdrv_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return vdrv_read(d, VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -1;
}

void vdrv_driver_ok(struct vdrv *d)
{
	status_set(d, VIRTIO_STATUS_DRIVER_OK);
}

int vdrv_start(struct vdrv *d, uint64_t want, uint16_t num)
{
	if (vdrv_negotiate(d, want) || vdrv_queue_setup(d, 0, num))
		return -1;
	vdrv_driver_ok(d);
	return vdrv_status(d) & VIRTIO_STATUS_DRIVER_OK ? 0 : -1;
}

static void desc_write(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put_le64(p, addr);
	put_le32(p + 8, len);
	put_le16(p + 12, flags);
	put_le16(p + 14, next);
}

void vdrv_desc(struct vdrv *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	       uint16_t next)
{
	desc_write(vdrv_ptr(d, d->vq[q].desc + (uint64_t)i * 16), addr, len, flags, next);
}

void vdrv_indirect_desc(struct vdrv *d, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	desc_write(vdrv_ptr(d, table + (uint64_t)i * 16), addr, len, flags, next);
}

static uint16_t *avail_field(struct vdrv *d, unsigned q, unsigned i)
{
	return vdrv_ptr(d, d->vq[q].avail + 2 * (uint64_t)i);
}

static uint16_t *used_field(struct vdrv *d, unsigned q, unsigned byte_off)
{
	return vdrv_ptr(d, d->vq[q].used + byte_off);
}

void vdrv_avail_set_idx(struct vdrv *d, unsigned q, uint16_t idx)
{
	d->vq[q].avail_idx = idx;
	__atomic_store_n(avail_field(d, q, 1), idx, __ATOMIC_RELEASE);
}

void vdrv_avail_publish(struct vdrv *d, unsigned q, uint16_t head)
{
	struct vdrv_vq *vq = &d->vq[q];

	__atomic_store_n(avail_field(d, q, 2 + (vq->avail_idx & (vq->num - 1))), head,
			 __ATOMIC_RELAXED);
	vdrv_avail_set_idx(d, q, (uint16_t)(vq->avail_idx + 1));
}

void vdrv_avail_flags(struct vdrv *d, unsigned q, uint16_t flags)
{
	__atomic_store_n(avail_field(d, q, 0), flags, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vdrv_set_used_event(struct vdrv *d, unsigned q, uint16_t v)
{
	__atomic_store_n(avail_field(d, q, 2 + d->vq[q].num), v, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint16_t vdrv_avail_event(struct vdrv *d, unsigned q)
{
	return __atomic_load_n(used_field(d, q, 4 + 8 * d->vq[q].num), __ATOMIC_ACQUIRE);
}

uint16_t vdrv_used_flags(struct vdrv *d, unsigned q)
{
	return __atomic_load_n(used_field(d, q, 0), __ATOMIC_ACQUIRE);
}

uint16_t vdrv_used_idx(struct vdrv *d, unsigned q)
{
	return __atomic_load_n(used_field(d, q, 2), __ATOMIC_ACQUIRE);
}

static uint16_t desc_take(struct vdrv_vq *vq)
{
	uint16_t i = vq->free_head;

	vq->free_head = vq->next[i];
	vq->nr_free--;
	return i;
}

int vdrv_submit(struct vdrv *d, unsigned q, const struct vdrv_buf *bufs, unsigned n, bool indirect)
{
	struct vdrv_vq *vq = &d->vq[q];
	uint16_t head, prev = 0, i;

	if (!n || vq->nr_free < (indirect ? 1 : n))
		return -1;
	head = vq->free_head;
	if (indirect) {
		uint64_t table = vq->indirect + (uint64_t)head * vq->num * VIRTQ_DESC_SIZE;

		for (unsigned k = 0; k < n; k++)
			vdrv_indirect_desc(d, table, (uint16_t)k, bufs[k].gpa, bufs[k].len,
					   (uint16_t)((bufs[k].write ? VIRTQ_DESC_F_WRITE : 0) |
						      (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					   (uint16_t)(k + 1));
		desc_take(vq);
		vdrv_desc(d, q, head, table, n * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
		vq->ndesc[head] = 1;
	} else {
		for (unsigned k = 0; k < n; k++) {
			i = desc_take(vq);
			if (k)
				vdrv_desc(d, q, prev, bufs[k - 1].gpa, bufs[k - 1].len,
					  (uint16_t)((bufs[k - 1].write ? VIRTQ_DESC_F_WRITE : 0) |
						     VIRTQ_DESC_F_NEXT),
					  i);
			prev = i;
		}
		vdrv_desc(d, q, prev, bufs[n - 1].gpa, bufs[n - 1].len,
			  bufs[n - 1].write ? VIRTQ_DESC_F_WRITE : 0, 0);
		vq->ndesc[head] = (uint16_t)n;
	}
	vdrv_avail_publish(d, q, head);
	return head;
}

void vdrv_notify(struct vdrv *d, unsigned q)
{
	d->vq[q].kicked_idx = d->vq[q].avail_idx;
	vdrv_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

bool vdrv_kick(struct vdrv *d, unsigned q)
{
	struct vdrv_vq *vq = &d->vq[q];
	uint16_t old_idx = vq->kicked_idx, new_idx = vq->avail_idx;
	bool need;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))
		need = (uint16_t)(new_idx - vdrv_avail_event(d, q) - 1) <
		       (uint16_t)(new_idx - old_idx);
	else
		need = !(vdrv_used_flags(d, q) & VIRTQ_USED_F_NO_NOTIFY);
	vq->kicked_idx = new_idx;
	if (need)
		vdrv_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	return need;
}

static void chain_free(struct vdrv_vq *vq, uint16_t head)
{
	uint16_t tail = head;

	for (unsigned k = 1; k < vq->ndesc[head]; k++)
		tail = vq->next[tail];
	vq->next[tail] = vq->free_head;
	vq->free_head = head;
	vq->nr_free = (uint16_t)(vq->nr_free + vq->ndesc[head]);
}

int vdrv_get_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	struct vdrv_vq *vq = &d->vq[q];
	uint8_t *e;

	if (vdrv_used_idx(d, q) == vq->last_used)
		return 0;
	e = vdrv_ptr(d, vq->used + 4 + 8 * (uint64_t)(vq->last_used & (vq->num - 1)));
	*id = get_le32(e);
	*len = get_le32(e + 4);
	vq->last_used++;
	if (*id < vq->num)
		chain_free(vq, (uint16_t)*id);
	if (d->features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))
		vdrv_set_used_event(d, q, vq->last_used);
	return 1;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

int vdrv_wait_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len, int timeout_ms)
{
	for (long waited = 0; waited <= timeout_ms * 1000L; waited += 50) {
		if (vdrv_get_used(d, q, id, len))
			return 0;
		sleep_us(50);
	}
	return -1;
}

uint32_t vdrv_ack(struct vdrv *d)
{
	uint32_t isr = vdrv_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);

	if (isr)
		vdrv_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

int vdrv_wait_irq(struct vdrv *d, int timeout_ms, uint32_t *isr)
{
	struct pollfd pfd = { .fd = event_fd(&d->irq_ev), .events = POLLIN };

	if (!atomic_load(&d->level) && poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	event_drain(&d->irq_ev);
	*isr = vdrv_ack(d);
	return 0;
}

int vdrv_blk_submit(struct vdrv *d, uint32_t type, uint64_t sector, const struct vdrv_buf *data,
		    unsigned n, bool indirect)
{
	struct vdrv_vq *vq = &d->vq[0];
	struct vdrv_buf bufs[VDRV_QUEUE_MAX];
	uint64_t slot;
	uint8_t *p;

	if (n + 2 > VDRV_QUEUE_MAX || vq->nr_free < (indirect ? 1 : n + 2))
		return -1;
	slot = vq->req + 32 * (uint64_t)vq->free_head;
	p = vdrv_ptr(d, slot);
	put_le32(p, type);
	put_le32(p + 4, 0);
	put_le64(p + 8, sector);
	p[16] = 0xff;
	bufs[0] = (struct vdrv_buf){ .gpa = slot, .len = 16 };
	if (n)
		memcpy(&bufs[1], data, n * sizeof(*data));
	bufs[n + 1] = (struct vdrv_buf){ .gpa = slot + 16, .len = 1, .write = true };
	return vdrv_submit(d, 0, bufs, n + 2, indirect);
}

uint8_t vdrv_blk_status(struct vdrv *d, uint16_t head)
{
	return *(uint8_t *)vdrv_ptr(d, d->vq[0].req + 32 * (uint64_t)head + 16);
}

int vdrv_blk_sync(struct vdrv *d, uint32_t type, uint64_t sector, const struct vdrv_buf *data,
		  unsigned n, uint32_t *used_len)
{
	uint32_t id, len;
	int head = vdrv_blk_submit(d, type, sector, data, n, false);

	if (head < 0)
		return -1;
	vdrv_notify(d, 0);
	if (vdrv_wait_used(d, 0, &id, &len, 5000) || id != (uint32_t)head)
		return -1;
	if (used_len)
		*used_len = len;
	return vdrv_blk_status(d, (uint16_t)head);
}
