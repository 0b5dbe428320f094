// SPDX-License-Identifier: MIT
/*
 * PSCI calls as a guest makes them (function id in x0, arguments in x1..x3), against a fake VMM
 * that records what it was asked to do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arch/aarch64/layout.h"
#include "arch/aarch64/psci.h"

#define NR_VCPUS 20 /* past 16, so Aff1 is in play */
#define RAM_SIZE (256ULL << 20)

struct fake_vmm {
	enum psci_cpu_state state[NR_VCPUS];
	unsigned calls;
	unsigned index;
	uint64_t entry, context;
	int answer; /* what cpu_on returns */
};

static enum psci_cpu_state fake_cpu_state(void *opaque, unsigned index)
{
	struct fake_vmm *v = opaque;

	assert_true(index < NR_VCPUS);
	return v->state[index];
}

static int fake_cpu_on(void *opaque, unsigned index, uint64_t entry, uint64_t context_id)
{
	struct fake_vmm *v = opaque;

	assert_true(index < NR_VCPUS);
	assert_int_equal(v->state[index], PSCI_CPU_OFF_STATE);
	v->calls++;
	v->index = index;
	v->entry = entry;
	v->context = context_id;
	if (v->answer == PSCI_RET_SUCCESS)
		v->state[index] = PSCI_CPU_ON_PENDING_STATE;
	return v->answer;
}

static const struct psci_host_ops fake_ops = {
	.cpu_state = fake_cpu_state,
	.cpu_on = fake_cpu_on,
};

struct fixture {
	struct fake_vmm vmm;
	struct psci_ctx ctx;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.vmm.state[0] = PSCI_CPU_ON_STATE;
	f.ctx = (struct psci_ctx){
		.ops = &fake_ops,
		.opaque = &f.vmm,
		.nr_vcpus = NR_VCPUS,
		.ram_base = RAM_BASE,
		.ram_size = RAM_SIZE,
	};
	*state = &f;
	return 0;
}

static uint64_t ret64(int code)
{
	return (uint64_t)(int64_t)code;
}

static struct psci_result call(struct fixture *f, uint64_t fn, uint64_t x1, uint64_t x2,
			       uint64_t x3)
{
	struct psci_result r;

	memset(&r, 0xff, sizeof(r));
	psci_handle(&f->ctx, fn, x1, x2, x3, &r);
	return r;
}

static void test_versions(void **state)
{
	struct fixture *f = *state;
	struct psci_result r;

	r = call(f, PSCI_VERSION, 0, 0, 0);
	assert_int_equal(r.x0, 0x10001);
	assert_int_equal(r.action, PSCI_ACTION_NONE);
	r = call(f, SMCCC_VERSION, 0, 0, 0);
	assert_int_equal(r.x0, 0x10001);
	/* W0 is the function id: junk in the upper half of X0 does not change the call. */
	r = call(f, 0xdead000000000000ULL | PSCI_VERSION, 0, 0, 0);
	assert_int_equal(r.x0, 0x10001);
}

static void test_features(void **state)
{
	static const struct {
		uint32_t fn;
		int ret;
	} cases[] = {
		{ PSCI_VERSION, 0 },
		{ PSCI_CPU_SUSPEND, 0 }, /* 0: original power_state format */
		{ PSCI_CPU_SUSPEND64, 0 },
		{ PSCI_CPU_OFF, 0 },
		{ PSCI_CPU_ON, 0 },
		{ PSCI_CPU_ON64, 0 },
		{ PSCI_AFFINITY_INFO, 0 },
		{ PSCI_AFFINITY_INFO64, 0 },
		{ PSCI_MIGRATE_INFO_TYPE, 0 },
		{ PSCI_SYSTEM_OFF, 0 },
		{ PSCI_SYSTEM_RESET, 0 },
		{ PSCI_FEATURES, 0 },
		{ SMCCC_VERSION, 0 },
		{ SMCCC_ARCH_FEATURES, 0 },
		{ PSCI_MIGRATE, PSCI_RET_NOT_SUPPORTED },
		{ PSCI_MIGRATE64, PSCI_RET_NOT_SUPPORTED },
		{ PSCI_MIGRATE_INFO_UP_CPU, PSCI_RET_NOT_SUPPORTED },
		{ PSCI_FN(0xe), PSCI_RET_NOT_SUPPORTED }, /* SYSTEM_SUSPEND */
		{ PSCI_FN64(0x12), PSCI_RET_NOT_SUPPORTED }, /* SYSTEM_RESET2 */
		{ 0x80008000, PSCI_RET_NOT_SUPPORTED }, /* SMCCC_ARCH_WORKAROUND_1 */
		{ 0x12345678, PSCI_RET_NOT_SUPPORTED },
	};
	struct fixture *f = *state;
	struct psci_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = call(f, PSCI_FEATURES, cases[i].fn, 0, 0);
		assert_int_equal(r.x0, ret64(cases[i].ret));
		assert_int_equal(r.action, PSCI_ACTION_NONE);
	}
	/* PSCI_FEATURES is an SMC32 call: the upper half of x1 is not part of the id. */
	r = call(f, PSCI_FEATURES, 0xffffffff00000000ULL | PSCI_CPU_ON, 0, 0);
	assert_int_equal(r.x0, 0);
}

static void test_cpu_on(void **state)
{
	struct fixture *f = *state;
	struct psci_result r;

	/* vCPU 17 is Aff1 = 1, Aff0 = 1; its X0 gets the context id. */
	r = call(f, PSCI_CPU_ON64, 0x101, RAM_BASE + 0x1000, 0x1122334455667788ULL);
	assert_int_equal(r.x0, PSCI_RET_SUCCESS);
	assert_int_equal(r.action, PSCI_ACTION_NONE);
	assert_int_equal(f->vmm.calls, 1);
	assert_int_equal(f->vmm.index, 17);
	assert_int_equal(f->vmm.entry, RAM_BASE + 0x1000);
	assert_int_equal(f->vmm.context, 0x1122334455667788ULL);

	/* Now pending, then on. */
	r = call(f, PSCI_CPU_ON64, 0x101, RAM_BASE, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_ON_PENDING));
	f->vmm.state[17] = PSCI_CPU_ON_STATE;
	r = call(f, PSCI_CPU_ON64, 0x101, RAM_BASE, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_ALREADY_ON));
	r = call(f, PSCI_CPU_ON, 0, RAM_BASE, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_ALREADY_ON));
	assert_int_equal(f->vmm.calls, 1);

	/* The VMM lost a race with another CPU_ON: its answer is passed through. */
	f->vmm.answer = PSCI_RET_ALREADY_ON;
	r = call(f, PSCI_CPU_ON64, 2, RAM_BASE, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_ALREADY_ON));
	assert_int_equal(f->vmm.calls, 2);
}

/* Bits of MPIDR outside the affinity fields (U, MT, RES1 bit 31) are ignored. */
static void test_cpu_on_mpidr_flags(void **state)
{
	struct fixture *f = *state;
	struct psci_result r;

	r = call(f, PSCI_CPU_ON64, 0x80000000ULL | 1u << 30 | 1u << 24 | 3, RAM_BASE, 7);
	assert_int_equal(r.x0, PSCI_RET_SUCCESS);
	assert_int_equal(f->vmm.index, 3);
	assert_int_equal(f->vmm.context, 7);
}

static void test_cpu_on_errors(void **state)
{
	static const struct {
		uint64_t mpidr, entry;
		int ret;
	} cases[] = {
		{ 20, RAM_BASE, PSCI_RET_INVALID_PARAMETERS }, /* Aff0 >= 16 is never ours */
		{ 0x104, RAM_BASE, PSCI_RET_INVALID_PARAMETERS }, /* index 20 of 20 */
		{ 0x10000, RAM_BASE, PSCI_RET_INVALID_PARAMETERS }, /* Aff2 */
		{ 1ULL << 32, RAM_BASE, PSCI_RET_INVALID_PARAMETERS }, /* Aff3 */
		{ 1, RAM_BASE - 4, PSCI_RET_INVALID_ADDRESS },
		{ 1, RAM_BASE + RAM_SIZE, PSCI_RET_INVALID_ADDRESS },
		{ 1, 0, PSCI_RET_INVALID_ADDRESS },
		{ 1, ~0ULL - 3, PSCI_RET_INVALID_ADDRESS },
		{ 1, RAM_BASE + 2, PSCI_RET_INVALID_ADDRESS }, /* not an instruction boundary */
	};
	struct fixture *f = *state;
	struct psci_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = call(f, PSCI_CPU_ON64, cases[i].mpidr, cases[i].entry, 0);
		assert_int_equal(r.x0, ret64(cases[i].ret));
		assert_int_equal(r.action, PSCI_ACTION_NONE);
	}
	assert_int_equal(f->vmm.calls, 0);

	/* A VMM that cannot start CPUs answers, it does not crash. */
	f->ctx.ops = NULL;
	r = call(f, PSCI_CPU_ON64, 1, RAM_BASE, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_INTERNAL_FAILURE));
	r = call(f, PSCI_AFFINITY_INFO64, 1, 0, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_INTERNAL_FAILURE));
}

/* SMC32 forms take 32-bit arguments: the upper halves of x1..x3 are ignored. */
static void test_cpu_on_smc32_masks(void **state)
{
	struct fixture *f = *state;
	struct psci_result r;

	r = call(f, PSCI_CPU_ON, 0xffffffff00000001ULL, 0xabcd000000000000ULL | (RAM_BASE + 0x80),
		 0x5555555512345678ULL);
	assert_int_equal(r.x0, PSCI_RET_SUCCESS);
	assert_int_equal(f->vmm.index, 1);
	assert_int_equal(f->vmm.entry, RAM_BASE + 0x80);
	assert_int_equal(f->vmm.context, 0x12345678);

	/* The same values through the SMC64 form are out of range. */
	r = call(f, PSCI_CPU_ON64, 0xffffffff00000002ULL, RAM_BASE, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_INVALID_PARAMETERS));
	r = call(f, PSCI_CPU_ON64, 2, 0xabcd000000000000ULL | RAM_BASE, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_INVALID_ADDRESS));
	assert_int_equal(f->vmm.calls, 1);
}

static void test_affinity_info(void **state)
{
	struct fixture *f = *state;
	struct psci_result r;

	f->vmm.state[1] = PSCI_CPU_ON_PENDING_STATE;
	r = call(f, PSCI_AFFINITY_INFO64, 0, 0, 0);
	assert_int_equal(r.x0, PSCI_AFFINITY_ON);
	r = call(f, PSCI_AFFINITY_INFO64, 1, 0, 0);
	assert_int_equal(r.x0, PSCI_AFFINITY_ON_PENDING);
	r = call(f, PSCI_AFFINITY_INFO, 0x103, 0, 0);
	assert_int_equal(r.x0, PSCI_AFFINITY_OFF);
	/* SMC32: upper halves ignored, for the level too. */
	r = call(f, PSCI_AFFINITY_INFO, 0xffffffff00000000ULL, 0xffffffff00000000ULL, 0);
	assert_int_equal(r.x0, PSCI_AFFINITY_ON);

	r = call(f, PSCI_AFFINITY_INFO64, 0, 1, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_INVALID_PARAMETERS));
	r = call(f, PSCI_AFFINITY_INFO64, 0x200, 0, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_INVALID_PARAMETERS));
	r = call(f, PSCI_AFFINITY_INFO64, 0xffffffff00000000ULL, 0, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_INVALID_PARAMETERS));
}

static void test_power_actions(void **state)
{
	static const struct {
		uint32_t fn;
		enum psci_action action;
	} cases[] = {
		{ PSCI_CPU_OFF, PSCI_ACTION_CPU_OFF },
		{ PSCI_SYSTEM_OFF, PSCI_ACTION_SYSTEM_OFF },
		{ PSCI_SYSTEM_RESET, PSCI_ACTION_SYSTEM_RESET },
		{ PSCI_CPU_SUSPEND, PSCI_ACTION_CPU_SUSPEND },
		{ PSCI_CPU_SUSPEND64, PSCI_ACTION_CPU_SUSPEND },
	};
	struct fixture *f = *state;
	struct psci_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = call(f, cases[i].fn, 0x10000, RAM_BASE, 0);
		assert_int_equal(r.action, cases[i].action);
	}
	/* A suspend is a wait that returns SUCCESS at the call site. */
	r = call(f, PSCI_CPU_SUSPEND64, 0x10000, RAM_BASE, 42);
	assert_int_equal(r.x0, PSCI_RET_SUCCESS);
	assert_int_equal(f->vmm.calls, 0);
}

static void test_migrate(void **state)
{
	struct fixture *f = *state;
	struct psci_result r;

	r = call(f, PSCI_MIGRATE_INFO_TYPE, 0, 0, 0);
	assert_int_equal(r.x0, PSCI_TOS_NOT_PRESENT_MP);
	r = call(f, PSCI_MIGRATE, 1, 0, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_NOT_SUPPORTED));
	r = call(f, PSCI_MIGRATE64, 1, 0, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_NOT_SUPPORTED));
	r = call(f, PSCI_MIGRATE_INFO_UP_CPU, 0, 0, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_NOT_SUPPORTED));
	r = call(f, PSCI_MIGRATE_INFO_UP_CPU64, 0, 0, 0);
	assert_int_equal(r.x0, ret64(PSCI_RET_NOT_SUPPORTED));
}

static void test_unknown(void **state)
{
	/* SMCCC_ARCH_FEATURES answers NOT_SUPPORTED for everything: no workaround is offered. */
	static const uint64_t ids[] = {
		SMCCC_ARCH_FEATURES, 0x80008000, 0xc2000001, 0x86000000,
		PSCI_FN(0x1f),	     0x00000000, 0xffffffff, PSCI_FN64(8),
	};
	struct fixture *f = *state;
	struct psci_result r;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		r = call(f, ids[i], 0x80008000, 0, 0);
		assert_int_equal(r.x0, 0xffffffffffffffffULL);
		assert_int_equal(r.action, PSCI_ACTION_NONE);
	}
	assert_int_equal(f->vmm.calls, 0);
}

static void test_mpidr_to_index(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 0; i < NR_VCPUS; i++)
		assert_int_equal(psci_mpidr_to_index(&f->ctx, mpidr_for_vcpu(i)), i);
	assert_int_equal(psci_mpidr_to_index(&f->ctx, mpidr_for_vcpu(NR_VCPUS)), -1);
	assert_int_equal(psci_mpidr_to_index(&f->ctx, 0x10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_versions, setup),
		cmocka_unit_test_setup(test_features, setup),
		cmocka_unit_test_setup(test_cpu_on, setup),
		cmocka_unit_test_setup(test_cpu_on_mpidr_flags, setup),
		cmocka_unit_test_setup(test_cpu_on_errors, setup),
		cmocka_unit_test_setup(test_cpu_on_smc32_masks, setup),
		cmocka_unit_test_setup(test_affinity_info, setup),
		cmocka_unit_test_setup(test_power_actions, setup),
		cmocka_unit_test_setup(test_migrate, setup),
		cmocka_unit_test_setup(test_unknown, setup),
		cmocka_unit_test_setup(test_mpidr_to_index, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
