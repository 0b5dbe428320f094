/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_BLK_INT_H
#define IGNITION_VIRTIO_BLK_INT_H

/* virtio-blk internals shared by the device (blk.c) and its request protocol (blk_req.c). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/queue.h"
#include "util/event.h"

#define BLK_QUEUE_SIZE VIRTIO_MMIO_QUEUE_NUM_MAX
/*
 * Chains taken per trip through the device lock; their used elements are handed over together
 * (one index store, one interrupt decision), and a reset waits for at most this many requests
 * per worker.
 */
#define BLK_BATCH 16
/*
 * Workers: the first waits for the queue's kicks; one that takes a full batch wakes the next, so
 * a deep queue is served by several threads at once and a single request by one.
 */
#define BLK_WORKERS		2
#define BLK_DISCARD_SEG_MAX	16u
#define BLK_DISCARD_SECTORS_MAX 0x3fffffu

/* Scratch of the workers after the first, allocated once. */
struct blk_scratch {
	struct vq_chain chains[BLK_BATCH];
	uint32_t used[BLK_BATCH];
	struct vq_seg segs[BLK_BATCH][BLK_QUEUE_SIZE];
	struct iovec iov[BLK_QUEUE_SIZE];
};

struct blk_worker {
	struct virtio_blk *b;
	/* its scratch: a batch of chains, each as long as a queue allows */
	struct vq_chain *chains;
	uint32_t *used;
	struct iovec *iov;
	/* what wakes it: the queue's kick (worker 0), or its help event, set by the worker before */
	struct event *wake;
	struct event help;
	pthread_t thread;
	bool running;
};

struct virtio_blk {
	struct virtio_mmio *vm;
	int fd;
	bool readonly;
	bool discard; /* DISCARD and WRITE_ZEROES offered */
	uint64_t capacity; /* sectors */
	char *path;
	char serial[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CFG_SIZE];

	/* kick is what QueueNotify (or its ioeventfd) signals; stop ends every worker. */
	struct event kick;
	struct event stop;
	struct blk_worker workers[BLK_WORKERS];

	/* Worker 0's scratch (the fuzz harness runs the protocol with it too), then the others'. */
	struct vq_chain chains[BLK_BATCH];
	uint32_t used[BLK_BATCH];
	struct vq_seg segs[BLK_BATCH][BLK_QUEUE_SIZE];
	struct iovec iov[BLK_QUEUE_SIZE];
	struct blk_scratch more[BLK_WORKERS - 1];
};

/* Runs one request (without the device lock) and returns the used length; iov is scratch. */
uint32_t blk_handle_iov(struct virtio_blk *b, const struct vq_chain *c, struct iovec *iov);
/* The same with worker 0's scratch. */
uint32_t blk_handle(struct virtio_blk *b, const struct vq_chain *c);

/* fdatasync, or F_FULLFSYNC where fdatasync stops at the drive's cache. */
int blk_sync(int fd);

#endif
