// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arch/aarch64/layout.h"

/* What hv_gic_get_*_size() report on Apple Silicon (hvf-facts.md), 64 KiB aligned. */
static const struct gic_geometry hvf_gic = {
	.dist_size = 0x10000,
	.redist_size_per_cpu = 0x20000,
	.dist_align = 0x10000,
	.redist_align = 0x10000,
};

#define MiB(n) ((uint64_t)(n) << 20)

static void test_gic_below_ram(void **state)
{
	/* The redistributors end at RAM; the distributor sits right below them. */
	static const struct {
		unsigned vcpus;
		uint64_t gicd, gicr;
	} cases[] = {
		{ 1, 0x3ffd0000, 0x3ffe0000 },
		{ 2, 0x3ffb0000, 0x3ffc0000 },
		{ 8, 0x3fef0000, 0x3ff00000 },
		{ 128, 0x3eff0000, 0x3f000000 },
	};
	struct errbuf e;
	struct layout l;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(layout_init(&l, MiB(512), cases[i].vcpus, &hvf_gic, &e), 0);
		assert_int_equal(l.nr_vcpus, cases[i].vcpus);
		assert_int_equal(l.gicd_base, cases[i].gicd);
		assert_int_equal(l.gicd_size, 0x10000);
		assert_int_equal(l.gicr_base, cases[i].gicr);
		assert_int_equal(l.gicr_size, 0x20000ULL * cases[i].vcpus);
		assert_int_equal(l.gicr_base + l.gicr_size, RAM_BASE);
		assert_int_equal(l.ram_base, RAM_BASE);
		assert_int_equal(l.ram_size, MiB(512));
	}
}

/*
 * HVF's redistributor region covers every vCPU the VM supports (64 on the fake Mac: 8 MiB): all of
 * it is kept clear of RAM and of the distributor, and the guest's frames sit at its start.
 */
static void test_gic_reserves_hypervisor_region(void **state)
{
	struct gic_geometry g = hvf_gic;
	struct errbuf e;
	struct layout l;

	(void)state;
	g.redist_region_size = MiB(8);
	assert_int_equal(layout_init(&l, MiB(512), 2, &g, &e), 0);
	assert_int_equal(l.gicr_reserved, MiB(8));
	assert_int_equal(l.gicr_base, RAM_BASE - MiB(8));
	assert_int_equal(l.gicr_size, 0x40000); /* what the FDT names: two vCPUs */
	assert_int_equal(l.gicd_base, RAM_BASE - MiB(8) - 0x10000);
	assert_true(l.gicd_base + l.gicd_size <= l.gicr_base);

	/* A region smaller than the vCPUs need reserves what they need. */
	g.redist_region_size = 0x20000;
	assert_int_equal(layout_init(&l, MiB(512), 4, &g, &e), 0);
	assert_int_equal(l.gicr_reserved, 0x80000);
	assert_int_equal(l.gicr_base + l.gicr_reserved, RAM_BASE);

	/* KVM reports none: the region is exactly the vCPUs' frames, as before. */
	assert_int_equal(layout_init(&l, MiB(512), 4, &hvf_gic, &e), 0);
	assert_int_equal(l.gicr_reserved, l.gicr_size);
	assert_int_equal(l.gicr_base, RAM_BASE - 0x80000);

	/* A region that cannot fit below RAM is refused, not wrapped. */
	g.redist_region_size = RAM_BASE;
	assert_int_equal(layout_init(&l, MiB(512), 1, &g, &e), -ERANGE);
	g.redist_region_size = UINT64_MAX;
	assert_int_equal(layout_init(&l, MiB(512), 1, &g, &e), -ERANGE);
}

static void test_gic_alignment(void **state)
{
	struct gic_geometry g = hvf_gic;
	struct errbuf e;
	struct layout l;

	(void)state;
	/* A 1 MiB redistributor alignment pushes the region down, leaving a gap below RAM. */
	g.redist_align = MiB(1);
	assert_int_equal(layout_init(&l, MiB(512), 1, &g, &e), 0);
	assert_int_equal(l.gicr_base, 0x3ff00000);
	assert_int_equal(l.gicd_base, 0x3fef0000);
	assert_true(l.gicr_base % MiB(1) == 0);

	g = hvf_gic;
	g.dist_align = MiB(2);
	assert_int_equal(layout_init(&l, MiB(512), 1, &g, &e), 0);
	assert_int_equal(l.gicr_base, 0x3ffe0000);
	assert_int_equal(l.gicd_base, 0x3fe00000);

	/* Zero alignment: none requested, 64 KiB frames anyway. */
	g = hvf_gic;
	g.dist_align = g.redist_align = 0;
	assert_int_equal(layout_init(&l, MiB(512), 1, &g, &e), 0);
	assert_int_equal(l.gicd_base, 0x3ffd0000);

	g = hvf_gic;
	g.redist_align = 0x30000;
	assert_int_equal(layout_init(&l, MiB(512), 1, &g, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a power of two"));
}

static void test_gic_bad_geometry(void **state)
{
	struct gic_geometry g = hvf_gic;
	struct errbuf e;
	struct layout l;

	(void)state;
	g.dist_size = 0;
	assert_int_equal(layout_init(&l, MiB(512), 1, &g, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "empty GIC"));

	/* 128 redistributors of 8 MiB would reach down into the virtio-mmio window. */
	g = hvf_gic;
	g.redist_size_per_cpu = MiB(8);
	assert_int_equal(layout_init(&l, MiB(512), 128, &g, &e), -ERANGE);
	assert_non_null(strstr(e.msg, "does not fit"));

	/* Huge sizes must not wrap around. */
	g = hvf_gic;
	g.redist_size_per_cpu = 1ULL << 63;
	assert_int_equal(layout_init(&l, MiB(512), 2, &g, &e), -ERANGE);
	g = hvf_gic;
	g.dist_size = ~0ULL;
	assert_int_equal(layout_init(&l, MiB(512), 2, &g, &e), -ERANGE);

	assert_int_equal(layout_init(&l, MiB(512), 1, NULL, &e), -EINVAL);
}

static void test_gic_clear_of_devices(void **state)
{
	struct errbuf e;
	struct layout l;

	(void)state;
	for (unsigned n = 1; n <= MAX_VCPUS; n++) {
		assert_int_equal(layout_init(&l, MiB(64), n, &hvf_gic, &e), 0);
		assert_true(l.gicd_base >=
			    layout_virtio_base(VIRTIO_MMIO_SLOTS - 1) + VIRTIO_MMIO_SIZE);
		assert_true(l.gicd_base + l.gicd_size <= l.gicr_base);
		assert_true(l.gicr_base + l.gicr_size <= RAM_BASE);
		assert_true(UART_BASE + UART_SIZE <= VIRTIO_MMIO_BASE);
	}
}

static void test_ram_limits(void **state)
{
	static const struct {
		uint64_t size;
		int ret;
		const char *msg;
	} cases[] = {
		{ RAM_MIN_SIZE, 0, NULL },
		{ RAM_MIN_SIZE - MiB(1), -EINVAL, "below the minimum" },
		{ 0, -EINVAL, "below the minimum" },
		{ MiB(512) + 4096, -EINVAL, "whole number of MiB" },
		{ RAM_MAX_SIZE, 0, NULL },
		{ RAM_MAX_SIZE + MiB(1), -EINVAL, "above the maximum" },
		{ ~0ULL << 20, -EINVAL, "above the maximum" },
	};
	struct errbuf e;
	struct layout l;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e.msg[0] = '\0';
		assert_int_equal(layout_init(&l, cases[i].size, 1, &hvf_gic, &e), cases[i].ret);
		if (cases[i].msg)
			assert_non_null(strstr(e.msg, cases[i].msg));
		else
			assert_int_equal(l.fdt_base, RAM_BASE + cases[i].size - MiB(2));
	}
}

static void test_vcpu_limits(void **state)
{
	struct errbuf e;
	struct layout l;

	(void)state;
	assert_int_equal(layout_init(&l, MiB(512), 0, &hvf_gic, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "0 vCPUs"));
	assert_int_equal(layout_init(&l, MiB(512), MAX_VCPUS + 1, &hvf_gic, &e), -EINVAL);
	assert_int_equal(layout_init(&l, MiB(512), MAX_VCPUS, &hvf_gic, &e), 0);
}

static void test_fdt_addr(void **state)
{
	struct errbuf e;
	struct layout l;

	(void)state;
	assert_int_equal(fdt_addr(MiB(512)), 0x5fe00000);
	assert_int_equal(fdt_addr(MiB(16)), 0x40e00000);
	assert_int_equal(layout_init(&l, MiB(1024), 2, &hvf_gic, &e), 0);
	assert_int_equal(l.fdt_base, 0x7fe00000);
	assert_int_equal(l.fdt_base + FDT_MAX_SIZE, l.ram_base + l.ram_size);
}

static void test_ipa_bits(void **state)
{
	static const struct {
		uint64_t ram;
		unsigned bits;
	} cases[] = {
		{ MiB(16), 32 }, /* ends at 0x4100_0000: 31 bits, KVM's minimum is 32 */
		{ MiB(3072), 32 }, /* ends exactly at 4 GiB */
		{ MiB(3073), 33 }, /* one MiB past 4 GiB */
		{ MiB(7168), 33 }, /* ends at 8 GiB */
		{ RAM_MAX_SIZE, 40 }, /* ends at 1 TiB */
	};
	struct errbuf e;
	struct layout l;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(layout_init(&l, cases[i].ram, 1, &hvf_gic, &e), 0);
		assert_int_equal(layout_ipa_bits(&l), cases[i].bits);
	}
}

static void test_virtio_slots(void **state)
{
	(void)state;
	assert_int_equal(layout_virtio_base(0), 0x0a000000);
	assert_int_equal(layout_virtio_base(1), 0x0a000200);
	assert_int_equal(layout_virtio_base(31), 0x0a003e00);
	assert_int_equal(layout_virtio_spi(0), 1);
	assert_int_equal(SPI_INTID(layout_virtio_spi(0)), 33);
	assert_int_equal(layout_virtio_spi(31), 32);
	assert_int_equal(SPI_INTID(UART_SPI), 32);
}

static void test_mpidr(void **state)
{
	static const struct {
		unsigned index;
		uint64_t mpidr;
	} cases[] = {
		{ 0, 0x0 }, { 1, 0x1 }, { 15, 0xf }, { 16, 0x100 }, { 17, 0x101 }, { 127, 0x70f },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(mpidr_for_vcpu(cases[i].index), cases[i].mpidr);
}

static void test_initrd_placement(void **state)
{
	struct errbuf e;
	struct layout l;
	uint64_t base = 0;

	(void)state;
	assert_int_equal(layout_init(&l, MiB(512), 1, &hvf_gic, &e), 0);

	assert_int_equal(layout_place_initrd(&l, MiB(1), &base, &e), 0);
	assert_int_equal(base, l.fdt_base - MiB(1));

	/* An odd size is placed page aligned, ending at or below the DTB. */
	assert_int_equal(layout_place_initrd(&l, 0x1234, &base, &e), 0);
	assert_int_equal(base, 0x5fdfe000);
	assert_true(base % INITRD_ALIGN == 0);
	assert_true(base + 0x1234 <= l.fdt_base);

	/* Exactly all of RAM below the DTB still fits. */
	assert_int_equal(layout_place_initrd(&l, l.fdt_base - RAM_BASE, &base, &e), 0);
	assert_int_equal(base, RAM_BASE);

	assert_int_equal(layout_place_initrd(&l, l.fdt_base - RAM_BASE + 1, &base, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "does not fit"));
	assert_int_equal(layout_place_initrd(&l, ~0ULL, &base, &e), -E2BIG);
	assert_int_equal(layout_place_initrd(&l, 0, &base, &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gic_below_ram),
		cmocka_unit_test(test_gic_reserves_hypervisor_region),
		cmocka_unit_test(test_gic_alignment),
		cmocka_unit_test(test_gic_bad_geometry),
		cmocka_unit_test(test_gic_clear_of_devices),
		cmocka_unit_test(test_ram_limits),
		cmocka_unit_test(test_vcpu_limits),
		cmocka_unit_test(test_fdt_addr),
		cmocka_unit_test(test_ipa_bits),
		cmocka_unit_test(test_virtio_slots),
		cmocka_unit_test(test_mpidr),
		cmocka_unit_test(test_initrd_placement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
