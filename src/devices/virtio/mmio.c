// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "util/compiler.h"
#include "util/log.h"

struct virtio_mmio {
	/* Guards everything below, including the queues. */
	pthread_mutex_t lock;
	/* Signalled when in_flight drops to 0, so a reset can wait for the device's I/O. */
	pthread_cond_t idle;
	unsigned in_flight;
	unsigned quiescing; /* resets waiting: devices start nothing new */
	bool shut_down;

	struct guest_mem gm;
	struct irq_line *irq;
	const struct virtio_dev_ops *ops;
	void *dev;
	char name[32];

	uint32_t device_id;
	uint64_t device_features;
	uint64_t driver_features;
	bool driver_features_unknown; /* non-zero bits beyond the first 64 */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t status;
	uint32_t isr;
	uint32_t config_generation;
	const uint8_t *config;
	uint32_t config_len;
	unsigned nr_queues;
	uint16_t queue_num_max;
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

static int params_check(const struct virtio_mmio_params *p, struct errbuf *e)
{
	uint16_t max = p->queue_num_max ? p->queue_num_max : VIRTIO_MMIO_QUEUE_NUM_MAX;

	if (!p->ops || !p->nr_queues || p->nr_queues > VIRTIO_MMIO_MAX_QUEUES)
		return err_set(e, -EINVAL, "%s: bad virtio device description", p->name);
	if (!is_power_of_2(max) || max > 32768)
		return err_set(e, -EINVAL, "%s: queue size %u is not a power of two <= 32768",
			       p->name, max);
	if (p->config_len > VIRTIO_MMIO_CONFIG_MAX || (p->config_len && !p->config))
		return err_set(e, -EINVAL, "%s: config space too large", p->name);
	return 0;
}

static void lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	/*
	 * Every hold is a few ring or register updates; a contender spinning briefly is far cheaper
	 * than a futex sleep plus a wake-up syscall from the holder.
	 */
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
}

struct virtio_mmio *virtio_mmio_create(const struct virtio_mmio_params *p,
				       const struct guest_mem *gm, struct irq_line *irq,
				       struct errbuf *e)
{
	struct virtio_mmio *vm;

	if (params_check(p, e))
		return NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		err_set(e, -ENOMEM, "%s: out of memory", p->name);
		return NULL;
	}
	lock_init(&vm->lock);
	pthread_cond_init(&vm->idle, NULL);
	vm->gm = *gm;
	vm->irq = irq;
	vm->ops = p->ops;
	vm->dev = p->dev;
	snprintf(vm->name, sizeof(vm->name), "%s", p->name ? p->name : "virtio");
	vm->device_id = p->device_id;
	vm->device_features = p->features | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	vm->config = p->config;
	vm->config_len = p->config_len;
	vm->nr_queues = p->nr_queues;
	vm->queue_num_max = p->queue_num_max ? p->queue_num_max : VIRTIO_MMIO_QUEUE_NUM_MAX;
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		vq_reset(&vm->queues[q], vm->queue_num_max);
	return vm;
}

int virtio_mmio_attach(struct virtio_mmio *vm, struct bus *bus, uint64_t base, struct errbuf *e)
{
	return bus_register(bus, base, VIRTIO_MMIO_REGION_SIZE, &virtio_mmio_bus_ops, vm, vm->name,
			    e);
}

void virtio_mmio_shutdown(struct virtio_mmio *vm)
{
	bool was;

	pthread_mutex_lock(&vm->lock);
	was = vm->shut_down;
	vm->shut_down = true;
	pthread_mutex_unlock(&vm->lock);
	if (!was && vm->ops->shutdown)
		vm->ops->shutdown(vm->dev);
}

void virtio_mmio_destroy(struct virtio_mmio *vm)
{
	if (!vm)
		return;
	virtio_mmio_shutdown(vm);
	if (vm->ops->destroy)
		vm->ops->destroy(vm->dev);
	pthread_cond_destroy(&vm->idle);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

const char *virtio_mmio_name(const struct virtio_mmio *vm)
{
	return vm->name;
}

int virtio_mmio_queue_notify_fd(struct virtio_mmio *vm, unsigned q)
{
	if (q >= vm->nr_queues || !vm->ops->notify_fd)
		return -1;
	return vm->ops->notify_fd(vm->dev, q);
}

void virtio_mmio_lock(struct virtio_mmio *vm)
{
	pthread_mutex_lock(&vm->lock);
}

void virtio_mmio_unlock(struct virtio_mmio *vm)
{
	pthread_mutex_unlock(&vm->lock);
}

void virtio_mmio_io_begin(struct virtio_mmio *vm)
{
	vm->in_flight++;
}

void virtio_mmio_io_end(struct virtio_mmio *vm)
{
	if (--vm->in_flight == 0)
		pthread_cond_broadcast(&vm->idle);
}

uint64_t virtio_mmio_features(const struct virtio_mmio *vm)
{
	return vm->driver_features;
}

static bool device_live(const struct virtio_mmio *vm)
{
	return (vm->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vm->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)) &&
	       !vm->quiescing && !vm->shut_down;
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *vm, unsigned q)
{
	if (q >= vm->nr_queues || !device_live(vm) || !vm->queues[q].ready)
		return NULL;
	return &vm->queues[q];
}

/*
 * The line is high exactly while InterruptStatus has a bit set. The guest sees it as an edge
 * (fdt.c), so a bit set while the line was already high, after the guest read the status,
 * gets its own edge when the guest's acknowledgement leaves it standing (interrupt_ack).
 */
static void isr_update(struct virtio_mmio *vm)
{
	irq_line_set(vm->irq, vm->isr != 0);
}

static void isr_raise(struct virtio_mmio *vm, uint32_t bits)
{
	vm->isr |= bits;
	isr_update(vm);
}

static void needs_reset(struct virtio_mmio *vm)
{
	if (vm->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	vm->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	isr_raise(vm, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_queue_broken(struct virtio_mmio *vm, unsigned q)
{
	pr_warn_once("%s: queue %u: the driver's ring is inconsistent; device stopped until reset",
		     vm->name, q);
	needs_reset(vm);
}

void virtio_mmio_config_changed(struct virtio_mmio *vm)
{
	vm->config_generation++;
	/* Before DRIVER_OK the driver reads the config anyway; an interrupt would only confuse it. */
	if (vm->status & VIRTIO_STATUS_DRIVER_OK)
		isr_raise(vm, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_queue_flush(struct virtio_mmio *vm, struct virtq *vq)
{
	if (vq_publish(vq))
		isr_raise(vm, VIRTIO_MMIO_INT_VRING);
}

/* Stop new work and wait until the device's in-flight I/O has landed. */
static void quiesce_begin(struct virtio_mmio *vm)
{
	vm->quiescing++;
	while (vm->in_flight)
		pthread_cond_wait(&vm->idle, &vm->lock);
}

static void quiesce_end(struct virtio_mmio *vm)
{
	vm->quiescing--;
}

static void device_reset(struct virtio_mmio *vm)
{
	quiesce_begin(vm);
	for (unsigned q = 0; q < vm->nr_queues; q++)
		vq_reset(&vm->queues[q], vm->queue_num_max);
	vm->status = 0;
	vm->isr = 0;
	isr_update(vm);
	vm->driver_features = 0;
	vm->driver_features_unknown = false;
	vm->device_features_sel = vm->driver_features_sel = 0;
	vm->queue_sel = vm->shm_sel = 0;
	if (vm->ops->reset)
		vm->ops->reset(vm->dev);
	quiesce_end(vm);
}

static bool features_acceptable(const struct virtio_mmio *vm)
{
	return (vm->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1)) &&
	       !(vm->driver_features & ~vm->device_features) && !vm->driver_features_unknown;
}

static void notify_all(struct virtio_mmio *vm)
{
	if (!vm->ops->notify)
		return;
	for (unsigned q = 0; q < vm->nr_queues; q++)
		if (vm->queues[q].ready)
			vm->ops->notify(vm->dev, q);
}

static void status_write(struct virtio_mmio *vm, uint32_t v)
{
	uint32_t cur = vm->status;

	if (v == 0) {
		device_reset(vm);
		return;
	}
	/* DEVICE_NEEDS_RESET is the device's bit: only a reset clears it. */
	v = (v & 0xff & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) |
	    (cur & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	if (cur & ~v) {
		pr_warn_once("%s: driver cleared status bits (0x%x -> 0x%x); ignored", vm->name,
			     cur, v);
		return;
	}
	if ((v & ~cur & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(vm)) {
		pr_warn_once(
			"%s: features 0x%llx not acceptable (VERSION_1 missing or not offered)",
			vm->name, (unsigned long long)vm->driver_features);
		v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
		pr_warn_once("%s: DRIVER_OK without FEATURES_OK; ignored", vm->name);
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	}
	vm->status = v;
	/* Buffers made available before DRIVER_OK wait for it (§3.1.1). */
	if ((v & ~cur & VIRTIO_STATUS_DRIVER_OK) && device_live(vm))
		notify_all(vm);
}

static void driver_features_write(struct virtio_mmio *vm, uint32_t v)
{
	if (vm->status & VIRTIO_STATUS_FEATURES_OK) {
		pr_warn_once("%s: DriverFeatures written after FEATURES_OK; ignored", vm->name);
		return;
	}
	switch (vm->driver_features_sel) {
	case 0:
		vm->driver_features = (vm->driver_features & ~0xffffffffULL) | v;
		break;
	case 1:
		vm->driver_features = (vm->driver_features & 0xffffffffULL) | (uint64_t)v << 32;
		break;
	default:
		/* No feature is offered up there: accepting one fails FEATURES_OK. */
		if (v)
			vm->driver_features_unknown = true;
		break;
	}
}

static struct virtq *sel_queue(struct virtio_mmio *vm)
{
	return vm->queue_sel < vm->nr_queues ? &vm->queues[vm->queue_sel] : NULL;
}

/* Queue registers are only meaningful for an existing queue that is not running. */
static struct virtq *sel_queue_writable(struct virtio_mmio *vm)
{
	struct virtq *vq = sel_queue(vm);

	if (!vq) {
		pr_warn_once("%s: write to queue %u, which does not exist; ignored", vm->name,
			     vm->queue_sel);
		return NULL;
	}
	if (vq->ready) {
		pr_warn_once("%s: queue %u reprogrammed while ready; ignored", vm->name,
			     vm->queue_sel);
		return NULL;
	}
	return vq;
}

static void queue_num_write(struct virtio_mmio *vm, uint32_t v)
{
	struct virtq *vq = sel_queue_writable(vm);

	if (!vq)
		return;
	if (!is_power_of_2(v) || v > vm->queue_num_max) {
		pr_warn_once("%s: QueueNum %u is not a power of two <= %u; ignored", vm->name, v,
			     vm->queue_num_max);
		return;
	}
	vq->num = (uint16_t)v;
}

static void queue_ready_write(struct virtio_mmio *vm, uint32_t v)
{
	struct virtq *vq = sel_queue(vm);

	if (!vq)
		return;
	if (!v) {
		if (vq->ready) {
			quiesce_begin(vm);
			vq_disable(vq);
			quiesce_end(vm);
		}
		return;
	}
	if (vq->ready)
		return;
	if (!(vm->status & VIRTIO_STATUS_FEATURES_OK) ||
	    (vm->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		pr_warn_once("%s: QueueReady before FEATURES_OK or while broken; ignored",
			     vm->name);
		return;
	}
	if (vq_enable(vq, &vm->gm, vm->driver_features)) {
		pr_warn_once("%s: queue %u rings outside guest RAM or misaligned", vm->name,
			     vm->queue_sel);
		needs_reset(vm);
	}
}

static void queue_addr_write(struct virtio_mmio *vm, uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

static void queue_notify_write(struct virtio_mmio *vm, uint32_t q)
{
	if (q < vm->nr_queues && device_live(vm) && vm->ops->notify)
		vm->ops->notify(vm->dev, q);
}

static void interrupt_ack(struct virtio_mmio *vm, uint32_t v)
{
	if (!(vm->isr & v))
		return; /* nothing cleared: an edge for what is set is already on its way */
	vm->isr &= ~v;
	if (vm->isr)
		irq_line_lower(vm->irq); /* and isr_update() raises it again: a new edge */
	isr_update(vm);
}

static bool queue_reg_write(struct virtio_mmio *vm, uint64_t off, uint32_t v)
{
	struct virtq *vq;

	switch (off) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		break;
	default:
		return false;
	}
	vq = sel_queue_writable(vm);
	if (!vq)
		return true;
	if (off < VIRTIO_MMIO_QUEUE_DRIVER_LOW)
		queue_addr_write(vm, &vq->desc_gpa, off & 4, v);
	else if (off < VIRTIO_MMIO_QUEUE_DEVICE_LOW)
		queue_addr_write(vm, &vq->avail_gpa, off & 4, v);
	else
		queue_addr_write(vm, &vq->used_gpa, off & 4, v);
	return true;
}

static void reg_write(struct virtio_mmio *vm, uint64_t off, uint32_t v)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		vm->device_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		driver_features_write(vm, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		vm->driver_features_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		vm->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		queue_num_write(vm, v);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		queue_ready_write(vm, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		queue_notify_write(vm, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		interrupt_ack(vm, v);
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(vm, v);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		vm->shm_sel = v;
		break;
	default:
		if (!queue_reg_write(vm, off, v))
			pr_warn_once("%s: write to read-only or unknown register 0x%llx; ignored",
				     vm->name, (unsigned long long)off);
		break;
	}
}

static uint32_t features_page(uint64_t features, uint32_t sel)
{
	if (sel == 0)
		return (uint32_t)features;
	if (sel == 1)
		return (uint32_t)(features >> 32);
	return 0;
}

static uint32_t reg_read(struct virtio_mmio *vm, uint64_t off)
{
	struct virtq *vq = sel_queue(vm);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return vm->device_id;
	case VIRTIO_MMIO_VENDOR_ID_REG:
		return VIRTIO_MMIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return features_page(vm->device_features, vm->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX_REG:
		return vq ? vm->queue_num_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return vm->isr;
	case VIRTIO_MMIO_STATUS:
		return vm->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* No shared memory regions: a length of ~0 says "does not exist". */
		return 0xffffffffu;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vm->config_generation;
	default:
		pr_warn_once("%s: read of write-only or unknown register 0x%llx", vm->name,
			     (unsigned long long)off);
		return 0;
	}
}

/*
 * §4.2.2.2: config fields are read with their natural width, 64-bit ones as two 32-bit halves;
 * an 8-byte access is served too. Anything else, or past the end, reads 0 and is logged once.
 */
static bool config_access_ok(const struct virtio_mmio *vm, uint64_t off, unsigned width)
{
	if (width != 1 && width != 2 && width != 4 && width != 8) {
		pr_warn_once("%s: %u-byte config access; ignored", vm->name, width);
		return false;
	}
	if (off % (width > 4 ? 4 : width)) {
		pr_warn_once("%s: unaligned config access at 0x%llx; ignored", vm->name,
			     (unsigned long long)off);
		return false;
	}
	if (off > vm->config_len || width > vm->config_len - off) {
		pr_warn_once("%s: config access past its end (0x%llx + %u); ignored", vm->name,
			     (unsigned long long)off, width);
		return false;
	}
	return true;
}

static uint64_t config_read(struct virtio_mmio *vm, uint64_t off, unsigned width)
{
	uint64_t v = 0;

	if (!config_access_ok(vm, off, width))
		return 0;
	for (unsigned i = 0; i < width; i++)
		v |= (uint64_t)vm->config[off + i] << (8 * i);
	return v;
}

static void config_write(struct virtio_mmio *vm, uint64_t off, unsigned width, uint64_t v)
{
	if (!config_access_ok(vm, off, width))
		return;
	if (!vm->ops->config_write) {
		pr_warn_once("%s: write to read-only config space at 0x%llx; ignored", vm->name,
			     (unsigned long long)off);
		return;
	}
	vm->ops->config_write(vm->dev, (uint32_t)off, width, v);
}

static bool reg_access_ok(const struct virtio_mmio *vm, uint64_t off, unsigned width)
{
	if (width == 4 && !(off % 4))
		return true;
	pr_warn_once("%s: %u-byte access to register 0x%llx (only aligned 32-bit); ignored",
		     vm->name, width, (unsigned long long)off);
	return false;
}

static uint64_t virtio_mmio_read(void *dev, uint64_t off, unsigned width)
{
	struct virtio_mmio *vm = dev;
	uint64_t v = 0;

	pthread_mutex_lock(&vm->lock);
	if (off >= VIRTIO_MMIO_CONFIG)
		v = config_read(vm, off - VIRTIO_MMIO_CONFIG, width);
	else if (reg_access_ok(vm, off, width))
		v = reg_read(vm, off);
	pthread_mutex_unlock(&vm->lock);
	return v;
}

static void virtio_mmio_write(void *dev, uint64_t off, unsigned width, uint64_t value)
{
	struct virtio_mmio *vm = dev;

	pthread_mutex_lock(&vm->lock);
	if (off >= VIRTIO_MMIO_CONFIG)
		config_write(vm, off - VIRTIO_MMIO_CONFIG, width, value);
	else if (reg_access_ok(vm, off, width))
		reg_write(vm, off, (uint32_t)value);
	pthread_mutex_unlock(&vm->lock);
}

const struct bus_ops virtio_mmio_bus_ops = {
	.read = virtio_mmio_read,
	.write = virtio_mmio_write,
};
