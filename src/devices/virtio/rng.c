// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#ifdef __linux__
#include <sys/random.h>
#endif

#include "devices/virtio/queue.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "util/compiler.h"
#include "util/log.h"

#define RNG_QUEUE_SIZE VIRTIO_MMIO_QUEUE_NUM_MAX
/* Requests are served on the notifying vCPU: bound the time one can take. */
#define RNG_REQ_MAX (64 * 1024)

struct virtio_rng {
	struct virtio_mmio *vm;
	struct vq_seg segs[RNG_QUEUE_SIZE];
};

static size_t rng_fill(uint8_t *p, size_t len)
{
#ifdef __APPLE__
	arc4random_buf(p, len);
	return len;
#else
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
#endif
}

static uint32_t rng_serve(const struct vq_chain *c)
{
	size_t left = RNG_REQ_MAX, done = 0;

	for (unsigned i = c->nr_readable; i < c->nr_segs && left; i++) {
		size_t n = min_u64(c->segs[i].len, left);
		size_t got = rng_fill(c->segs[i].ptr, n);

		done += got;
		left -= got;
		if (got < n) {
			pr_warn_once("virtio-rng: host random source failed");
			break;
		}
	}
	return (uint32_t)done;
}

/* Called with the device lock held, on the thread that notified. */
static void rng_notify(void *dev, unsigned q)
{
	struct virtio_rng *rng = dev;
	struct vq_chain c = { .segs = rng->segs };
	struct virtq *vq = virtio_mmio_queue(rng->vm, q);
	int r;

	if (!vq)
		return;
	while ((r = vq_pop(vq, &c)) > 0)
		vq_push(vq, c.head, rng_serve(&c));
	if (r < 0)
		virtio_mmio_queue_broken(rng->vm, q);
	virtio_mmio_queue_flush(rng->vm, vq);
}

static void rng_destroy(void *dev)
{
	free(dev);
}

static const struct virtio_dev_ops rng_ops = {
	.notify = rng_notify,
	.destroy = rng_destroy,
};

struct virtio_mmio *virtio_rng_create(const struct guest_mem *gm, struct irq_line *irq,
				      struct errbuf *e)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	struct virtio_mmio_params mp = {
		.name = "virtio-rng",
		.device_id = VIRTIO_ID_RNG,
		.features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
			    VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC),
		.nr_queues = 1,
		.queue_num_max = RNG_QUEUE_SIZE,
		.ops = &rng_ops,
		.dev = rng,
	};

	if (!rng) {
		err_set(e, -ENOMEM, "virtio-rng: out of memory");
		return NULL;
	}
	rng->vm = virtio_mmio_create(&mp, gm, irq, e);
	if (!rng->vm) {
		free(rng);
		return NULL;
	}
	return rng->vm;
}
