// SPDX-License-Identifier: MIT
/*
 * A virtio-blk worker's io_uring: the small reads of a batch (blk_req.c chooses) go to the
 * kernel in one system call, where preadv takes one each. Without liburing (macOS, or a build
 * without it), with io_uring refused by the kernel or a container's filter, or with
 * IGNITION_NO_IO_URING set, there is no ring and the worker calls preadv/pwritev.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "devices/virtio/blk_int.h"

#if HAVE_IO_URING
#include <liburing.h>

struct blk_ring {
	struct io_uring ring;
	/* io_uring_enter failed once: the ring is never entered again, whatever it still holds */
	bool broken;
};

struct blk_ring *blk_ring_create(const char **why)
{
	struct blk_ring *r;
	int err;
	const char *off = getenv("IGNITION_NO_IO_URING");

	/* set and not "0", as vm.c's measurement knobs */
	if (off && *off && strcmp(off, "0")) {
		*why = "IGNITION_NO_IO_URING is set";
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		*why = "out of memory";
		return NULL;
	}
	err = io_uring_queue_init(BLK_BATCH, &r->ring, 0);
	if (err) {
		*why = err == -ENOSYS ? "the kernel has no io_uring" :
		       err == -EPERM  ? "io_uring is not permitted here" :
					"io_uring_setup failed";
		free(r);
		return NULL;
	}
	return r;
}

void blk_ring_destroy(struct blk_ring *r)
{
	if (!r)
		return;
	io_uring_queue_exit(&r->ring);
	free(r);
}

/* A completion: done, or the rest (after a short transfer or a retryable error) the slow way. */
static void io_complete(int fd, struct blk_io *io, int res)
{
	if (res < 0 && res != -EAGAIN && res != -EINTR) {
		io->err = res;
		return;
	}
	if (res >= 0 && (uint64_t)res == io->len) {
		io->err = 0;
		return;
	}
	if (res > 0)
		blk_iov_skip(&io->iov, &io->cnt, (size_t)res);
	io->err = blk_rw_full(fd, io->iov, io->cnt, io->off + (res > 0 ? res : 0), io->write);
}

/* Waits for n completions of io (user_data is the index); 0 or -errno if waiting failed. */
static int ring_reap(struct blk_ring *r, int fd, struct blk_io *io, unsigned nr_io, unsigned n)
{
	while (n) {
		struct io_uring_cqe *cqe;
		int err = io_uring_wait_cqe(&r->ring, &cqe);

		if (err == -EINTR)
			continue;
		if (err)
			return err;
		if (cqe->user_data < nr_io)
			io_complete(fd, &io[cqe->user_data], cqe->res);
		io_uring_cqe_seen(&r->ring, cqe);
		n--;
	}
	return 0;
}

void blk_ring_run(struct blk_ring *r, int fd, struct blk_io *io, unsigned n)
{
	unsigned submitted = 0;
	int ret;

	if (r && !r->broken && n <= BLK_BATCH) {
		for (unsigned i = 0; i < n; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

			if (io[i].write)
				io_uring_prep_writev(sqe, fd, io[i].iov, (unsigned)io[i].cnt,
						     (uint64_t)io[i].off);
			else
				io_uring_prep_readv(sqe, fd, io[i].iov, (unsigned)io[i].cnt,
						    (uint64_t)io[i].off);
			io_uring_sqe_set_data64(sqe, i);
			io[i].err = -EINPROGRESS;
		}
		do
			ret = io_uring_submit_and_wait(&r->ring, n);
		while (ret == -EINTR);
		/* The kernel takes SQEs in order: the first `ret` are in flight. */
		submitted = ret > 0 ? (unsigned)ret : 0;
		if (ring_reap(r, fd, io, n, submitted)) {
			/*
			 * Waiting failed, which io_uring_enter only does for a broken ring: fail
			 * what did not complete rather than wait forever.
			 */
			for (unsigned i = 0; i < submitted; i++)
				if (io[i].err == -EINPROGRESS)
					io[i].err = -EIO;
			r->broken = true;
		}
		/* Never enter a ring again that holds SQEs it refused: they must not run later. */
		if (submitted < n)
			r->broken = true;
	}
	/* Whatever the ring did not take (or no ring) runs here, one after the other. */
	for (unsigned i = submitted; i < n; i++)
		io[i].err = blk_rw_full(fd, io[i].iov, io[i].cnt, io[i].off, io[i].write);
}

#else

struct blk_ring *blk_ring_create(const char **why)
{
	*why = "built without liburing";
	return NULL;
}

void blk_ring_destroy(struct blk_ring *r)
{
	(void)r;
}

void blk_ring_run(struct blk_ring *r, int fd, struct blk_io *io, unsigned n)
{
	(void)r;
	for (unsigned i = 0; i < n; i++)
		io[i].err = blk_rw_full(fd, io[i].iov, io[i].cnt, io[i].off, io[i].write);
}

#endif
