/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_BLK_INT_H
#define IGNITION_VIRTIO_BLK_INT_H

/* virtio-blk internals shared by the device (blk.c) and its request protocol (blk_req.c). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/queue.h"
#include "util/event.h"

#define BLK_QUEUE_SIZE VIRTIO_MMIO_QUEUE_NUM_MAX
/*
 * What one read or write may ask for (virtio 1.2 §5.2.4), offered as SEG_MAX and SIZE_MAX and
 * enforced: a request beyond them is answered IOERR and does nothing. SEG_MAX is the queue
 * size less the header and the status, as QEMU offers it (seg_max_adjust), so whatever Linux
 * builds fits the ring even without indirect descriptors. SIZE_MAX must be at least a guest
 * page (Linux raises a smaller max_segment_size to one, newer kernels refuse the disk; arm64
 * pages may be 64 KiB) and costs a guest nothing above that: its block layer splits requests at
 * 1280 KiB (4 MiB on newer kernels) by default and sets no limit of its own (max_hw_sectors
 * UINT_MAX), so SEG_MAX x SIZE_MAX is the largest request a driver honouring both can build,
 * and the cap on a request: 31.75 MiB, where nothing bounded one before (a guest aliasing one
 * buffer had 1 GiB per request, 16 GiB per batch, all written before a stop could finish).
 */
#define BLK_SEG_MAX	  (BLK_QUEUE_SIZE - 2)
#define BLK_SIZE_MAX	  (128u * 1024)
#define BLK_REQ_MAX_BYTES ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
/*
 * A read or write runs in chunks of at most this many bytes, and a stopping device starts no
 * further chunk: about 10 ms of a 100 MB/s disk, a few system calls for the largest request
 * Linux sends by default.
 */
#define BLK_CHUNK_BYTES (1024u * 1024)
/*
 * Chains taken per trip through the device lock; their used elements are handed over together
 * (one index store, one interrupt decision), and a reset waits for at most this many requests
 * per worker. A batch also ends once it holds BLK_BATCH_BYTES of reads or BLK_BATCH_WRITE_BYTES
 * with writes (blk.c), so with the cap on a request it waits for at most ~36 MiB.
 */
#define BLK_BATCH	      16
#define BLK_BATCH_BYTES	      (256u * 1024)
#define BLK_BATCH_WRITE_BYTES (4u * 1024 * 1024)
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
	/* Set with stop: workers start no further request or chunk (blk_req.c). */
	atomic_bool stopping;
	struct blk_worker workers[BLK_WORKERS];

	/* One per worker; the fuzz harness runs the protocol with the first. */
	struct blk_scratch scratch[BLK_WORKERS];
};

/*
 * Runs s->chains[0..n) (without the device lock) and sets s->used. With a ring, the small reads
 * between two other requests go to the kernel together, writes and large reads run at once;
 * like requests in flight on any disk they have no order among themselves. A flush, discard or
 * any other request still runs after every request before it in the batch has completed, and
 * before any after it starts.
 * Returns how many were answered: all n, or, once the device is stopping, the first k (what
 * comes after them is left unanswered, maybe half written, as a guest that goes away expects
 * of requests it never saw complete).
 */
unsigned blk_handle_batch(struct virtio_blk *b, struct blk_scratch *s, unsigned n);

/* The device's feature bits and config space (blk.c; the fuzz harness builds its own disk). */
uint64_t blk_features(const struct virtio_blk *b);
void blk_config_init(struct virtio_blk *b);

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
