// SPDX-License-Identifier: MIT
/*
 * The HVF backend before any guest runs: what it reports about the host, how it builds the VM,
 * the ordering, memory and thread rules it keeps, and the fake's own enforcement of HVF's rules.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rig.h"
#include "util/log.h"

static void test_probe(void **state)
{
	struct rig *r = *state;

	assert_int_equal(hv->probe(&r->caps, &r->e), 0);
	assert_int_equal(r->caps.gic.dist_size, 0x10000);
	assert_int_equal(r->caps.gic.redist_size_per_cpu, 0x20000);
	assert_int_equal(r->caps.gic.dist_align, 0x10000);
	assert_int_equal(r->caps.gic.redist_align, 0x10000);
	assert_int_equal(r->caps.ram_align, 0x4000);
	assert_false(r->caps.psci_in_kernel);
	assert_int_equal(r->caps.max_vcpus, 64);
	assert_int_equal(r->caps.max_ipa_bits, 42);
	assert_string_equal(hv->name, "hvf");
}

static void test_macos14_has_no_gic(void **state)
{
	struct rig *r = *state;
	struct fake_host old = fake_mac;
	struct hv_vm_params p = { .nr_vcpus = 1, .ipa_bits = 32 };

	old.macos = 14;
	fake_reset(&old);
	assert_true(hv->probe(&r->caps, &r->e) < 0);
	assert_non_null(strstr(r->e.msg, "macOS 15"));
	/* Even a VMM that skipped probe gets the same answer, not a missing symbol. */
	assert_int_equal(hv->vm_create(&p, &r->vm, &r->e), 0);
	assert_true(hv->gic_create(r->vm, &r->l, &r->e) < 0);
	assert_non_null(strstr(r->e.msg, "macOS 15"));
}

static void test_ipa_size(void **state)
{
	struct rig *r = *state;
	struct hv_vm_params p = { .nr_vcpus = 1, .ipa_bits = 36 };

	assert_int_equal(hv->vm_create(&p, &r->vm, &r->e), 0);
	assert_int_equal(fake_vm_ipa_bits(), 0); /* the default fits: left alone */
	hv->vm_destroy(r->vm);

	p.ipa_bits = 40;
	assert_int_equal(hv->vm_create(&p, &r->vm, &r->e), 0);
	assert_int_equal(fake_vm_ipa_bits(), 40);
	hv->vm_destroy(r->vm);
	r->vm = NULL;

	p.ipa_bits = 44;
	assert_true(hv->vm_create(&p, &r->vm, &r->e) < 0);
	assert_non_null(strstr(r->e.msg, "42"));
	assert_int_equal(fake_calls("hv_vm_create"), 2);
}

static void test_unsigned_binary(void **state)
{
	struct rig *r = *state;
	struct fake_host h = fake_mac;
	struct hv_vm_params p = { .nr_vcpus = 1, .ipa_bits = 32 };

	h.vm_create_result = HV_DENIED;
	fake_reset(&h);
	assert_int_equal(hv->vm_create(&p, &r->vm, &r->e), -EPERM);
	assert_non_null(strstr(r->e.msg, "com.apple.security.hypervisor"));
	assert_non_null(strstr(r->e.msg, "HV_DENIED"));
}

static void test_map_ram_rules(void **state)
{
	struct rig *r = *state;
	uint64_t above;

	rig_vm(r, 1);
	above = RAM_BASE + r->l.ram_size;
	assert_int_equal(hv->map_ram(r->vm, above, r->ram + 0x1000, 0x4000, &r->e), -EINVAL);
	assert_int_equal(hv->map_ram(r->vm, 0x2000, r->ram, 0x4000, &r->e), -EINVAL);
	assert_int_equal(hv->map_ram(r->vm, 0, r->ram, 0x4000, &r->e), -EINVAL);
	assert_int_equal(hv->map_ram(r->vm, above, r->ram, 0x3000, &r->e), -EINVAL);
	assert_int_equal(fake_calls("hv_vm_map"), 1); /* only the rig's own, valid one */
}

static void test_vcpu_before_gic_refused(void **state)
{
	struct rig *r = *state;
	struct hv_vm_params p = { .nr_vcpus = 1, .ipa_bits = 32 };

	assert_int_equal(hv->vm_create(&p, &r->vm, &r->e), 0);
	assert_true(hv->vcpu_create(r->vm, 0, 0, &r->vcpu, &r->e) < 0);
	r->vcpu = NULL;
	assert_int_equal(fake_calls("hv_vcpu_create"), 0);
}

/*
 * HVF puts redistributors for every vCPU it supports in one region from the configured base, and
 * RAM is mapped before hv_gic_create: the layout keeps all of that region free, the device tree
 * names the vCPUs' part at its start.
 */
static void test_gic_region_reserved(void **state)
{
	struct rig *r = *state;

	rig_vm(r, 2);
	assert_int_equal(r->caps.gic.redist_region_size, 64 * 0x20000);
	assert_int_equal(r->l.gicr_reserved, 64 * 0x20000);
	assert_int_equal(r->l.gicr_base + r->l.gicr_reserved, RAM_BASE);
	assert_int_equal(r->l.gicr_size, 2 * 0x20000);
	assert_true(r->l.gicd_base + r->l.gicd_size <= r->l.gicr_base);
	rig_vcpu(r);
	assert_int_equal(fake_calls("hv_gic_create"), 1);
	assert_int_equal(fake_violations(), 0);
}

/* The old layout (only the vCPUs' frames below RAM) would put HVF's region over RAM. */
static void test_gic_region_too_small_refused(void **state)
{
	struct rig *r = *state;
	struct hv_vm_params p = { .nr_vcpus = 2, .ipa_bits = 32 };
	struct gic_geometry g;

	assert_int_equal(hv->probe(&r->caps, &r->e), 0);
	g = r->caps.gic;
	g.redist_region_size = 0;
	assert_int_equal(layout_init(&r->l, RAM_MIN_SIZE, 2, &g, &r->e), 0);
	assert_int_equal(hv->vm_create(&p, &r->vm, &r->e), 0);
	assert_true(hv->gic_create(r->vm, &r->l, &r->e) < 0);
	assert_non_null(strstr(r->e.msg, "HVF's region is 0x800000 bytes"));
	assert_int_equal(fake_calls("hv_gic_create"), 0);
}

/* A vCPU whose redistributor HVF placed where the guest does not look is an error. */
static void test_redistributor_outside_region_is_error(void **state)
{
	struct rig *r = *state;
	static const struct {
		unsigned first;
		const char *msg;
	} cases[] = {
		/* inside HVF's region, past the two frames the device tree names */
		{ 2, "outside the frames the device tree names" },
		/* past HVF's own region */
		{ 64, "outside the redistributor region" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++, rig_again(r)) {
		struct fake_host h = fake_mac;

		h.redist_first = cases[i].first;
		fake_reset(&h);
		rig_vm(r, 2);
		assert_true(hv->vcpu_create(r->vm, 0, mpidr_for_vcpu(0), &r->vcpu, &r->e) < 0);
		r->vcpu = NULL;
		assert_non_null(strstr(r->e.msg, cases[i].msg));
		assert_non_null(strstr(r->e.msg, "vCPU 0"));
		/* The HVF vCPU did not outlive the failure. */
		assert_int_equal(fake_calls("hv_vcpu_destroy"), 1);
		assert_false(fake_has_vcpu(mpidr_for_vcpu(1)));
	}
}

struct foreign {
	struct rig *r;
	int run;
	unsigned sets_before, sets_after;
};

static void *foreign_main(void *arg)
{
	struct foreign *f = arg;
	struct hv_exit x;
	struct errbuf e;

	f->sets_before = fake_calls("hv_vcpu_set_reg");
	f->run = hv->vcpu_run(f->r->vcpu, &x, &e);
	hv->complete_call(f->r->vcpu, 0);
	hv->complete_mmio_read(f->r->vcpu, 0);
	f->sets_after = fake_calls("hv_vcpu_set_reg");
	return NULL;
}

static void test_foreign_thread_refused(void **state)
{
	struct rig *r = *state;
	struct foreign f = { .r = r };
	pthread_t t;

	rig_vm(r, 1);
	rig_vcpu(r);
	assert_int_equal(pthread_create(&t, NULL, foreign_main, &f), 0);
	pthread_join(t, NULL);
	assert_int_equal(f.run, -EPERM);
	assert_int_equal(f.sets_after, f.sets_before); /* refused before reaching HVF */
	assert_int_equal(fake_calls("hv_vcpu_run"), 0);
}

/* ---- the fake's own rules ---- */

static void test_fake_gic_after_vcpu(void **state)
{
	hv_vcpu_exit_t *exit;
	hv_gic_config_t cfg;
	hv_vcpu_t id;

	(void)state;
	assert_int_equal(hv_vm_create(NULL), HV_SUCCESS);
	assert_int_equal(hv_vcpu_create(&id, &exit, NULL), HV_SUCCESS);
	cfg = hv_gic_config_create();
	hv_gic_config_set_distributor_base(cfg, 0x3ffd0000);
	hv_gic_config_set_redistributor_base(cfg, 0x3ffe0000);
	assert_int_not_equal(hv_gic_create(cfg), HV_SUCCESS);
	assert_true(fake_violated("after a vCPU"));
	os_release(cfg);
	hv_vcpu_destroy(id);
	hv_vm_destroy();
	fake_reset(NULL);
}

static void *fake_foreign_main(void *arg)
{
	hv_vcpu_t *id = arg;

	hv_vcpu_set_reg(*id, HV_REG_PC, 0);
	return NULL;
}

static void test_fake_thread_affinity(void **state)
{
	hv_vcpu_exit_t *exit;
	hv_vcpu_t id, id2;
	pthread_t t;

	(void)state;
	assert_int_equal(hv_vm_create(NULL), HV_SUCCESS);
	assert_int_equal(hv_vcpu_create(&id, &exit, NULL), HV_SUCCESS);
	assert_int_equal(pthread_create(&t, NULL, fake_foreign_main, &id), 0);
	pthread_join(t, NULL);
	assert_true(fake_violated("thread that did not create it"));
	assert_int_not_equal(hv_vcpu_create(&id2, &exit, NULL), HV_SUCCESS);
	assert_true(fake_violated("owns vCPU"));
	hv_vcpu_destroy(id);
	hv_vm_destroy();
	fake_reset(NULL);
}

static void test_fake_mpidr_before_redistributor(void **state)
{
	hv_vcpu_exit_t *exit;
	hv_gic_config_t cfg;
	hv_ipa_t base;
	hv_vcpu_t id;

	(void)state;
	assert_int_equal(hv_vm_create(NULL), HV_SUCCESS);
	cfg = hv_gic_config_create();
	hv_gic_config_set_distributor_base(cfg, 0x3ffd0000);
	hv_gic_config_set_redistributor_base(cfg, 0x3ffe0000);
	assert_int_equal(hv_gic_create(cfg), HV_SUCCESS);
	os_release(cfg);
	assert_int_equal(hv_vcpu_create(&id, &exit, NULL), HV_SUCCESS);
	assert_int_not_equal(hv_gic_get_redistributor_base(id, &base), HV_SUCCESS);
	assert_true(fake_violated("before MPIDR_EL1"));
	hv_vcpu_set_sys_reg(id, HV_SYS_REG_MPIDR_EL1, 0);
	assert_int_equal(hv_gic_get_redistributor_base(id, &base), HV_SUCCESS);
	assert_int_equal(base, 0x3ffe0000);
	hv_vcpu_destroy(id);
	hv_vm_destroy();
	fake_reset(NULL);
}

static void test_fake_map_rules(void **state)
{
	static _Alignas(0x4000) uint8_t mem[0x8000];

	(void)state;
	assert_int_equal(hv_vm_create(NULL), HV_SUCCESS);
	assert_int_not_equal(hv_vm_map(mem + 0x1000, 0x40000000, 0x4000, HV_MEMORY_READ),
			     HV_SUCCESS);
	assert_true(fake_violated("not 16 KiB aligned"));
	assert_int_not_equal(hv_vm_map(mem, 0, 0x4000, HV_MEMORY_READ), HV_SUCCESS);
	assert_true(fake_violated("GPA 0"));
	assert_int_equal(hv_vm_map(mem, 0x40000000, 0x8000, HV_MEMORY_READ), HV_SUCCESS);
	assert_int_not_equal(hv_vm_map(mem, 0x40004000, 0x4000, HV_MEMORY_READ), HV_SUCCESS);
	assert_true(fake_violated("overlaps"));
	hv_vm_unmap(0x40000000, 0x8000);
	hv_vm_destroy();
	fake_reset(NULL);
}

static void test_fake_released_config(void **state)
{
	hv_vm_config_t cfg = hv_vm_config_create();

	(void)state;
	os_release(cfg);
	assert_int_not_equal(hv_vm_create(cfg), HV_SUCCESS);
	assert_true(fake_violated("used after os_release"));
	assert_false(fake_vm_exists());
	fake_reset(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_probe),
		T(test_macos14_has_no_gic),
		T(test_ipa_size),
		T(test_unsigned_binary),
		T(test_map_ram_rules),
		T(test_vcpu_before_gic_refused),
		T(test_gic_region_reserved),
		T(test_gic_region_too_small_refused),
		T(test_redistributor_outside_region_is_error),
		T(test_foreign_thread_refused),
		T(test_fake_gic_after_vcpu),
		T(test_fake_thread_affinity),
		T(test_fake_mpidr_before_redistributor),
		T(test_fake_map_rules),
		T(test_fake_released_config),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
