// SPDX-License-Identifier: MIT
/*
 * The HVF backend driven by scripted exits: MMIO, system registers, firmware calls, the virtual
 * timer and the faults it cannot emulate. Each syndrome is what the CPU reports for the
 * instruction named beside it (Arm ARM D24.2.45, ESR_ELx).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arch/aarch64/psci.h"
#include "rig.h"
#include "util/log.h"

/* ---- the seed's spike: 'H' to the UART, then idle until kicked ---- */

static void test_spike(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "strb w1, [x0]",
		  .expect = { PC(ENTRY), X(0, DTB) },
		  .guest = { X(0, UART_BASE), X(1, 0x1234ab48) },
		  .esr = dabt(0, false, 1, false, true),
		  .far = UART_BASE,
		  .ipa = UART_BASE },
		{ .what = "wfi",
		  .expect = { PC(ENTRY + 4) },
		  .guest = { PC(ENTRY + 8), SYS(HV_SYS_REG_CNTV_CTL_EL0, 0) },
		  .esr = ESR_WFI },
		/* Should the park end before the kick comes: the guest idles on after the WFI. */
		{ .what = "b . after wfi", .expect = { PC(ENTRY + 12) }, .kind = FAKE_BLOCK },
	};
	struct knocker k = { .r = r, .wait_reg = HV_SYS_REG_CNTV_CTL_EL0 };
	struct hv_exit x;

	fake_script(MPIDR0, steps, 3);
	rig_vm(r, 1);
	rig_vcpu(r);

	x = run_expect(r, HV_EXIT_MMIO);
	assert_true(x.mmio.write);
	assert_int_equal(x.mmio.addr, UART_BASE);
	assert_int_equal(x.mmio.width, 1);
	assert_int_equal(x.mmio.data, 'H');

	/* The guest idles with its timer off: only the kick brings the vCPU back. */
	knocker_start(&k);
	run_expect(r, HV_EXIT_CANCELED);
	knocker_join(&k);
	assert_int_equal(fake_reg(MPIDR0, FAKE_PC), ENTRY + 12);
}

/* ---- boot state ---- */

struct second {
	struct rig *r;
	uint64_t entry, ctx;
	int created, booted;
};

static void *second_main(void *arg)
{
	struct second *s = arg;
	struct hv_vcpu *v;

	s->created = hv->vcpu_create(s->r->vm, 1, mpidr_for_vcpu(1), &v, &s->r->e);
	if (s->created == 0) {
		s->booted = hv->vcpu_set_boot(v, s->entry, s->ctx, &s->r->e);
		hv->vcpu_destroy(v);
	}
	return NULL;
}

static void test_boot_registers(void **state)
{
	struct rig *r = *state;
	struct second s = { .r = r, .entry = 0x40100000, .ctx = 0xc0ffee };
	pthread_t t;

	rig_vm(r, 2);
	rig_vcpu(r);
	assert_int_equal(fake_reg(MPIDR0, FAKE_PC), ENTRY);
	assert_int_equal(fake_reg(MPIDR0, FAKE_X(0)), DTB);
	assert_int_equal(fake_reg(MPIDR0, FAKE_CPSR), 0x3c5);
	assert_int_equal(fake_reg(MPIDR0, FAKE_SYS(HV_SYS_REG_MPIDR_EL1)), mpidr_for_vcpu(0));

	/* A secondary on its own thread, as after PSCI CPU_ON: entry and context id. */
	assert_int_equal(pthread_create(&t, NULL, second_main, &s), 0);
	pthread_join(t, NULL);
	assert_int_equal(s.created, 0);
	assert_int_equal(s.booted, 0);
	assert_int_equal(fake_reg(MPIDR1, FAKE_SYS(HV_SYS_REG_MPIDR_EL1)), mpidr_for_vcpu(1));
	assert_int_equal(fake_reg(MPIDR1, FAKE_PC), s.entry);
	assert_int_equal(fake_reg(MPIDR1, FAKE_X(0)), s.ctx);
	assert_int_equal(fake_reg(MPIDR1, FAKE_CPSR), 0x3c5);
	assert_false(pthread_equal(fake_vcpu_thread(MPIDR1), pthread_self()));
	assert_true(pthread_equal(fake_vcpu_thread(MPIDR0), pthread_self()));
	/* One guest counter: both vCPUs got the same virtual timer offset. */
	assert_int_equal(fake_reg(MPIDR0, FAKE_VTIMER_OFFSET),
			 fake_reg(MPIDR1, FAKE_VTIMER_OFFSET));
	assert_int_not_equal(fake_reg(MPIDR0, FAKE_VTIMER_OFFSET), 0);
	assert_int_equal(fake_calls("hv_gic_get_redistributor_base"), 2);
}

/* ---- MMIO loads ---- */

struct load_case {
	const char *insn;
	unsigned log2_size;
	bool sse, sf;
	unsigned rt;
	uint64_t data; /* what the device returns (only width bytes are meaningful) */
	uint64_t expected; /* X5 afterwards */
};

static unsigned all_x_writes(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < 31; i++)
		n += fake_reg_writes(MPIDR0, FAKE_X(i));
	return n;
}

static void check_load(struct rig *r, const struct load_case *c)
{
	const struct fake_step steps[] = {
		{ .what = c->insn,
		  .guest = { X(1, VIRTIO_MMIO_BASE), X(5, POISON), X(30, POISON) },
		  .esr = dabt(c->log2_size, c->sse, c->rt, c->sf, false),
		  .far = VIRTIO_MMIO_BASE + 0x70,
		  .ipa = VIRTIO_MMIO_BASE + 0x70 },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 4), X(5, c->expected), X(30, POISON),
			      X(1, VIRTIO_MMIO_BASE) },
		  .guest = { PC(ENTRY + 8) },
		  .esr = ESR_HVC(0) },
	};
	unsigned pc_writes, x_writes;
	struct hv_exit x;

	fake_script(MPIDR0, steps, 2);
	rig_vm(r, 1);
	rig_vcpu(r);
	x = run_expect(r, HV_EXIT_MMIO);
	assert_false(x.mmio.write);
	assert_int_equal(x.mmio.addr, VIRTIO_MMIO_BASE + 0x70);
	assert_int_equal(x.mmio.width, 1u << c->log2_size);
	pc_writes = fake_reg_writes(MPIDR0, FAKE_PC);
	x_writes = all_x_writes();
	hv->complete_mmio_read(r->vcpu, c->data);
	assert_int_equal(fake_reg(MPIDR0, FAKE_X(5)), c->expected);
	assert_int_equal(fake_reg(MPIDR0, FAKE_PC), ENTRY + 4);
	/* One write to X[rt] (none for XZR) and one to PC: the value never passed through PC. */
	assert_int_equal(all_x_writes() - x_writes, c->rt == 31 ? 0 : 1);
	assert_int_equal(fake_reg_writes(MPIDR0, FAKE_PC) - pc_writes, 1);
	run_expect(r, HV_EXIT_CALL);
}

static void test_load_byte(void **state)
{
	const struct load_case c = { "ldrb w5, [x1, #0x70]", 0, false, false, 5, 0x1ff, 0xff };

	check_load(*state, &c);
}

static void test_load_half(void **state)
{
	const struct load_case c = { "ldrh w5, [x1, #0x70]", 1, false, false, 5, 0x18001, 0x8001 };

	check_load(*state, &c);
}

static void test_load_word(void **state)
{
	const struct load_case c = { "ldr w5, [x1, #0x70]", 2,	       false, false, 5,
				     0x1234567890abcdefull, 0x90abcdef };

	check_load(*state, &c);
}

static void test_load_dword(void **state)
{
	const struct load_case c = {
		"ldr x5, [x1, #0x70]", 3, false, true, 5, 0x8123456790abcdefull,
		0x8123456790abcdefull
	};

	check_load(*state, &c);
}

static void test_load_sign_extend_32(void **state)
{
	/* A W destination: the sign reaches bit 31 and the upper half is cleared. */
	const struct load_case c = {
		"ldrsh w5, [x1, #0x70]", 1, true, false, 5, 0x8001, 0xffff8001
	};

	check_load(*state, &c);
}

static void test_load_sign_extend_64(void **state)
{
	const struct load_case c = { "ldrsb x5, [x1, #0x70]", 0, true, true, 5, 0x80,
				     0xffffffffffffff80ull };

	check_load(*state, &c);
}

static void test_load_sign_extend_word_64(void **state)
{
	const struct load_case c = { "ldrsw x5, [x1, #0x70]", 2, true, true, 5, 0x87654321,
				     0xffffffff87654321ull };

	check_load(*state, &c);
}

static void test_load_positive_sign_extend(void **state)
{
	const struct load_case c = { "ldrsb x5, [x1, #0x70]", 0, true, true, 5, 0x7f, 0x7f };

	check_load(*state, &c);
}

static void test_load_into_xzr(void **state)
{
	/* Rt = 31 is WZR: the value is dropped; HV_REG_X0 + 31 would have been PC. */
	const struct load_case c = {
		"ldr wzr, [x1, #0x70]", 2, false, false, 31, 0x12345678, POISON
	};

	check_load(*state, &c);
}

/* ---- MMIO stores ---- */

static void test_stores(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "strh w3, [x1]",
		  .guest = { X(1, UART_BASE), X(3, 0x1234abcd) },
		  .esr = dabt(1, false, 3, false, true),
		  .ipa = UART_BASE },
		{ .what = "str x3, [x1, #8]",
		  .expect = { PC(ENTRY + 4) },
		  .guest = { X(3, 0xfedcba9876543210ull) },
		  .esr = dabt(3, false, 3, true, true),
		  .ipa = UART_BASE + 8 },
		{ .what = "str wzr, [x1] (writel(0, ...))",
		  .expect = { PC(ENTRY + 8) },
		  .esr = dabt(2, false, 31, false, true),
		  .ipa = UART_BASE },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 12), X(3, 0xfedcba9876543210ull) },
		  .guest = { PC(ENTRY + 16) },
		  .esr = ESR_HVC(0) },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 4);
	rig_vm(r, 1);
	rig_vcpu(r);
	x = run_expect(r, HV_EXIT_MMIO);
	assert_true(x.mmio.write);
	assert_int_equal(x.mmio.width, 2);
	assert_int_equal(x.mmio.data, 0xabcd);
	x = run_expect(r, HV_EXIT_MMIO);
	assert_int_equal(x.mmio.width, 8);
	assert_int_equal(x.mmio.addr, UART_BASE + 8);
	assert_int_equal(x.mmio.data, 0xfedcba9876543210ull);
	x = run_expect(r, HV_EXIT_MMIO);
	assert_int_equal(x.mmio.width, 4);
	assert_int_equal(x.mmio.data, 0); /* not PC, which "X31" would have been */
	run_expect(r, HV_EXIT_CALL);
}

/* ---- system registers ---- */

static void test_sysreg_traps(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "mrs x7, ID_AA64MMFR0_EL1",
		  .guest = { X(7, POISON) },
		  .esr = sysreg(3, 0, 0, 7, 0, 7, true) },
		{ .what = "msr OSLAR_EL1, x3",
		  .expect = { PC(ENTRY + 4), X(7, 0) },
		  .guest = { X(3, 1) },
		  .esr = sysreg(2, 0, 1, 0, 4, 3, false) },
		{ .what = "mrs xzr, ID_AA64PFR0_EL1",
		  .expect = { PC(ENTRY + 8), X(3, 1) },
		  .esr = sysreg(3, 0, 0, 4, 0, 31, true) },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 12) },
		  .guest = { PC(ENTRY + 16), X(0, PSCI_VERSION) },
		  .esr = ESR_HVC(0) },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 4);
	rig_vm(r, 1);
	rig_vcpu(r);
	/* The traps are handled inside vcpu_run: the first exit the VMM sees is the HVC. */
	x = run_expect(r, HV_EXIT_CALL);
	assert_int_equal(x.call.fn, PSCI_VERSION);
	assert_int_equal(fake_steps_entered(MPIDR0), 4);
}

/* ---- firmware calls ---- */

static void test_psci_hvc(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		/* HVC's preferred return address is the next instruction: HVF reports that PC. */
		{ .what = "hvc #0: PSCI_FEATURES(CPU_ON)",
		  .guest = { PC(ENTRY + 4), X(0, PSCI_FEATURES), X(1, PSCI_CPU_ON64), X(2, 22),
			     X(3, 33) },
		  .esr = ESR_HVC(0) },
		{ .what = "hvc #0: PSCI_VERSION",
		  .expect = { PC(ENTRY + 4), X(0, 0), X(1, PSCI_CPU_ON64) },
		  .guest = { PC(ENTRY + 8), X(0, PSCI_VERSION) },
		  .esr = ESR_HVC(0) },
		{ .what = "hvc #1: not an SMCCC call",
		  .expect = { PC(ENTRY + 8), X(0, PSCI_VERSION_1_1) },
		  .guest = { PC(ENTRY + 12), X(0, PSCI_VERSION) },
		  .esr = ESR_HVC(1) },
		{ .what = "wfe", .expect = { PC(ENTRY + 12), X(0, (uint64_t)-1) }, .esr = ESR_WFE },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 16) },
		  .guest = { PC(ENTRY + 20) },
		  .esr = ESR_HVC(0) },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 5);
	rig_vm(r, 1);
	rig_vcpu(r);
	x = run_expect(r, HV_EXIT_CALL);
	assert_int_equal(x.call.fn, PSCI_FEATURES);
	assert_int_equal(x.call.args[0], PSCI_CPU_ON64);
	assert_int_equal(x.call.args[1], 22);
	assert_int_equal(x.call.args[2], 33);
	hv->complete_call(r->vcpu, PSCI_RET_SUCCESS);
	x = run_expect(r, HV_EXIT_CALL);
	assert_int_equal(x.call.fn, PSCI_VERSION);
	hv->complete_call(r->vcpu, PSCI_VERSION_1_1);
	/* hvc #1 is answered NOT_SUPPORTED inside; WFE only steps over. */
	run_expect(r, HV_EXIT_CALL);
}

static void test_psci_smc(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		/* A trapped SMC reports itself: the VMM steps over it. */
		{ .what = "smc #0: PSCI_AFFINITY_INFO",
		  .guest = { PC(ENTRY + 0x100), X(0, PSCI_AFFINITY_INFO64), X(1, MPIDR1) },
		  .esr = ESR_SMC(0) },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 0x104), X(0, PSCI_AFFINITY_OFF) },
		  .guest = { PC(ENTRY + 0x108) },
		  .esr = ESR_HVC(0) },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 2);
	rig_vm(r, 1);
	rig_vcpu(r);
	x = run_expect(r, HV_EXIT_CALL);
	assert_int_equal(x.call.fn, PSCI_AFFINITY_INFO64);
	assert_int_equal(x.call.args[0], MPIDR1);
	assert_int_equal(fake_reg(MPIDR0, FAKE_PC), ENTRY + 0x104);
	hv->complete_call(r->vcpu, PSCI_AFFINITY_OFF);
	run_expect(r, HV_EXIT_CALL);
}

/* ---- virtual timer ---- */

static void test_vtimer_unmask(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "timer fires",
		  .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, CNTV_ENABLE | CNTV_ISTATUS) },
		  .kind = FAKE_VTIMER },
		/* Still firing: unmasking now would exit again at once. */
		{ .what = "hvc #0 in the timer handler, which re-arms the timer",
		  .expect = { { FAKE_VTIMER_MASKED, 1 } },
		  .guest = { PC(ENTRY + 4), SYS(HV_SYS_REG_CNTV_CTL_EL0, CNTV_ENABLE) },
		  .esr = ESR_HVC(0) },
		{ .what = "timer fires again",
		  .expect = { { FAKE_VTIMER_MASKED, 0 } },
		  .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, CNTV_ENABLE | CNTV_ISTATUS) },
		  .kind = FAKE_VTIMER },
		{ .what = "hvc #0 after the guest turned the timer off",
		  .expect = { { FAKE_VTIMER_MASKED, 1 } },
		  .guest = { PC(ENTRY + 8), SYS(HV_SYS_REG_CNTV_CTL_EL0, 0) },
		  .esr = ESR_HVC(0) },
		{ .what = "hvc #0 (end of test)",
		  .expect = { { FAKE_VTIMER_MASKED, 0 } },
		  .guest = { PC(ENTRY + 12) },
		  .esr = ESR_HVC(0) },
	};

	fake_script(MPIDR0, steps, 5);
	rig_vm(r, 1);
	rig_vcpu(r);
	run_expect(r, HV_EXIT_CALL);
	run_expect(r, HV_EXIT_CALL);
	run_expect(r, HV_EXIT_CALL);
	/* The in-kernel GIC delivers the timer PPI: nothing is injected by hand. */
	assert_int_equal(fake_calls("hv_gic_set_spi"), 0);
	assert_int_equal(fake_steps_entered(MPIDR0), 5);
}

/* ---- guest faults the VMM cannot emulate ---- */

static void test_isv0_error(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		/* A pair load has no single Rt: no valid syndrome. */
		{ .what = "ldp x1, x2, [x0]",
		  .guest = { PC(0x40000010), X(0, UART_BASE) },
		  .esr = EC(EC_DABT_LOW) | IL | FSC_TRANSLATION_L3,
		  .far = UART_BASE,
		  .ipa = UART_BASE },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 1);
	rig_vm(r, 1);
	rig_vcpu(r);
	assert_true(hv->vcpu_run(r->vcpu, &x, &r->e) < 0);
	assert_non_null(strstr(r->e.msg, "0x40000010"));
	assert_non_null(strstr(r->e.msg, "0x9000000"));
	assert_int_equal(fake_reg(MPIDR0, FAKE_PC), 0x40000010); /* nothing was skipped */
}

static void test_unknown_exception_error(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		/* The guest jumped outside RAM: an instruction abort from a lower EL. */
		{ .what = "br x9 to 0x1000",
		  .guest = { PC(0x1000) },
		  .esr = EC(EC_IABT_LOW) | IL | FSC_TRANSLATION_L3,
		  .far = 0x1000,
		  .ipa = 0x1000 },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 1);
	rig_vm(r, 1);
	rig_vcpu(r);
	assert_true(hv->vcpu_run(r->vcpu, &x, &r->e) < 0);
	assert_non_null(strstr(r->e.msg, "EC 0x20"));
	assert_non_null(strstr(r->e.msg, "PC 0x1000"));
}

static void test_unknown_exit_reason_error(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = { { .what = "?", .kind = FAKE_UNKNOWN } };
	struct hv_exit x;

	fake_script(MPIDR0, steps, 1);
	rig_vm(r, 1);
	rig_vcpu(r);
	assert_true(hv->vcpu_run(r->vcpu, &x, &r->e) < 0);
	assert_non_null(strstr(r->e.msg, "exit reason 3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_spike),
		T(test_boot_registers),
		T(test_load_byte),
		T(test_load_half),
		T(test_load_word),
		T(test_load_dword),
		T(test_load_sign_extend_32),
		T(test_load_sign_extend_64),
		T(test_load_sign_extend_word_64),
		T(test_load_positive_sign_extend),
		T(test_load_into_xzr),
		T(test_stores),
		T(test_sysreg_traps),
		T(test_psci_hvc),
		T(test_psci_smc),
		T(test_vtimer_unmask),
		T(test_isv0_error),
		T(test_unknown_exception_error),
		T(test_unknown_exit_reason_error),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
