// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/bus.h"
#include "util/log.h"

/* A device that records every access it sees. */
struct rec_dev {
	unsigned reads;
	unsigned writes;
	uint64_t offset;
	unsigned width;
	uint64_t value;
	uint64_t read_value;
};

static uint64_t rec_read(void *dev, uint64_t offset, unsigned width)
{
	struct rec_dev *d = dev;

	d->reads++;
	d->offset = offset;
	d->width = width;
	return d->read_value;
}

static void rec_write(void *dev, uint64_t offset, unsigned width, uint64_t value)
{
	struct rec_dev *d = dev;

	d->writes++;
	d->offset = offset;
	d->width = width;
	d->value = value;
}

static const struct bus_ops rec_ops = { .read = rec_read, .write = rec_write };

struct log_rec {
	unsigned warnings;
	char last[1024];
};

static void log_record(enum log_level level, const char *line, void *opaque)
{
	struct log_rec *l = opaque;

	if (level == LOG_WARN)
		l->warnings++;
	snprintf(l->last, sizeof(l->last), "%s", line);
}

struct fixture {
	struct bus bus;
	struct log_rec log;
	struct errbuf err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	bus_init(&f->bus);
	log_set_hook(log_record, &f->log);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	log_set_hook(NULL, NULL);
	bus_destroy(&f->bus);
	free(f);
	return 0;
}

static int reg(struct fixture *f, uint64_t base, uint64_t size, struct rec_dev *d, const char *name)
{
	memset(&f->err, 0, sizeof(f->err));
	return bus_register(&f->bus, base, size, &rec_ops, d, name, &f->err);
}

static void test_register_keeps_sorted(void **state)
{
	struct fixture *f = *state;
	struct rec_dev d = { 0 };
	static const uint64_t bases[] = { 0x5000, 0x1000, 0x9000, 0x3000, 0x7000 };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		assert_int_equal(reg(f, bases[i], 0x1000, &d, "dev"), 0);
	assert_int_equal(f->bus.nr_regions, 5);
	for (size_t i = 1; i < f->bus.nr_regions; i++)
		assert_true(f->bus.regions[i - 1].base < f->bus.regions[i].base);
}

static void assert_overlap_refused(struct fixture *f, uint64_t base, uint64_t size)
{
	struct rec_dev d = { 0 };
	size_t before = f->bus.nr_regions;

	assert_int_equal(reg(f, base, size, &d, "intruder"), -EBUSY);
	assert_non_null(strstr(f->err.msg, "intruder"));
	assert_non_null(strstr(f->err.msg, "resident"));
	assert_int_equal(f->bus.nr_regions, before);
}

static void test_overlap_refused_naming_both(void **state)
{
	struct fixture *f = *state;
	struct rec_dev d = { 0 };

	assert_int_equal(reg(f, 0x10000, 0x1000, &d, "resident"), 0);
	assert_overlap_refused(f, 0x10000, 0x1000); /* identical */
	assert_overlap_refused(f, 0xf000, 0x1001); /* last byte on its first */
	assert_overlap_refused(f, 0x10fff, 0x10); /* first byte on its last */
	assert_overlap_refused(f, 0x10800, 0x10); /* inside */
	assert_overlap_refused(f, 0x8000, 0x10000); /* around */
	assert_int_equal(bus_find(&f->bus, 0x10800)->dev, &d);
}

static void test_adjacent_allowed(void **state)
{
	struct fixture *f = *state;
	struct rec_dev a = { 0 }, b = { 0 }, c = { 0 };

	assert_int_equal(reg(f, 0x2000, 0x1000, &b, "b"), 0);
	assert_int_equal(reg(f, 0x3000, 0x1000, &c, "c"), 0);
	assert_int_equal(reg(f, 0x1000, 0x1000, &a, "a"), 0);
	assert_ptr_equal(bus_find(&f->bus, 0x1fff)->dev, &a);
	assert_ptr_equal(bus_find(&f->bus, 0x2000)->dev, &b);
	assert_ptr_equal(bus_find(&f->bus, 0x2fff)->dev, &b);
	assert_ptr_equal(bus_find(&f->bus, 0x3000)->dev, &c);
	assert_null(bus_find(&f->bus, 0x4000));
	assert_null(bus_find(&f->bus, 0xfff));
}

static void test_empty_and_wrapping_refused(void **state)
{
	struct fixture *f = *state;
	struct rec_dev d = { 0 };

	assert_int_equal(reg(f, 0x1000, 0, &d, "empty"), -EINVAL);
	assert_non_null(strstr(f->err.msg, "empty"));
	assert_int_equal(reg(f, UINT64_MAX - 0xfff, 0x2000, &d, "wrapper"), -EINVAL);
	assert_non_null(strstr(f->err.msg, "wrapper"));
	assert_int_equal(f->bus.nr_regions, 0);
	/* ending exactly at the top of the address space does not wrap */
	assert_int_equal(reg(f, UINT64_MAX - 0xfff, 0x1000, &d, "top"), 0);
	assert_ptr_equal(bus_find(&f->bus, UINT64_MAX)->dev, &d);
	assert_null(bus_find(&f->bus, UINT64_MAX - 0x1000));
}

static void test_missing_ops_refused(void **state)
{
	struct fixture *f = *state;
	static const struct bus_ops half = { .read = rec_read };

	assert_int_equal(bus_register(&f->bus, 0, 0x10, NULL, NULL, "none", &f->err), -EINVAL);
	assert_int_equal(bus_register(&f->bus, 0, 0x10, &half, NULL, "half", &f->err), -EINVAL);
	assert_int_equal(f->bus.nr_regions, 0);
}

#define MANY 300

/* Regions of varied sizes with gaps, registered in a scrambled order. */
static void test_find_across_many_regions(void **state)
{
	struct fixture *f = *state;
	static struct rec_dev devs[MANY];
	uint64_t base[MANY], size[MANY];
	uint64_t at = 0x100;

	for (unsigned i = 0; i < MANY; i++) {
		size[i] = 0x10 * (1 + i % 7);
		base[i] = at;
		at += size[i] + 0x10 * (i % 3); /* some adjacent, some with gaps */
	}
	for (unsigned k = 0; k < MANY; k++) {
		unsigned i = (k * 7919u) % MANY; /* 7919 is prime and coprime to MANY */

		assert_int_equal(reg(f, base[i], size[i], &devs[i], "dev"), 0);
	}
	assert_int_equal(f->bus.nr_regions, MANY);
	assert_null(bus_find(&f->bus, 0));
	assert_null(bus_find(&f->bus, 0xff));
	for (unsigned i = 0; i < MANY; i++) {
		assert_ptr_equal(bus_find(&f->bus, base[i])->dev, &devs[i]);
		assert_ptr_equal(bus_find(&f->bus, base[i] + size[i] - 1)->dev, &devs[i]);
		if (i % 3 && i + 1 < MANY)
			assert_null(bus_find(&f->bus, base[i] + size[i]));
	}
	assert_null(bus_find(&f->bus, base[MANY - 1] + size[MANY - 1] + 0x100));
	assert_null(bus_find(&f->bus, UINT64_MAX));
}

static void test_widths_passed_through(void **state)
{
	struct fixture *f = *state;
	struct rec_dev d = { .read_value = 0x8877665544332211ULL };
	static const unsigned widths[] = { 1, 2, 4, 8 };

	assert_int_equal(reg(f, 0x9000000, 0x1000, &d, "dev"), 0);
	for (size_t i = 0; i < 4; i++) {
		unsigned w = widths[i];
		uint64_t mask = w == 8 ? UINT64_MAX : (1ULL << (8 * w)) - 1;

		assert_int_equal(bus_read(&f->bus, 0x9000010, w), d.read_value & mask);
		assert_int_equal(d.width, w);
		assert_int_equal(d.offset, 0x10);
		bus_write(&f->bus, 0x9000020, w, 0xfedcba9876543210ULL);
		assert_int_equal(d.width, w);
		assert_int_equal(d.offset, 0x20);
		/* the device never sees bits beyond the access */
		assert_int_equal(d.value, 0xfedcba9876543210ULL & mask);
	}
	assert_int_equal(d.reads, 4);
	assert_int_equal(d.writes, 4);
}

static void test_bad_width_ignored(void **state)
{
	struct fixture *f = *state;
	struct rec_dev d = { .read_value = 0xff };
	static const unsigned widths[] = { 0, 3, 5, 16 };

	assert_int_equal(reg(f, 0x1000, 0x1000, &d, "dev"), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(bus_read(&f->bus, 0x1000, widths[i]), 0);
		bus_write(&f->bus, 0x1000, widths[i], 1);
	}
	assert_int_equal(d.reads, 0);
	assert_int_equal(d.writes, 0);
	assert_true(f->log.warnings >= 1);
}

static void test_access_past_region_end_ignored(void **state)
{
	struct fixture *f = *state;
	struct rec_dev d = { .read_value = 0xff };

	assert_int_equal(reg(f, 0x1000, 0x10, &d, "dev"), 0);
	assert_int_equal(bus_read(&f->bus, 0x100c, 8), 0);
	bus_write(&f->bus, 0x100f, 2, 1);
	assert_int_equal(d.reads, 0);
	assert_int_equal(d.writes, 0);
	/* the last fitting access still goes through */
	assert_int_equal(bus_read(&f->bus, 0x100c, 4), 0xff);
	assert_int_equal(d.reads, 1);
}

static void test_unmapped_reads_zero_writes_ignored(void **state)
{
	struct fixture *f = *state;
	struct rec_dev d = { .read_value = 0x55 };

	assert_int_equal(reg(f, 0x1000, 0x1000, &d, "dev"), 0);
	assert_int_equal(bus_read(&f->bus, 0x3000, 4), 0);
	bus_write(&f->bus, 0x3000, 4, 0x1234);
	bus_write(&f->bus, 0x800, 1, 0x1234);
	assert_int_equal(d.reads, 0);
	assert_int_equal(d.writes, 0);
	assert_int_equal(f->bus.unmapped_accesses, 3);
}

static void test_unmapped_logged_once_per_address(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 10; i++) {
		bus_read(&f->bus, 0xdead0000, 4);
		bus_write(&f->bus, 0xdead0000, 4, 0);
	}
	assert_int_equal(f->log.warnings, 1);
	assert_non_null(strstr(f->log.last, "0xdead0000"));
	bus_write(&f->bus, 0xdead0004, 1, 0);
	bus_write(&f->bus, 0xdead0004, 1, 0);
	assert_int_equal(f->log.warnings, 2);
	assert_non_null(strstr(f->log.last, "0xdead0004"));
	assert_int_equal(f->bus.unmapped_accesses, 22);
}

static void test_unmapped_log_is_bounded(void **state)
{
	struct fixture *f = *state;

	for (uint64_t i = 0; i < BUS_UNMAPPED_LOG_MAX; i++)
		bus_read(&f->bus, 0x100000 + 8 * i, 8);
	assert_int_equal(f->log.warnings, BUS_UNMAPPED_LOG_MAX);
	bus_read(&f->bus, 0x200000, 8);
	assert_int_equal(f->log.warnings, BUS_UNMAPPED_LOG_MAX + 1);
	assert_non_null(strstr(f->log.last, "not logged"));
	for (uint64_t i = 0; i < 1000; i++)
		bus_write(&f->bus, 0x300000 + i, 1, 0);
	bus_read(&f->bus, 0x100000, 8);
	assert_int_equal(f->log.warnings, BUS_UNMAPPED_LOG_MAX + 1);
	assert_int_equal(f->bus.unmapped_accesses, BUS_UNMAPPED_LOG_MAX + 1002);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_keeps_sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_refused_naming_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adjacent_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_wrapping_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_ops_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_across_many_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_widths_passed_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_width_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_past_region_end_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_reads_zero_writes_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_logged_once_per_address, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_log_is_bounded, setup, teardown),
	};

	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
