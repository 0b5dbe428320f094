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
 * (one index store, one interrupt decision), and a reset waits for at most this many requests.
 */
#define BLK_BATCH		16
#define BLK_DISCARD_SEG_MAX	16u
#define BLK_DISCARD_SECTORS_MAX 0x3fffffu

struct virtio_blk {
	struct virtio_mmio *vm;
	int fd;
	bool readonly;
	bool discard; /* DISCARD and WRITE_ZEROES offered */
	uint64_t capacity; /* sectors */
	char *path;
	char serial[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CFG_SIZE];

	/* The worker: kick is what QueueNotify (or its ioeventfd) signals. */
	struct event kick;
	struct event stop;
	pthread_t worker;
	bool worker_running;

	/* Worker-only scratch, allocated once: a batch of chains, each as long as a queue allows. */
	struct vq_chain chains[BLK_BATCH];
	uint32_t used[BLK_BATCH];
	struct vq_seg segs[BLK_BATCH][BLK_QUEUE_SIZE];
	struct iovec iov[BLK_QUEUE_SIZE];
};

/* Runs one request (without the device lock) and returns the used length. */
uint32_t blk_handle(struct virtio_blk *b, const struct vq_chain *c);

/* fdatasync, or F_FULLFSYNC where fdatasync stops at the drive's cache. */
int blk_sync(int fd);

#endif
