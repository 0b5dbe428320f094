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
#define BLK_BATCH	16
#define BLK_BATCH_BYTES (256u * 1024)
/*
 * Workers: the first waits for the queue's kicks; one that takes a full batch wakes the next, so
 * a deep queue is served by several threads at once and a single request by one.
 */
#define BLK_WORKERS 2
/*
 * Reads up to this size go through the worker's io_uring, where one system call for a batch
 * saves most of their cost. Larger reads are copies more than calls, and io_uring hands
 * buffered writes to its own kernel threads (1 MiB: 2x the device CPU; 4 KiB random: 0.75x the
 * throughput, make bench): both run directly with preadv/pwritev.
 */
#define BLK_RING_MAX_BYTES	(64u * 1024)
#define BLK_DISCARD_SEG_MAX	16u
#define BLK_DISCARD_SECTORS_MAX 0x3fffffu

struct blk_ring; /* io_uring (blk_ring.c) */

/* A read or a write, ready to be submitted: the payload as iovecs, and its result. */
struct blk_io {
	struct iovec *iov;
	int cnt;
	bool write;
	off_t off;
	uint64_t len;
	uint8_t *status;
	int err; /* 0, or -errno */
};

/* A worker's scratch: a batch of chains, each as long as a queue allows, and their I/O. */
struct blk_scratch {
	struct vq_chain chains[BLK_BATCH];
	uint32_t used[BLK_BATCH];
	struct vq_seg segs[BLK_BATCH][BLK_QUEUE_SIZE];
	/* handed out in order to the batch's requests; only the first pages are ever touched */
	struct iovec iov[BLK_BATCH * BLK_QUEUE_SIZE];
	struct blk_io io[BLK_BATCH];
	struct blk_ring *ring; /* NULL: one preadv/pwritev after the other */
};

struct blk_worker {
	struct virtio_blk *b;
	struct blk_scratch *s;
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

	/* One per worker; the fuzz harness runs the protocol with the first. */
	struct blk_scratch scratch[BLK_WORKERS];
};

/* Runs one request (without the device lock) and returns the used length; iov is scratch. */
uint32_t blk_handle_iov(struct virtio_blk *b, const struct vq_chain *c, struct iovec *iov);
/*
 * Runs s->chains[0..n) (without the device lock) and sets s->used. With a ring, the small reads
 * between two other requests go to the kernel together, writes and large reads run at once;
 * like requests in flight on any disk they have no order among themselves. A flush, discard or
 * any other request still runs after every request before it in the batch has completed, and
 * before any after it starts.
 */
void blk_handle_batch(struct virtio_blk *b, struct blk_scratch *s, unsigned n);

/* Drops the first n bytes of an iovec array (after a short transfer). */
void blk_iov_skip(struct iovec **iov, int *cnt, size_t n);
/* preadv/pwritev until done, since both may transfer less than asked; 0 or -errno. */
int blk_rw_full(int fd, struct iovec *iov, int cnt, off_t off, bool write);

/*
 * An io_uring for one worker, or NULL (and why, in *why) when the kernel or the build has none,
 * or IGNITION_NO_IO_URING is set. Created before the sandbox: only io_uring_enter runs later.
 */
struct blk_ring *blk_ring_create(const char **why);
void blk_ring_destroy(struct blk_ring *r);
/* Runs io[0..n) on fd at once and waits for all of them; sets each io's err. */
void blk_ring_run(struct blk_ring *r, int fd, struct blk_io *io, unsigned n);

/* fdatasync, or F_FULLFSYNC where fdatasync stops at the drive's cache. */
int blk_sync(int fd);

#endif
