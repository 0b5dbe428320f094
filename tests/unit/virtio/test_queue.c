// SPDX-License-Identifier: MIT
/*
 * Split-virtqueue walking against hostile rings. Each malformed ring must put the device into
 * DEVICE_NEEDS_RESET with a config interrupt, return no used element, and touch nothing outside
 * guest RAM (the RAM is a heap block, so ASan reports any stray access). virtio-rng serves the
 * rings on the notifying thread, which makes every case deterministic; one case goes through
 * virtio-blk's worker thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "tests/unit/virtio/driver.h"
#include "util/log.h"

#define RAM_SIZE (4 * SZ_1M)
#define RAM_END	 (VDRV_RAM_GPA + RAM_SIZE)
#define QSIZE	 8
#define WANT                                                                    \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | \
	 VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC))
#define W VIRTQ_DESC_F_WRITE
#define N VIRTQ_DESC_F_NEXT
#define I VIRTQ_DESC_F_INDIRECT

struct fixture {
	struct vdrv d;
	uint64_t buf; /* 4 KiB of scratch guest memory */
	uint64_t table; /* room for an indirect table of 64 entries */
};

static int setup_with(void **state, uint64_t want)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf e;

	assert_non_null(f);
	assert_int_equal(vdrv_init(&f->d, RAM_SIZE), 0);
	f->d.vm = virtio_rng_create(&f->d.gm, &f->d.irq, &e);
	assert_non_null(f->d.vm);
	assert_int_equal(vdrv_start(&f->d, want, QSIZE), 0);
	f->buf = vdrv_alloc(&f->d, 4096, 4096);
	f->table = vdrv_alloc(&f->d, 64 * 16, 16);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, WANT);
}

static int setup_no_indirect(void **state)
{
	return setup_with(state, VIRTIO_BIT(VIRTIO_F_VERSION_1));
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vdrv_fini(&f->d);
	free(f);
	return 0;
}

/* The guest's scratch buffer must be untouched: rng fills writable buffers with noise. */
static void expect_buf_untouched(struct fixture *f)
{
	const uint8_t *p = vdrv_ptr(&f->d, f->buf);

	for (int i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0);
}

/* Publishes head, notifies and expects the device to give up on the ring. */
static void expect_broken(struct fixture *f, uint16_t head)
{
	struct vdrv *d = &f->d;

	vdrv_avail_publish(d, 0, head);
	vdrv_notify(d, 0);
	assert_true(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_true(vdrv_read(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_true(atomic_load(&d->level));
	assert_int_equal(vdrv_used_idx(d, 0), 0);
	expect_buf_untouched(f);

	/* Stopped until reset: a valid request now is not served. */
	vdrv_desc(d, 0, 0, f->buf, 16, W, 0);
	vdrv_avail_publish(d, 0, 0);
	vdrv_notify(d, 0);
	assert_int_equal(vdrv_used_idx(d, 0), 0);
	expect_buf_untouched(f);

	/* After a reset the device serves again. */
	assert_int_equal(vdrv_start(d, d->features, QSIZE), 0);
	assert_false(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_false(atomic_load(&d->level));
	vdrv_desc(d, 0, 0, f->buf, 16, W, 0);
	vdrv_avail_publish(d, 0, 0);
	vdrv_notify(d, 0);
	assert_int_equal(vdrv_used_idx(d, 0), 1);
}

/* One descriptor chain that the device must accept; returns the used length. */
static uint32_t expect_served(struct fixture *f, uint16_t head)
{
	struct vdrv *d = &f->d;
	uint32_t id, len;

	vdrv_avail_publish(d, 0, head);
	vdrv_notify(d, 0);
	assert_false(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vdrv_get_used(d, 0, &id, &len), 1);
	assert_int_equal(id, head);
	return len;
}

static void test_valid_chain(void **state)
{
	struct fixture *f = *state;

	/* A readable prefix, then writable buffers (one empty): the whole queue, out of order. */
	vdrv_desc(&f->d, 0, 3, f->buf + 2048, 100, N, 5);
	vdrv_desc(&f->d, 0, 5, f->buf, 10, W | N, 0);
	vdrv_desc(&f->d, 0, 0, f->buf + 10, 0, W | N, 1);
	vdrv_desc(&f->d, 0, 1, f->buf + 20, 10, W | N, 2);
	vdrv_desc(&f->d, 0, 2, f->buf + 30, 10, W | N, 4);
	vdrv_desc(&f->d, 0, 4, f->buf + 40, 10, W | N, 6);
	vdrv_desc(&f->d, 0, 6, f->buf + 50, 10, W | N, 7);
	vdrv_desc(&f->d, 0, 7, f->buf + 60, 10, W, 0);
	assert_int_equal(expect_served(f, 3), 60);
}

static void test_desc_outside_ram(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, 0x1000, 16, W, 0);
	expect_broken(f, 0);
}

static void test_desc_past_ram_end(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, RAM_END - 8, 16, W, 0);
	expect_broken(f, 0);
}

static void test_desc_addr_len_overflow(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, 0xfffffffffffffff0ull, 0x20, W, 0);
	expect_broken(f, 0);
}

static void test_desc_huge_len(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, f->buf, 0xffffffffu, W, 0);
	expect_broken(f, 0);
}

static void test_loop(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, f->buf, 16, W | N, 1);
	vdrv_desc(&f->d, 0, 1, f->buf + 16, 16, W | N, 0);
	expect_broken(f, 0);
}

static void test_self_loop(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 2, f->buf, 16, W | N, 2);
	expect_broken(f, 2);
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, f->buf, 16, W | N, QSIZE);
	expect_broken(f, 0);
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;

	expect_broken(f, QSIZE);
}

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;

	for (uint16_t i = 0; i < QSIZE; i++)
		vdrv_desc(&f->d, 0, i, f->buf + 16 * i, 16, W, 0);
	/* A full ring is fine ... */
	vdrv_avail_set_idx(&f->d, 0, QSIZE);
	vdrv_notify(&f->d, 0);
	assert_int_equal(vdrv_used_idx(&f->d, 0), QSIZE);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* ... more than a ring's worth of new entries is not. */
	memset(vdrv_ptr(&f->d, f->buf), 0, 4096);
	vdrv_avail_set_idx(&f->d, 0, 2 * QSIZE + 1);
	vdrv_notify(&f->d, 0);
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vdrv_used_idx(&f->d, 0), QSIZE);
	expect_buf_untouched(f);
}

static void test_writable_before_readable(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, f->buf, 16, W | N, 1);
	vdrv_desc(&f->d, 0, 1, f->buf + 16, 16, N, 2);
	vdrv_desc(&f->d, 0, 2, f->buf + 32, 16, W, 0);
	expect_broken(f, 0);
}

static void indirect_table(struct fixture *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		vdrv_indirect_desc(&f->d, f->table, (uint16_t)i, f->buf + 16 * i, 16,
				   (uint16_t)(W | (i + 1 < n ? N : 0)), (uint16_t)(i + 1));
}

static void test_indirect_valid(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, QSIZE);
	vdrv_desc(&f->d, 0, 0, f->table, QSIZE * 16, I, 0);
	assert_int_equal(expect_served(f, 0), QSIZE * 16);
}

static void test_indirect_chain_too_long(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, QSIZE + 1);
	vdrv_desc(&f->d, 0, 0, f->table, (QSIZE + 1) * 16, I, 0);
	expect_broken(f, 0);
}

static void test_indirect_bad_len(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, 2);
	vdrv_desc(&f->d, 0, 0, f->table, 24, I, 0);
	expect_broken(f, 0);
}

static void test_indirect_zero_len(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, f->table, 0, I, 0);
	expect_broken(f, 0);
}

static void test_indirect_outside_ram(void **state)
{
	struct fixture *f = *state;

	vdrv_desc(&f->d, 0, 0, RAM_END - 16, 32, I, 0);
	expect_broken(f, 0);
}

static void test_indirect_nested(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, 2);
	vdrv_indirect_desc(&f->d, f->table, 1, f->table, 32, I, 0);
	vdrv_desc(&f->d, 0, 0, f->table, 32, I, 0);
	expect_broken(f, 0);
}

static void test_indirect_with_next(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, 2);
	vdrv_desc(&f->d, 0, 0, f->table, 32, I | N, 1);
	vdrv_desc(&f->d, 0, 1, f->buf + 256, 16, W, 0);
	expect_broken(f, 0);
}

static void test_indirect_next_out_of_table(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, 2);
	vdrv_indirect_desc(&f->d, f->table, 1, f->buf + 16, 16, W | N, 2);
	vdrv_desc(&f->d, 0, 0, f->table, 32, I, 0);
	expect_broken(f, 0);
}

static void test_indirect_entry_outside_ram(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, 2);
	vdrv_indirect_desc(&f->d, f->table, 1, RAM_END, 1, W, 0);
	vdrv_desc(&f->d, 0, 0, f->table, 32, I, 0);
	expect_broken(f, 0);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;

	indirect_table(f, 2);
	vdrv_desc(&f->d, 0, 0, f->table, 32, I, 0);
	expect_broken(f, 0);
}

/* Interrupts: only when used idx passes the driver's used_event. */
static void test_event_idx_used_event(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	unsigned raises = atomic_load(&d->raises);

	vdrv_set_used_event(d, 0, 5);
	for (uint16_t i = 0; i < 7; i++) {
		vdrv_desc(d, 0, (uint16_t)(i % QSIZE), f->buf + 16 * i, 16, W, 0);
		vdrv_avail_publish(d, 0, (uint16_t)(i % QSIZE));
		vdrv_notify(d, 0);
		assert_int_equal(vdrv_used_idx(d, 0), i + 1);
		/* Used idx 6 is the first to pass used_event 5. */
		assert_int_equal(atomic_load(&d->raises), raises + (i >= 5));
		assert_int_equal(vdrv_read(d, VIRTIO_MMIO_INTERRUPT_STATUS) != 0, i >= 5);
	}
}

/* Notifications: the device publishes in avail_event where it wants the next kick. */
static void test_event_idx_avail_event(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	struct vdrv_buf b = { .gpa = f->buf, .len = 16, .write = true };
	uint32_t id, len;

	for (int i = 0; i < 3; i++)
		assert_true(vdrv_submit(d, 0, &b, 1, false) >= 0);
	/* One kick for three buffers: the device takes them all. */
	assert_true(vdrv_kick(d, 0));
	assert_int_equal(vdrv_used_idx(d, 0), 3);
	assert_int_equal(vdrv_avail_event(d, 0), 3);
	while (vdrv_get_used(d, 0, &id, &len))
		;
	/* Drained: the next buffer needs a kick, and the device serves it. */
	assert_true(vdrv_submit(d, 0, &b, 1, false) >= 0);
	assert_true(vdrv_kick(d, 0));
	assert_int_equal(vdrv_used_idx(d, 0), 4);
	assert_int_equal(vdrv_avail_event(d, 0), 4);
	/* Without EVENT_IDX the device would have set NO_NOTIFY: here it leaves flags alone. */
	assert_int_equal(vdrv_used_flags(d, 0), 0);
}

/* Without EVENT_IDX: NO_INTERRUPT in avail->flags silences interrupts, NO_NOTIFY is clear idle. */
static void test_flags_suppression(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	struct vdrv_buf b = { .gpa = f->buf, .len = 16, .write = true };
	unsigned raises = atomic_load(&d->raises);
	uint32_t id, len;

	vdrv_avail_flags(d, 0, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_true(vdrv_submit(d, 0, &b, 1, false) >= 0);
	assert_true(vdrv_kick(d, 0));
	assert_int_equal(vdrv_used_idx(d, 0), 1);
	assert_int_equal(atomic_load(&d->raises), raises);
	assert_int_equal(vdrv_used_flags(d, 0) & VIRTQ_USED_F_NO_NOTIFY, 0);
	assert_int_equal(vdrv_get_used(d, 0, &id, &len), 1);
	vdrv_avail_flags(d, 0, 0);
	assert_true(vdrv_submit(d, 0, &b, 1, false) >= 0);
	assert_true(vdrv_kick(d, 0));
	assert_int_equal(atomic_load(&d->raises), raises + 1);
}

/* Several used elements published together cost one interrupt. */
static void test_batched_publication(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	struct vdrv_buf b = { .gpa = f->buf, .len = 16, .write = true };
	unsigned raises = atomic_load(&d->raises);

	for (int i = 0; i < QSIZE; i++)
		assert_true(vdrv_submit(d, 0, &b, 1, false) >= 0);
	vdrv_notify(d, 0);
	assert_int_equal(vdrv_used_idx(d, 0), QSIZE);
	assert_int_equal(atomic_load(&d->raises), raises + 1);
}

/* The same checks hold on virtio-blk's worker thread. */
static void test_blk_worker_broken_ring(void **state)
{
	struct vdrv d;
	struct virtio_blk_params p = { 0 };
	char path[] = "/tmp/ignition-queue-XXXXXX";
	struct errbuf e;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SZ_1M), 0);
	close(fd);
	p.path = path;
	assert_int_equal(vdrv_init(&d, RAM_SIZE), 0);
	d.vm = virtio_blk_create(&p, &d.gm, &d.irq, &e);
	assert_non_null(d.vm);
	assert_int_equal(vdrv_start(&d, WANT, QSIZE), 0);
	vdrv_desc(&d, 0, 0, VDRV_RAM_GPA + 4096, 16, N, 1);
	vdrv_desc(&d, 0, 1, RAM_END - 256, 512, N, 2);
	vdrv_desc(&d, 0, 2, VDRV_RAM_GPA + 8192, 1, W, 0);
	vdrv_avail_publish(&d, 0, 0);
	vdrv_notify(&d, 0);
	for (int i = 0; i < 5000 && !(vdrv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); i++)
		usleep(1000);
	assert_true(vdrv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_true(vdrv_read(&d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(vdrv_used_idx(&d, 0), 0);
	vdrv_fini(&d);
	unlink(path);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_valid_chain),
		T(test_desc_outside_ram),
		T(test_desc_past_ram_end),
		T(test_desc_addr_len_overflow),
		T(test_desc_huge_len),
		T(test_loop),
		T(test_self_loop),
		T(test_next_out_of_range),
		T(test_head_out_of_range),
		T(test_avail_idx_jump),
		T(test_writable_before_readable),
		T(test_indirect_valid),
		T(test_indirect_chain_too_long),
		T(test_indirect_bad_len),
		T(test_indirect_zero_len),
		T(test_indirect_outside_ram),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_next_out_of_table),
		T(test_indirect_entry_outside_ram),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup_no_indirect,
						teardown),
		T(test_event_idx_used_event),
		T(test_event_idx_avail_event),
		cmocka_unit_test_setup_teardown(test_flags_suppression, setup_no_indirect,
						teardown),
		T(test_batched_publication),
		cmocka_unit_test(test_blk_worker_broken_ring),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("virtio-queue", tests, NULL, NULL);
}
