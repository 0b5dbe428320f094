// SPDX-License-Identifier: MIT
/* virtio-rng: guest buffers filled from the host CSPRNG, per-request cap, used lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "tests/unit/virtio/driver.h"

#define RAM_SIZE (4 * SZ_1M)

static int setup(void **state)
{
	struct vdrv *d = malloc(sizeof(*d));
	struct errbuf e;

	assert_non_null(d);
	assert_int_equal(vdrv_init(d, RAM_SIZE), 0);
	d->vm = virtio_rng_create(&d->gm, &d->irq, &e);
	assert_non_null(d->vm);
	assert_int_equal(vdrv_start(d, VIRTIO_BIT(VIRTIO_F_VERSION_1), 16), 0);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	vdrv_fini(*state);
	free(*state);
	return 0;
}

static uint32_t request(struct vdrv *d, const struct vdrv_buf *b, unsigned n)
{
	uint32_t id, len;
	int head = vdrv_submit(d, 0, b, n, false);

	assert_true(head >= 0);
	vdrv_notify(d, 0);
	assert_int_equal(vdrv_get_used(d, 0, &id, &len), 1);
	assert_int_equal(id, head);
	return len;
}

/* Distinct byte values in a buffer: random data of 256 bytes has far more than a few. */
static unsigned distinct(const uint8_t *p, size_t n)
{
	bool seen[256] = { false };
	unsigned k = 0;

	for (size_t i = 0; i < n; i++)
		if (!seen[p[i]]) {
			seen[p[i]] = true;
			k++;
		}
	return k;
}

static void test_fills_buffers(void **state)
{
	struct vdrv *d = *state;
	uint64_t a = vdrv_alloc(d, 256, 16), b = vdrv_alloc(d, 256, 16);
	struct vdrv_buf ba = { .gpa = a, .len = 256, .write = true };
	struct vdrv_buf bb = { .gpa = b, .len = 256, .write = true };

	assert_int_equal(request(d, &ba, 1), 256);
	assert_int_equal(request(d, &bb, 1), 256);
	assert_true(distinct(vdrv_ptr(d, a), 256) > 64);
	assert_true(distinct(vdrv_ptr(d, b), 256) > 64);
	assert_memory_not_equal(vdrv_ptr(d, a), vdrv_ptr(d, b), 256);
	assert_int_equal(vdrv_ack(d), VIRTIO_MMIO_INT_VRING);
}

static void test_segments_and_readable_prefix(void **state)
{
	struct vdrv *d = *state;
	uint64_t buf = vdrv_alloc(d, 4096, 16);
	uint8_t *p = vdrv_ptr(d, buf);
	struct vdrv_buf b[3] = {
		{ .gpa = buf, .len = 1024 }, /* readable: ignored */
		{ .gpa = buf + 1024, .len = 100, .write = true },
		{ .gpa = buf + 2048, .len = 300, .write = true },
	};

	memset(p, 0, 4096);
	assert_int_equal(request(d, b, 3), 400);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(p[i], 0);
	assert_true(distinct(p + 2048, 300) > 64);
	for (int i = 2048 + 300; i < 4096; i++)
		assert_int_equal(p[i], 0);
}

static void test_request_cap(void **state)
{
	struct vdrv *d = *state;
	uint64_t buf = vdrv_alloc(d, 128 * 1024, 16);
	uint8_t *p = vdrv_ptr(d, buf);
	struct vdrv_buf b = { .gpa = buf, .len = 128 * 1024, .write = true };

	memset(p, 0, 128 * 1024);
	assert_int_equal(request(d, &b, 1), 64 * 1024);
	for (int i = 64 * 1024; i < 128 * 1024; i++)
		assert_int_equal(p[i], 0);
}

static void test_readable_only(void **state)
{
	struct vdrv *d = *state;
	struct vdrv_buf b = { .gpa = vdrv_alloc(d, 64, 16), .len = 64 };

	assert_int_equal(request(d, &b, 1), 0);
	assert_false(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fills_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segments_and_readable_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_only, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio-rng", tests, NULL, NULL);
}
