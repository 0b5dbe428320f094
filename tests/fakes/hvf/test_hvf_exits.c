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

/*
 * PSCI CPU_OFF, then CPU_ON: the VMM powers the same HVF vCPU up again with vcpu_set_boot. The
 * guest had turned its MMU and caches on, installed vectors, page tables and a timer; the CPU must
 * start at its physical entry point with the EL1 state of a fresh vCPU, or its first fetch goes
 * through stale tables.
 */
static void test_cpu_on_after_off_fresh_state(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "the kernel runs with the MMU on",
		  .expect = { PC(ENTRY),
			      X(0, DTB),
			      { FAKE_CPSR, 0x3c5 },
			      SYS(HV_SYS_REG_SCTLR_EL1, FAKE_FRESH_SCTLR) },
		  .guest = { SYS(HV_SYS_REG_SCTLR_EL1, 0x30d0199dull),
			     SYS(HV_SYS_REG_TTBR0_EL1, 0x41234000),
			     SYS(HV_SYS_REG_TTBR1_EL1, 0x41235000),
			     SYS(HV_SYS_REG_TCR_EL1, 0x25b5593519ull),
			     SYS(HV_SYS_REG_MAIR_EL1, 0xff44ff00),
			     SYS(HV_SYS_REG_VBAR_EL1, 0xffff800008010800ull),
			     X(5, POISON),
			     { FAKE_CPSR, 0x60000005 } },
		  .esr = ESR_WFE },
		{ .what = "hvc #0: PSCI_CPU_OFF",
		  .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, CNTV_ENABLE),
			     SYS(HV_SYS_REG_CNTV_CVAL_EL0, 0x123456),
			     SYS(HV_SYS_REG_SP_EL1, POISON), SYS(HV_SYS_REG_TPIDR_EL1, POISON),
			     SYS(HV_SYS_REG_CPACR_EL1, 3u << 20), SYS(HV_SYS_REG_MDSCR_EL1, 1),
			     PC(0xffff800008200004ull), X(0, PSCI_CPU_OFF) },
		  .esr = ESR_HVC(0) },
		{ .what = "first instruction after CPU_ON, at the physical entry",
		  .expect = { PC(0x40200000),
			      X(0, 0xc0ffee),
			      { FAKE_CPSR, 0x3c5 },
			      SYS(HV_SYS_REG_SCTLR_EL1, FAKE_FRESH_SCTLR),
			      SYS(HV_SYS_REG_TTBR0_EL1, 0),
			      SYS(HV_SYS_REG_TTBR1_EL1, 0),
			      SYS(HV_SYS_REG_VBAR_EL1, 0),
			      X(5, 0) },
		  .esr = ESR_WFE },
		{ .what = "hvc #0 (end of test)",
		  .expect = { SYS(HV_SYS_REG_TCR_EL1, 0), SYS(HV_SYS_REG_MAIR_EL1, 0),
			      SYS(HV_SYS_REG_CNTV_CTL_EL0, 0), SYS(HV_SYS_REG_CNTV_CVAL_EL0, 0),
			      SYS(HV_SYS_REG_SP_EL1, 0), SYS(HV_SYS_REG_TPIDR_EL1, 0),
			      SYS(HV_SYS_REG_CPACR_EL1, 0), SYS(HV_SYS_REG_MDSCR_EL1, 0) },
		  .guest = { PC(0x40200008) },
		  .esr = ESR_HVC(0) },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 4);
	rig_vm(r, 1);
	rig_vcpu(r);
	x = run_expect(r, HV_EXIT_CALL);
	assert_int_equal(x.call.fn, PSCI_CPU_OFF);
	/* What vcpu.c does when a CPU_ON names the parked CPU. */
	assert_int_equal(hv->vcpu_set_boot(r->vcpu, 0x40200000, 0xc0ffee, &r->e), 0);
	run_expect(r, HV_EXIT_CALL);
	assert_int_equal(fake_steps_entered(MPIDR0), 4);
	assert_int_equal(fake_reg(MPIDR0, FAKE_SYS(HV_SYS_REG_SCTLR_EL1)) & 0x1005, 0);
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

/* ---- guest faults the VMM cannot emulate: the guest gets the exception ---- */

/* PSTATE and SCTLR_EL1 bits the checks below spell out (Arm ARM C5.2.18, D19.2.118). */
#define M_EL0T	     0x0ull
#define M_EL1T	     0x4ull
#define M_EL1H	     0x5ull
#define DAIF	     0x3c0ull
#define PSR_N	     (1ull << 31)
#define PSR_Z	     (1ull << 30)
#define PSR_C	     (1ull << 29)
#define PSR_SSBS     (1ull << 12)
#define PSR_PAN	     (1ull << 22)
#define SCTLR_SPAN   (1ull << 23)
#define SCTLR_DSSBS  (1ull << 44)
#define SCTLR_MMU_ON 0x30d0199dull /* M, C, I on; SPAN set (PAN left alone) */
#define VBAR	     0xffff800008010800ull
#define KERNEL_PC    0xffff800008123450ull
#define FSC_SEA	     0x10ull /* synchronous external abort */
#define EC_UNKNOWN   0x00
#define EC_IABT_CUR  0x21
#define EC_DABT_CUR  0x25
#define EC_SVE	     0x19
#define S1PTW	     (1ull << 7)

struct fault_case {
	const char *insn;
	uint64_t cpsr, sctlr, pc; /* the guest's state when it faults */
	uint64_t esr, far, ipa; /* what HVF reports */
	/* what the guest must see in its handler */
	uint64_t esr_el1, far_el1, vector, cpsr_after;
};

/*
 * The fault exits to the backend; the VMM never sees it. The guest's next instruction is the
 * first of its synchronous handler, where an HVC ends the test: before it, the fake checks the
 * registers the guest sees.
 */
static void check_fault(struct rig *r, const struct fault_case *c)
{
	const struct fake_step steps[] = {
		{ .what = c->insn,
		  .guest = { PC(c->pc),
			     { FAKE_CPSR, c->cpsr },
			     X(0, UART_BASE),
			     SYS(HV_SYS_REG_SCTLR_EL1, c->sctlr),
			     SYS(HV_SYS_REG_VBAR_EL1, VBAR),
			     SYS(HV_SYS_REG_FAR_EL1, POISON) },
		  .esr = c->esr,
		  .far = c->far,
		  .ipa = c->ipa },
		{ .what = "hvc #0 in the guest's synchronous exception handler",
		  .expect = { PC(VBAR + c->vector),
			      { FAKE_CPSR, c->cpsr_after },
			      SYS(HV_SYS_REG_ESR_EL1, c->esr_el1),
			      SYS(HV_SYS_REG_FAR_EL1, c->far_el1),
			      SYS(HV_SYS_REG_ELR_EL1, c->pc),
			      SYS(HV_SYS_REG_SPSR_EL1, c->cpsr),
			      X(0, UART_BASE) },
		  .guest = { PC(VBAR + c->vector + 4) },
		  .esr = ESR_HVC(0) },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 2);
	rig_vm(r, 1);
	rig_vcpu(r);
	memset(&x, 0, sizeof(x));
	assert_int_equal(hv->vcpu_run(r->vcpu, &x, &r->e), 0);
	assert_int_equal(x.reason, HV_EXIT_CALL);
	assert_int_equal(fake_steps_entered(MPIDR0), 2);
	/* The faulting instruction was not skipped: ELR_EL1 holds it for the handler. */
	assert_int_equal(fake_reg(MPIDR0, FAKE_SYS(HV_SYS_REG_ELR_EL1)), c->pc);
}

static void test_isv0_store_injects_abort(void **state)
{
	/* A pair store from the kernel (EL1h) has no single Rt: no valid syndrome. */
	const struct fault_case c = {
		.insn = "stp x1, x2, [x0] (EL1h, Z and C set)",
		.cpsr = PSR_Z | PSR_C | M_EL1H,
		.sctlr = SCTLR_MMU_ON,
		.pc = KERNEL_PC,
		.esr = EC(EC_DABT_LOW) | IL | WNR | FSC_TRANSLATION_L3,
		.far = 0xffff00000a000010ull,
		.ipa = 0x0a000010,
		.esr_el1 = EC(EC_DABT_CUR) | IL | WNR | FSC_SEA,
		.far_el1 = 0xffff00000a000010ull,
		.vector = 0x200, /* current EL with SP_EL1 */
		.cpsr_after = PSR_Z | PSR_C | DAIF | M_EL1H,
	};

	check_fault(*state, &c);
}

static void test_isv0_load_from_el0_injects_abort(void **state)
{
	/* Guest root mapped the device through /dev/mem: a user-space load pair. */
	const struct fault_case c = {
		.insn = "ldp x1, x2, [x0] (EL0, N set)",
		.cpsr = PSR_N | M_EL0T,
		.sctlr = SCTLR_MMU_ON & ~SCTLR_SPAN, /* SPAN = 0: entry sets PAN */
		.pc = 0x4000a8,
		.esr = EC(EC_DABT_LOW) | IL | FSC_TRANSLATION_L3,
		.far = 0xffffa0000010ull,
		.ipa = 0x0a000010,
		.esr_el1 = EC(EC_DABT_LOW) | IL | FSC_SEA,
		.far_el1 = 0xffffa0000010ull,
		.vector = 0x400, /* lower EL, AArch64 */
		.cpsr_after = PSR_N | PSR_PAN | DAIF | M_EL1H,
	};

	check_fault(*state, &c);
}

static void test_table_walk_outside_ram_injects_abort(void **state)
{
	/* TTBR points at MMIO: the stage-1 walk of a store faults at stage 2 (S1PTW). */
	const struct fault_case c = {
		.insn = "str x1, [x0] with TTBR1_EL1 outside RAM (EL1t, DSSBS)",
		.cpsr = DAIF | M_EL1T,
		.sctlr = SCTLR_MMU_ON | SCTLR_DSSBS,
		.pc = KERNEL_PC + 8,
		.esr = dabt(3, false, 1, true, true) | S1PTW,
		.far = 0xffff000012345678ull,
		.ipa = 0x0b000000,
		/* WnR is not the walk's: the walk reads. */
		.esr_el1 = EC(EC_DABT_CUR) | IL | FSC_SEA,
		.far_el1 = 0xffff000012345678ull,
		.vector = 0x000, /* current EL with SP_EL0 */
		.cpsr_after = PSR_SSBS | DAIF | M_EL1H,
	};

	check_fault(*state, &c);
}

static void test_fetch_outside_ram_injects_abort(void **state)
{
	/* The kernel jumped outside RAM: an instruction abort at the target. */
	const struct fault_case c = {
		.insn = "br x9 to 0x1000 (EL1h)",
		.cpsr = M_EL1H,
		.sctlr = SCTLR_MMU_ON,
		.pc = 0x1000,
		.esr = EC(EC_IABT_LOW) | IL | FSC_TRANSLATION_L3,
		.far = 0x1000,
		.ipa = 0x1000,
		.esr_el1 = EC(EC_IABT_CUR) | IL | FSC_SEA,
		.far_el1 = 0x1000,
		.vector = 0x200,
		.cpsr_after = DAIF | M_EL1H,
	};

	check_fault(*state, &c);
}

static void test_other_class_injects_undef(void **state)
{
	/* A class HVF reports but we do not emulate (an SVE access trap): UNDEFINED. */
	const struct fault_case c = {
		.insn = "an SVE instruction (EL0)",
		.cpsr = PSR_C | M_EL0T,
		.sctlr = SCTLR_MMU_ON,
		.pc = 0x400100,
		.esr = EC(EC_SVE) | IL,
		.far = 0x400100,
		.ipa = 0,
		.esr_el1 = EC(EC_UNKNOWN) | IL,
		.far_el1 = POISON, /* FAR_EL1 is not written for an undefined instruction */
		.vector = 0x400,
		.cpsr_after = PSR_C | DAIF | M_EL1H,
	};

	check_fault(*state, &c);
}

/* A guest that keeps faulting keeps running, and the VMM's log stays bounded. */
static void test_fault_storm_keeps_running(void **state)
{
	struct rig *r = *state;
	static struct fake_step steps[41];
	struct hv_exit x;

	for (unsigned i = 0; i < 40; i++)
		steps[i] = (struct fake_step){ .what = "ldp x1, x2, [x0] again",
					       .guest = { PC(KERNEL_PC),
							  { FAKE_CPSR, M_EL1H },
							  SYS(HV_SYS_REG_VBAR_EL1, VBAR) },
					       .esr = EC(EC_DABT_LOW) | IL | FSC_TRANSLATION_L3,
					       .far = UART_BASE,
					       .ipa = UART_BASE };
	steps[40] = (struct fake_step){ .what = "hvc #0 (end of test)",
					.expect = { PC(VBAR + 0x200) },
					.guest = { PC(VBAR + 0x204) },
					.esr = ESR_HVC(0) };
	fake_script(MPIDR0, steps, 41);
	rig_vm(r, 1);
	rig_vcpu(r);
	assert_int_equal(hv->vcpu_run(r->vcpu, &x, &r->e), 0);
	assert_int_equal(x.reason, HV_EXIT_CALL);
	assert_int_equal(fake_steps_entered(MPIDR0), 41);
	assert_int_equal(fake_reg(MPIDR0, FAKE_SYS(HV_SYS_REG_ELR_EL1)), KERNEL_PC);
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
		T(test_cpu_on_after_off_fresh_state),
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
		T(test_isv0_store_injects_abort),
		T(test_isv0_load_from_el0_injects_abort),
		T(test_table_walk_outside_ram_injects_abort),
		T(test_fetch_outside_ram_injects_abort),
		T(test_other_class_injects_undef),
		T(test_fault_storm_keeps_running),
		T(test_unknown_exit_reason_error),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
